"""Payment notifications of the non-tax platform through the real gateway: the platform's
RSA-signed form posts to /webhooks/nontax become one payment.notified event each, and a
forged, altered, stale or replayed notification is refused and publishes nothing."""

import base64
import datetime as dt
import json
import uuid
from urllib.parse import parse_qsl, urlencode

import pytest
import requests

from adapters.nontax import wire
from adapters.nontax.simulator import DEFAULT_RETRY_SCHEDULE
from contracts.adapters import CallContext, Faults
from contracts.payments import PaymentOrderRequest
from govbus.plugins import call, plugin_manager
from tests.conftest import wait_for
from tests.integration.conftest import archived, post_webhook

FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


@pytest.fixture
def nontax(stack):
    simulator = stack.simulators["nontax"]
    simulator.set_faults(Faults())
    simulator.set_retry_schedule([0.2, 0.5, 1.0])
    yield simulator
    # no notification of this test may reach the next one's (reset) stack
    simulator.cancel_pending()
    simulator.set_faults(Faults())
    simulator.set_retry_schedule(DEFAULT_RETRY_SCHEDULE)


def create_order(order_no: str, amount_fen: int = 1500):
    """Through the functions' own plugin manager, as the payments function will."""
    return call(
        plugin_manager(),
        "nontax",
        "govbus_payment_create_order",
        request=PaymentOrderRequest(
            order_no=order_no,
            payer_code="350102199003071234",
            amount_fen=amount_fen,
            item_code="11350100MB0000001X-0001",
            description="营业执照工本费 licence fee",
        ),
        ctx=CallContext(correlation_id=order_no, idempotency_key=order_no),
    )


def notify(stack, body: bytes, headers=FORM) -> requests.Response:
    return requests.post(f"{stack.url}/webhooks/nontax", data=body, headers=headers, timeout=10)


def published_payments(stack, aws) -> list[dict]:
    """payment.notified events archived once a later marker event is: moto delivers in
    order, so anything a request had published before the marker is archived by then."""
    marker = f"marker-{uuid.uuid4().hex}"
    assert post_webhook(stack.url, json.dumps({"note": marker}).encode()).status_code == 202
    items = wait_for(
        lambda: (lambda got: got if any(marker in i["envelope"]["S"] for i in got) else None)(
            archived(aws, stack)
        ),
        what="the marker event",
        # past a long poll begun before the stack was reset (up to 20 s)
        timeout=60,
    )
    envelopes = [json.loads(i["envelope"]["S"]) for i in items]
    return [e for e in envelopes if e["type"] == "payment.notified"]


def test_a_paid_order_is_published_once_though_the_platform_notifies_twice(
    stack, aws, acme, nontax
):
    order = create_order("FEE-N1")
    nontax.set_faults(Faults(duplicate_pushes=True))
    nontax.pay(order.order_no, "citizen_card", card_no="3501001000000000001")

    notification = wait_for(
        lambda: next(
            (n for n in nontax.notifications.values() if n.order_no == "FEE-N1" and n.acked),
            None,
        ),
        what="the platform to see its notification acknowledged",
    )
    assert notification.statuses == [200, 200], "sent twice, acknowledged twice"
    events = published_payments(stack, aws)
    assert len(events) == 1
    data = events[0]["data"]
    assert (data["order_no"], data["amount_fen"], data["channel"]) == (
        "FEE-N1",
        1500,
        "citizen_card",
    )
    assert data["payment_code"] == order.payment_code and data["receipt_no"]
    assert events[0]["source"] == "govbus.partner.nontax"


def test_notifications_held_back_arrive_out_of_order_and_each_is_published_once(
    stack, aws, acme, nontax
):
    for order_no in ("FEE-O1", "FEE-O2"):
        create_order(order_no)
    nontax.set_faults(Faults(out_of_order=True, duplicate_pushes=True))
    nontax.pay("FEE-O1", "bank_card")
    nontax.pay("FEE-O2", "mobile_wallet")
    assert [nontax.notifications[i].order_no for i in nontax.release()] == ["FEE-O2", "FEE-O1"]
    wait_for(
        lambda: (
            sum(n.acked for n in nontax.notifications.values() if n.order_no.startswith("FEE-O"))
            == 2
        ),
        what="both notifications acknowledged",
    )
    published = sorted(e["data"]["order_no"] for e in published_payments(stack, aws))
    assert published == ["FEE-O1", "FEE-O2"]


def test_a_notification_the_bus_fails_to_take_is_retried_until_acknowledged(
    stack, aws, acme, nontax
):
    create_order("FEE-R1")
    push_url = nontax.push_url
    nontax.push_url = f"{stack.url}/webhooks/nobody"  # 404: not acknowledged
    try:
        nontax.pay("FEE-R1", "bank_card")
        notification = wait_for(
            lambda: next((n for n in nontax.notifications.values() if n.order_no == "FEE-R1"), None)
        )
        wait_for(lambda: notification.attempts >= 1, what="the first attempt")
    finally:
        nontax.push_url = push_url
    wait_for(lambda: notification.acked, what="a retry to be acknowledged")
    assert notification.statuses[0] == 404 and notification.statuses[-1] == 200
    assert [e["data"]["order_no"] for e in published_payments(stack, aws)] == ["FEE-R1"]


def _fields(body: bytes) -> dict[str, str]:
    return dict(parse_qsl(body.decode()))


def _forged(nontax, body: bytes) -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = other.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fields = {k: v for k, v in _fields(body).items() if k not in ("sign", "sign_type")}
    return urlencode(
        {**fields, "sign_type": "RSA2", "sign": wire.sign_notification(fields, pem)}
    ).encode()


def _altered(nontax, body: bytes) -> bytes:
    fields = _fields(body)
    fields["amount_fen"] = "1"  # the signature stays the platform's, for 1500 fen
    return urlencode(fields).encode()


def _stale(nontax, body: bytes) -> bytes:
    fields = {k: v for k, v in _fields(body).items() if k not in ("sign", "sign_type")}
    three_hours_ago = dt.datetime.now(wire.CST) - dt.timedelta(hours=3)
    fields["notify_time"] = wire.platform_time(three_hours_ago)
    return nontax.signed_body(fields)  # genuinely signed, but too old


def _other_app(nontax, body: bytes) -> bytes:
    fields = {k: v for k, v in _fields(body).items() if k not in ("sign", "sign_type")}
    fields["app_id"] = "someone-else"
    return nontax.signed_body(fields)  # genuinely signed, but to another merchant


def _unsigned(nontax, body: bytes) -> bytes:
    return urlencode({k: v for k, v in _fields(body).items() if k != "sign"}).encode()


def _bad_base64(nontax, body: bytes) -> bytes:
    fields = _fields(body)
    fields["sign"] = "not base64 at all!"
    return urlencode(fields).encode()


@pytest.mark.parametrize(
    ("make", "slug"),
    [
        (_forged, "invalid-signature"),
        (_altered, "invalid-signature"),
        (_unsigned, "invalid-signature"),
        (_bad_base64, "invalid-signature"),
        (_stale, "stale-timestamp"),
        (_other_app, "invalid-signature"),
    ],
    ids=["forged", "altered", "unsigned", "bad-base64", "stale", "another-app-id"],
)
def test_refused_notifications_get_401_and_publish_nothing(stack, aws, acme, nontax, make, slug):
    _, genuine = nontax.sample_push()
    answer = notify(stack, make(nontax, genuine))
    assert answer.status_code == 401, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"].endswith(slug) and answer.json()["detail"]
    if make is _other_app:
        assert "app_id 'someone-else'" in answer.json()["detail"]
    audited = aws["dynamodb"].scan(TableName="govbus-local-audit")["Items"]
    assert [(a["action"]["S"], a["actor"]["S"]) for a in audited] == [
        ("webhook.refused", "partner:nontax")
    ]
    assert published_payments(stack, aws) == []


def test_a_json_body_is_not_taken_for_a_notification(stack, aws, acme, nontax):
    _, genuine = nontax.sample_push()
    answer = notify(
        stack, json.dumps(_fields(genuine)).encode(), headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 401
    assert published_payments(stack, aws) == []


def test_a_replayed_notification_gets_the_original_answer_and_is_not_published_again(
    stack, aws, acme, nontax
):
    _, genuine = nontax.sample_push()
    first = notify(stack, genuine)
    again = notify(stack, genuine)
    # the platform's own acknowledgement, the original answer to the repeat too
    assert first.status_code == again.status_code == 200, (first.text, again.text)
    assert first.text == again.text == "success"
    # the same notify_id with other (genuinely signed) content: refused as a reused id
    fields = {k: v for k, v in _fields(genuine).items() if k not in ("sign", "sign_type")}
    fields["amount_fen"] = "1600"
    reused = notify(stack, nontax.signed_body(fields))
    assert reused.status_code == 409 and "different body" in reused.json()["detail"]
    published = published_payments(stack, aws)
    assert [(e["data"]["notify_id"], e["data"]["amount_fen"]) for e in published] == [
        (fields["notify_id"], 1500)
    ]


def test_the_platforms_signature_verifies_with_the_stored_public_key_only(stack, aws, nontax):
    stored = json.loads(
        aws["secretsmanager"].get_secret_value(SecretId="govbus/dev/webhooks/nontax")[
            "SecretString"
        ]
    )
    assert stored["secrets"] == [nontax.public_key_pem]
    assert "PRIVATE" not in json.dumps(stored)
    _, genuine = nontax.sample_push()
    signature = base64.b64decode(_fields(genuine)["sign"])
    assert len(signature) == 256, "RSA-2048 SHA256withRSA"


def _stored_nontax_secret(aws) -> dict:
    secret = aws["secretsmanager"].get_secret_value(SecretId="govbus/dev/webhooks/nontax")
    return json.loads(secret["SecretString"])


def test_rotating_the_nontax_key_without_the_platforms_new_public_key_is_refused(
    stack, aws, nontax, capsys, tmp_path
):
    """A made-up HMAC secret in place of the platform's RSA public key would leave every
    payment notification refused once the previous key is dropped."""
    from govbus_dev.cli import main as govbus

    before = _stored_nontax_secret(aws)
    assert govbus(["webhooks", "rotate", "nontax", "--stack", stack.stack_name]) == 2
    err = capsys.readouterr().err
    assert "--public-key-file" in err and len(err.strip().splitlines()) == 1
    not_a_key = tmp_path / "secret.txt"
    not_a_key.write_text("whsec_" + base64.b64encode(b"x" * 32).decode())
    rotate = ["webhooks", "rotate", "nontax", "--stack", stack.stack_name]
    assert govbus([*rotate, "--public-key-file", str(not_a_key)]) == 2
    assert "no PEM public key" in capsys.readouterr().err
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    ec_key = tmp_path / "ec.pem"  # a public key, but one no RSA2 signature verifies with
    ec_key.write_bytes(
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    assert govbus([*rotate, "--public-key-file", str(ec_key)]) == 2
    assert "RSA of at least 2048 bits" in capsys.readouterr().err
    assert _stored_nontax_secret(aws) == before
    _, genuine = nontax.sample_push()
    assert notify(stack, genuine).status_code == 200


def test_the_platforms_new_public_key_is_staged_next_to_the_old_until_dropped(
    stack, aws, nontax, capsys, tmp_path
):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from govbus_dev.cli import main as govbus

    new_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = tmp_path / "nontax-2027.pem"
    public_pem.write_bytes(
        new_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    private_pem = new_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )

    def signed_with_new_key() -> bytes:
        _, sample = nontax.sample_push()
        fields = {k: v for k, v in _fields(sample).items() if k not in ("sign", "sign_type")}
        return urlencode(
            {**fields, "sign_type": "RSA2", "sign": wire.sign_notification(fields, private_pem)}
        ).encode()

    rotate = ["webhooks", "rotate", "nontax", "--stack", stack.stack_name]
    assert govbus([*rotate, "--public-key-file", str(public_pem)]) == 0
    assert "new public key sha256:" in capsys.readouterr().out
    stored = _stored_nontax_secret(aws)
    assert stored["previous_secret"] == nontax.public_key_pem
    assert stored["secret"] == public_pem.read_text()
    stack.clear_caches()
    _, by_old_key = nontax.sample_push()
    assert notify(stack, by_old_key).status_code == 200
    assert notify(stack, signed_with_new_key()).status_code == 200

    assert govbus(["webhooks", "drop-previous", "nontax", "--stack", stack.stack_name]) == 0
    stack.clear_caches()
    assert notify(stack, signed_with_new_key()).status_code == 200
    _, by_old_key = nontax.sample_push()
    assert notify(stack, by_old_key).status_code == 401
