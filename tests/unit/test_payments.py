"""Money as integer fen, the payment contracts, the non-tax platform's signature schemes and
the reconcile matcher (no network)."""

import base64
import datetime as dt
import hashlib
import hmac

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import TypeAdapter, ValidationError

from adapters.nontax import wire
from contracts.events import Event, event_types
from contracts.payments import (
    MAX_FEN,
    Fen,
    PaymentChannel,
    PaymentNotified,
    PaymentOrderRequest,
    StatementLine,
    fen_of_yuan,
    yuan,
)
from govbus.reconcile import MATCHED, MismatchKind, reconcile

FEN = TypeAdapter(Fen)


@pytest.mark.parametrize(
    ("amount", "fen"),
    [("10", 1000), ("10.00", 1000), ("0.01", 1), ("0.1", 10), ("123456.78", 12345678)],
)
def test_a_case_fee_in_yuan_becomes_exactly_that_many_fen(amount, fen):
    from decimal import Decimal

    assert fen_of_yuan(Decimal(amount)) == fen


@pytest.mark.parametrize("amount", ["0.001", "10.005", "-1", "NaN", "Infinity", "1e12"])
def test_a_yuan_amount_that_is_not_whole_fen_is_refused_never_rounded(amount):
    from decimal import Decimal

    with pytest.raises(ValueError, match="whole number of fen"):
        fen_of_yuan(Decimal(amount))


@pytest.mark.parametrize("bad", [15.0, 15.5, "1500", -1, MAX_FEN + 1, True])
def test_money_is_a_bounded_integer_of_fen_and_nothing_else(bad):
    with pytest.raises(ValidationError):
        FEN.validate_python(bad)


def test_json_money_must_be_an_integer_too():
    assert FEN.validate_json("1500") == 1500
    with pytest.raises(ValidationError):
        FEN.validate_json("15.00")


@pytest.mark.parametrize(
    ("fen", "shown"), [(0, "0.00"), (5, "0.05"), (1505, "15.05"), (-30, "-0.30")]
)
def test_yuan_is_exact_display_only(fen, shown):
    assert yuan(fen) == shown


def order(**changes):
    fields = {
        "order_no": "FEE-1",
        "payer_code": "91350100MA2Y0AB1CB",
        "amount_fen": 1500,
        "bill_ref": "BILL-7",
        "description": "学费 tuition",
    } | changes
    return PaymentOrderRequest(**fields)


def test_an_order_takes_a_credit_code_or_citizen_id_as_payer_and_checks_it():
    assert order().payer_code == "91350100MA2Y0AB1CB"
    assert order(payer_code="350102199003071234").payer_code == "350102199003071234"
    with pytest.raises(ValidationError):
        order(payer_code="350102199003071235")  # check digit wrong


def test_an_order_is_for_an_item_or_a_bill():
    with pytest.raises(ValidationError, match="item_code"):
        order(bill_ref=None)


def test_payment_notified_is_a_registered_event_type():
    assert event_types()["payment.notified"] is PaymentNotified
    event = Event.create(
        "payment.notified",
        {
            "order_no": "FEE-1",
            "payment_code": "35012026112700000001",
            "amount_fen": 1500,
            "channel": "bank_card",
            "paid_at": "2026-11-27T10:00:00+08:00",
            "receipt_no": "FJ1",
            "platform_txn_id": "NT1",
            "notify_id": "n1",
        },
        source="nontax",
    )
    assert event.data["amount_fen"] == 1500
    with pytest.raises(ValidationError):
        Event.create("payment.notified", {**event.data, "payment_code": "123"}, source="nontax")


# --- the platform's signatures ------------------------------------------------------


def test_the_notification_signs_sorted_pairs_without_sign_sign_type_or_empty_values():
    fields = {"b": "2", "a": "1", "sign": "x", "sign_type": "RSA2", "empty": "", "c": "中文"}
    assert wire.notify_sign_content(fields) == "a=1&b=2&c=中文".encode()


def _keypair():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public.decode()


def test_an_rsa_notification_verifies_only_unaltered_and_under_the_platforms_key():
    private, public = _keypair()
    _, other_public = _keypair()
    fields = {"order_no": "FEE-1", "amount_fen": "1500", "notify_id": "n1"}
    signed = {**fields, "sign": wire.sign_notification(fields, private)}
    assert wire.notification_signature_matches(signed, public)
    assert not wire.notification_signature_matches(signed, other_public)
    assert not wire.notification_signature_matches({**signed, "amount_fen": "1"}, public)
    assert not wire.notification_signature_matches({**signed, "sign": "%%%"}, public)
    assert not wire.notification_signature_matches({**signed, "sign": ""}, public)
    assert not wire.notification_signature_matches(signed, "not a PEM")


def test_a_request_signature_is_hmac_sha256_over_the_documented_canonical_string():
    body = b'{"order_no":"FEE-1"}'
    canonical = (
        "POST\n/api/v1/orders/query\n1764201600\nabc\n" + hashlib.sha256(body).hexdigest()
    ).encode()
    expected = base64.b64encode(hmac.new(b"s3cret", canonical, hashlib.sha256).digest()).decode()
    assert wire.sign_request(
        "s3cret", "post", "/api/v1/orders/query", "1764201600", "abc", body
    ) == (expected)
    assert wire.request_signature_matches(
        "s3cret", "POST", "/api/v1/orders/query", "1764201600", "abc", body, expected
    )
    assert not wire.request_signature_matches(
        "s3cret", "POST", "/api/v1/orders/query", "1764201600", "abc", body + b" ", expected
    )


@pytest.mark.parametrize(
    "bad", ["2026-11-27T10:00:00", "2026-11-27 10:00", "2026-11-27 10:00:00+08:00"]
)
def test_platform_times_have_one_shape(bad):
    with pytest.raises(ValueError):
        wire.parse_platform_time(bad)
    # the platform's Beijing time, as the moment in UTC (govbus's one representation)
    moment = wire.parse_platform_time("2026-11-27 10:00:00")
    assert moment == dt.datetime(2026, 11, 27, 2, 0, tzinfo=dt.UTC)
    assert moment.utcoffset() == dt.timedelta(0)


# --- the reconcile matcher -----------------------------------------------------------------


def line(order_no, amount_fen=1500):
    return StatementLine(
        order_no=order_no,
        payment_code="35012026112700000001",
        platform_txn_id="NT" + order_no,
        amount_fen=amount_fen,
        channel=PaymentChannel.bank_card,
        paid_at=dt.datetime(2026, 11, 27, 10, tzinfo=wire.CST),
        receipt_no="FJ" + order_no,
    )


def test_the_matcher_reports_each_mismatch_class_once():
    ours = {"OK": 1500, "DIFF": 1500, "DUP": 1500, "MISSING": 800}
    statement = [line("OK"), line("DIFF", 1400), line("DUP"), line("DUP"), line("EXTRA", 2500)]
    found = [
        (m.kind, m.order_no, m.platform_amount_fen, m.local_amount_fen)
        for m in reconcile(statement, ours)
    ]
    assert found == [
        (MismatchKind.amount_differs, "DIFF", 1400, 1500),
        (MismatchKind.duplicate, "DUP", 1500, None),
        (MismatchKind.paid_there_not_here, "EXTRA", 2500, None),
        (MismatchKind.paid_here_not_there, "MISSING", None, 800),
    ]


def test_matching_marks_orders_in_place_and_adds_nothing_to_the_dict():
    ours = {f"O{i}": 100 + i for i in range(50)}
    assert list(reconcile((line(f"O{i}", 100 + i) for i in range(50)), ours)) == []
    assert len(ours) == 50 and set(ours.values()) == {MATCHED}


def test_an_unfinished_statement_reports_no_missing_orders():
    def broken():
        yield line("OK")
        raise RuntimeError("the statement broke off")

    seen = []
    with pytest.raises(RuntimeError):
        for mismatch in reconcile(broken(), {"OK": 1500, "LATER": 900}):
            seen.append(mismatch)
    assert seen == [], "nothing may be called missing before the statement is complete"


# --- amounts are ASCII digits only, wherever money enters --------------------------------

NOT_ASCII_AMOUNTS = ["１０００", "١٠٠٠", "¹⁰⁰⁰", "۱۰۰۰", "1000\u200b"]


@pytest.mark.parametrize("amount", NOT_ASCII_AMOUNTS)
def test_a_notification_amount_in_other_digits_is_refused_with_the_platforms_field(amount):
    import json
    import time
    from urllib.parse import urlencode

    from adapters.nontax import plugin as nontax
    from contracts.adapters import InboundRequest
    from contracts.errors import ValidationFailed
    from govbus.http import problem_for

    form = {
        "notify_id": "n1",
        "order_no": "FEE-1",
        "payment_code": "35012026112700000001",
        "amount_fen": amount,
        "trade_no": "NT1",
        "receipt_no": "FJ1",
        "paid_time": "2026-11-27 10:00:00",
        "trade_status": "TRADE_SUCCESS",
        "channel": "UNIONPAY",
    }
    request = InboundRequest(
        partner="nontax", body=urlencode(form).encode(), received_at=time.time()
    )
    with pytest.raises(ValidationFailed) as refused:
        nontax.govbus_webhook_parse(request)
    problem = json.loads(problem_for(refused.value).body)
    assert (problem["status"], problem["field"]) == (422, "amount_fen")
    assert "ASCII digits" in problem["detail"]


@pytest.mark.parametrize("amount", NOT_ASCII_AMOUNTS)
def test_a_statement_amount_in_other_digits_fails_the_statement(amount):
    from adapters.nontax import plugin as nontax
    from adapters.nontax.client import NontaxClient
    from contracts.errors import PartnerUnavailable

    row = {
        "order_no": "FEE-1",
        "payment_code": "35012026112700000001",
        "trade_no": "NT1",
        "amount_fen": amount,
        "channel": "UNIONPAY",
        "paid_time": "2026-11-27 10:00:00",
        "receipt_no": "FJ1",
    }
    with pytest.raises(PartnerUnavailable, match="malformed"):
        list(nontax._statement_lines(iter([row]), dt.date(2026, 11, 27)))
    line = [row[name] for name in wire.STATEMENT_HEADER]
    rows = iter([list(wire.STATEMENT_HEADER), line, [wire.STATEMENT_TRAILER, "1", "1000"]])
    with pytest.raises(PartnerUnavailable, match="bad amount"):
        list(NontaxClient._parse(rows, "2026-11-27"))
    good = [row[name] if name != "amount_fen" else "1000" for name in wire.STATEMENT_HEADER]
    trailer = iter([list(wire.STATEMENT_HEADER), good, [wire.STATEMENT_TRAILER, "1", amount]])
    with pytest.raises(PartnerUnavailable, match="bad trailer"):
        list(NontaxClient._parse(trailer, "2026-11-27"))


@pytest.mark.parametrize("amount", ["１０.００", "١٠.٠٠", "¹⁰", "10.0\u0660"])
def test_a_yuan_amount_in_a_request_body_is_ascii_digits_only(amount):
    from contracts.constrained import FeeAmount

    fee = TypeAdapter(FeeAmount)
    assert str(fee.validate_python("10.00")) == "10.00"
    with pytest.raises(ValidationError, match="ASCII digits"):
        fee.validate_python(amount)
    with pytest.raises(ValidationError, match="ASCII digits"):
        fee.validate_json(f'"{amount}"')


@pytest.mark.parametrize("amount", ["1000", "１０００", 1000.0])
def test_a_card_platforms_answer_carries_its_amount_as_a_json_integer_only(amount):
    from contracts.payments import CardReceipt

    receipt = {
        "payment_id": "CC1",
        "card_no": "3501001000000000001",
        "reference": "FEE-1",
        "balance_fen": 0,
        "paid_at": dt.datetime(2026, 11, 27, tzinfo=dt.UTC),
    }
    assert CardReceipt(**receipt, amount_fen=1000).amount_fen == 1000
    with pytest.raises(ValidationError):
        CardReceipt(**receipt, amount_fen=amount)
