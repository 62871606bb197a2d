from __future__ import annotations

import base64
import json
import time
import uuid

import boto3
import pytest
import requests

from contracts.signatures import standard_webhook_headers
from govbus.plugins import plugin_manager, register
from tests.fixtures import acme_adapter

ACME_SECRET = "whsec_" + base64.b64encode(b"acme test secret, 32 bytes long!").decode()


@pytest.fixture
def aws(stack):
    session = boto3.session.Session(region_name=stack.region)
    return {
        name: session.client(name, endpoint_url=stack.endpoint)
        for name in ("dynamodb", "sqs", "events", "secretsmanager", "ssm")
    }


@pytest.fixture
def acme(stack, aws):
    """The ACME test partner: registered in the functions' plugin manager, secret stored."""
    pm = plugin_manager()
    if pm.get_plugin("acme") is None:
        register(pm, "acme", acme_adapter)
    aws["secretsmanager"].create_secret(
        Name="govbus/dev/webhooks/acme", SecretString=json.dumps({"secrets": [ACME_SECRET]})
    )
    yield acme_adapter
    pm.unregister(name="acme")
    acme_adapter.state["health"] = "up"


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
    table = stack.resolver.refs["EventLogTable"]
    return aws["dynamodb"].scan(TableName=table)["Items"]


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

    hall = Address(
        name="福州市行政服务中心",
        phone="059187000000",
        province="福建省",
        city="福州市",
        district="鼓楼区",
        street="湖东路1号",
    )
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
        DeliveryRequested(request=WaybillRequest(case_id=case_id, sender=hall, receiver=home)),
        source="govbus.applications",
        subject=case_id,
    )
