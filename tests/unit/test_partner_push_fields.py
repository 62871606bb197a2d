"""A partner's push that breaks a contract is refused in the partner's own words.

The 422 a partner reads names the field it sent (EMS's ``op_desc``, the platform's
``paid_time``, a gauge's ``level``), never the contract's name for it (``note``,
``paid_at``, ``level_m``), and its detail is one sentence without pydantic's links.
What a push carries on into govbus's events is in UTC, whatever zone the partner used.
"""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import pytest

from adapters.ems import plugin as ems
from adapters.iot import wire as iot_wire
from adapters.nontax import plugin as nontax
from contracts.adapters import InboundRequest
from contracts.errors import ValidationFailed
from contracts.telemetry import TelemetryDomain
from govbus.http import problem_for


def _ems_request(**fields) -> InboundRequest:
    doc = {
        "push_id": "p1",
        "push_time": int(time.time()),
        "mail_no": "1100000000001",
        "logistics_order_no": "CASE-1",
        "op_code": "10",
        "op_time": "2026-11-27T09:30:00+08:00",
        "op_org_city": "福州市",
        "op_desc": "已收寄 accepted",
    }
    doc.update(fields)
    body = json.dumps(doc, ensure_ascii=False).encode()
    return InboundRequest(partner="ems", body=body, received_at=time.time())


def _problem(exc: Exception) -> dict:
    return json.loads(problem_for(exc).body)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"op_desc": "x" * 2_001}, "op_desc"),
        ({"op_time": "yesterday"}, "op_time"),
        ({"op_org_city": "福州\u202e市"}, "op_org_city"),
        ({"mail_no": "1" * 201}, "mail_no"),
    ],
)
def test_an_ems_push_that_breaks_the_contract_is_422_naming_emss_field(changes, field):
    with pytest.raises(ValidationFailed) as refused:
        ems.govbus_webhook_parse(_ems_request(**changes))
    problem = _problem(refused.value)
    assert problem["status"] == 422
    assert problem["field"] == field
    assert problem["detail"].startswith(f"{field}: ")
    assert "pydantic" not in problem["detail"]


def test_an_ems_tracking_time_in_beijing_time_reaches_the_bus_in_utc():
    (event,) = ems.govbus_webhook_parse(_ems_request(op_time="2026-11-27T09:30:00+08:00"))
    assert event.data["update"]["occurred_at"] == "2026-11-27T01:30:00Z"


def _notification(**fields) -> InboundRequest:
    form = {
        "notify_id": "n1",
        "notify_time": "2026-11-27 10:00:05",
        "order_no": "FEE-1",
        "payment_code": "35012026112700000001",
        "amount_fen": "1500",
        "trade_no": "NT1",
        "receipt_no": "FJ1",
        "paid_time": "2026-11-27 10:00:00",
        "trade_status": "TRADE_SUCCESS",
        "channel": "UNIONPAY",
    }
    form.update(fields)
    return InboundRequest(partner="nontax", body=urlencode(form).encode(), received_at=time.time())


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"payment_code": "123"}, "payment_code"),
        ({"paid_time": "2026-11-27T10:00:00+08:00"}, "paid_time"),
        ({"amount_fen": "15.00"}, "amount_fen"),
    ],
)
def test_a_payment_notification_that_breaks_the_contract_names_the_platforms_field(changes, field):
    with pytest.raises(ValidationFailed) as refused:
        nontax.govbus_webhook_parse(_notification(**changes))
    problem = _problem(refused.value)
    assert (problem["status"], problem["field"]) == (422, field)
    assert "pydantic" not in problem["detail"] and "\n" not in problem["detail"]


def test_a_payment_paid_in_beijing_time_is_announced_in_utc():
    (event,) = nontax.govbus_webhook_parse(_notification(paid_time="2026-11-27 10:00:00"))
    assert event.data["paid_at"] == "2026-11-27T02:00:00Z"


def test_a_gauge_reading_out_of_range_names_the_gauges_field_not_the_contracts():
    with pytest.raises(ValidationFailed) as refused:
        iot_wire.to_reading(
            TelemetryDomain.water,
            "g1",
            json.dumps({"ts": 1_764_000_000_000, "level": 9999}).encode(),
        )
    assert refused.value.field == "level"
    assert str(refused.value).startswith("level: ")


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (
            b"<a>" * 300 + b"</a>" * 300,
            "the province push is refused: XML nested deeper than 256 levels (line 1)",
        ),
        (
            b"<Envelope>\n<b></Envelope>",
            "the province push is refused: not well-formed XML at line 2, column 15",
        ),
    ],
    ids=["300 levels", "mismatched tags"],
)
def test_a_province_push_that_is_not_usable_xml_is_400_in_one_plain_sentence(body, detail):
    from adapters.province import plugin as province
    from contracts.errors import InvalidRequest

    with pytest.raises(InvalidRequest) as refused:
        province.govbus_webhook_parse(
            InboundRequest(partner="province", body=body, received_at=time.time())
        )
    problem = _problem(refused.value)
    assert (problem["status"], problem["detail"]) == (400, detail)
