"""Integration fixtures over the session's local stack (one per xdist worker).

Isolation: the stack is started and the template provisioned once per session. ``stack``
gives each test the emulator as just provisioned: it restores a snapshot (milliseconds)
instead of resetting moto and provisioning again, so every table, queue, secret and
rule a test wrote is gone, and counting tests (archived events, queue messages, DLQs,
audit entries) still see an empty world. ``stack.seed()`` right after that restores a
snapshot of the demo data, loaded once per session. Simulators are not reset (a fixture
such as ``ems``/``ca`` clears their faults); a fixture that writes to the emulator
(``acme``'s secret) puts or creates, so it may run on any state. A test that needs no
emulator state asks for ``local_stack_session`` and pays nothing.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from pathlib import Path

import pytest
import requests

from contracts.signatures import standard_webhook_headers

ACME_SECRET = "whsec_" + base64.b64encode(b"acme test secret, 32 bytes long!").decode()


@pytest.fixture
def aws(stack, boto_session):
    return {
        name: boto_session.client(name, endpoint_url=stack.endpoint)
        for name in ("dynamodb", "sqs", "events", "secretsmanager", "ssm")
    }


class AcmePartner:
    """The ACME test partner as the functions' workers see it."""

    def __init__(self, health_file: Path) -> None:
        self.health_file = health_file

    def set_health(self, status: str) -> None:
        self.health_file.write_text(status, encoding="utf-8")


@pytest.fixture
def acme(stack, aws, acme_health_file):
    """The ACME test partner: its push secret stored, its health up.

    The session's stack loads the adapter into every function without an allow-list
    (``GOVBUS_DEV_ADAPTERS``); the test changes its health through a file.
    """
    sm = aws["secretsmanager"]
    value = json.dumps({"secrets": [ACME_SECRET]})
    try:  # put or create: the fixture may meet a state where the secret exists
        sm.put_secret_value(SecretId="govbus/dev/webhooks/acme", SecretString=value)
    except sm.exceptions.ResourceNotFoundException:
        sm.create_secret(Name="govbus/dev/webhooks/acme", SecretString=value)
    partner = AcmePartner(acme_health_file)
    partner.set_health("up")
    yield partner
    partner.set_health("up")


def post_webhook(
    url: str,
    body: bytes,
    *,
    msg_id: str | None = None,
    secret: str = ACME_SECRET,
    timestamp: int | None = None,
    headers: dict | None = None,
) -> requests.Response:
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    signed = standard_webhook_headers(secret, msg_id, timestamp or int(time.time()), body)
    signed["content-type"] = "application/json"
    signed.update(headers or {})
    return requests.post(f"{url}/webhooks/acme", data=body, headers=signed, timeout=10)


def archived(aws, stack) -> list[dict]:
    """Every archived event, page by page (a scan answers at most 1 MB at a time)."""
    table = stack.resolver.refs["EventLogTable"]
    pages = aws["dynamodb"].get_paginator("scan").paginate(TableName=table, ConsistentRead=True)
    return [item for page in pages for item in page["Items"]]


@pytest.fixture
def ems(stack):
    """The EMS simulator of the running stack, faults cleared before and after."""
    from contracts.adapters import Faults

    simulator = stack.simulators["ems"]
    simulator.set_faults(Faults())
    yield simulator
    simulator.set_faults(Faults())


def put_event(aws, stack, event) -> None:
    """Publish an envelope on the bus as a core function would."""
    answer = aws["events"].put_events(
        Entries=[
            {
                "EventBusName": stack.resolver.refs["EventBus"],
                "Source": event.source,
                "DetailType": event.type,
                "Detail": event.model_dump_json(),
            }
        ]
    )
    assert answer["FailedEntryCount"] == 0


def delivery_requested(case_id: str):
    from contracts.delivery import Address, DeliveryRequested, WaybillRequest
    from contracts.events import Event
    from govbus.applications import HALL  # the sender the platform itself uses

    home = Address(
        name="林小姐",
        phone="13812345678",
        province="福建省",
        city="福州市",
        district="台江区",
        street="五一中路88号",
    )
    return Event.create(
        "delivery.requested",
        DeliveryRequested(request=WaybillRequest(case_id=case_id, sender=HALL, receiver=home)),
        source="govbus.applications",
        subject=case_id,
    )


CITIZEN = "350102199003071234"
OTHER_CITIZEN = "11010519491231002X"


def _agency_code() -> str:
    from contracts.identity import credit_code_check_char

    first17 = "11350100MB0000001"
    return first17 + credit_code_check_char(first17)


@pytest.fixture
def ca(stack):
    from contracts.adapters import Faults

    simulator = stack.simulators["ca"]
    simulator.set_faults(Faults())
    return simulator


def login(stack, issued, *, tamper: bool = False) -> requests.Response:
    """The certificate login a citizen's client performs: challenge, sign, log in."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    challenge = requests.post(f"{stack.url}/auth/challenge", timeout=10)
    assert challenge.status_code == 201, challenge.text
    nonce = challenge.json()["nonce"]
    signature = issued.private_key.sign(
        nonce.encode() + (b"x" if tamper else b""), ec.ECDSA(hashes.SHA256())
    )
    return requests.post(
        f"{stack.url}/auth/login",
        json={
            "nonce": nonce,
            "certificate_pem": issued.chain_pem,
            "signature": base64.b64encode(signature).decode(),
            "algorithm": "ECDSA-P256-SHA256",
        },
        timeout=10,
    )


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def citizen_token(stack, ca):
    answer = login(stack, ca.issue(CITIZEN, "林小姐"))
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


def department_token(stack, scopes: list[str], agency: str | None = None) -> str:
    import contextlib
    import io

    from govbus_dev.cli import main as govbus

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert (
            govbus(
                [
                    "clients",
                    "create",
                    "--stack",
                    stack.stack_name,
                    "--agency",
                    agency or _agency_code(),
                    *[arg for scope in scopes for arg in ("--scope", scope)],
                ]
            )
            == 0
        )
    # background functions log to stdout too: pick the two lines the command printed
    lines = dict(
        line.split(None, 1)
        for line in out.getvalue().splitlines()
        if line.startswith(("client_id ", "client_secret "))
    )
    answer = requests.post(
        f"{stack.url}/auth/token",
        json={"client_id": lines["client_id"], "client_secret": lines["client_secret"]},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


def queue_drained(aws, stack, logical: str) -> bool:
    """Whether the queue ``logical`` (a template id) holds no message, visible or not."""
    attrs = aws["sqs"].get_queue_attributes(
        QueueUrl=stack.resolver.refs[logical],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attrs["ApproximateNumberOfMessages"])
        + int(attrs["ApproximateNumberOfMessagesNotVisible"])
        == 0
    )
