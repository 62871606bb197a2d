"""The EMS adapter's hook implementations (registered as entry point ``ems``)."""

from __future__ import annotations

import datetime as _dt
from typing import Any

from adapters.ems import wire
from adapters.ems.client import EmsClient, ping_endpoint
from adapters.ems.config import EmsConfig
from contracts import hookimpl
from contracts.adapterkit import AdapterState, from_wire
from contracts.adapters import (
    AdapterFamily,
    AdapterInfo,
    CallContext,
    InboundRequest,
    PingResult,
)
from contracts.constrained import delivery_id, loads_bounded
from contracts.delivery import TrackingUpdate, TrackingUpdated, Waybill, WaybillRequest
from contracts.errors import (
    InvalidRequest,
    PartnerUnavailable,
    SignatureInvalid,
    StaleTimestamp,
    ValidationFailed,
)
from contracts.events import Event
from contracts.signatures import TOLERANCE_SECONDS

NAME = "ems"
VERSION = "1.0.0"


_state: AdapterState[EmsConfig, EmsClient] = AdapterState("EMS", EmsConfig)


def client() -> EmsClient:
    """Built lazily, once per configuration, from the credentials the partner issued."""
    return _state.client(lambda config, creds: EmsClient(config, creds["app_key"], creds["secret"]))


# --- lifecycle ------------------------------------------------------------------


@hookimpl
def govbus_adapter_info() -> AdapterInfo:
    return AdapterInfo(
        name=NAME,
        family=AdapterFamily.delivery,
        title="EMS 中国邮政速递物流",
        version=VERSION,
        secret_name=_state.config.secret_name,
    )


@hookimpl
def govbus_adapter_configure(settings, get_secret) -> None:
    _state.configure(settings, get_secret)


@hookimpl
def govbus_ping() -> PingResult:
    # the ping needs no credentials: health can run without access to secrets
    return _state.ping(NAME, lambda: ping_endpoint(str(_state.config.endpoint)))


@hookimpl
def govbus_simulator():
    from adapters.ems.simulator import EmsSimulator

    return EmsSimulator()


# --- tracking pushes ----------------------------------------------------------------


@hookimpl
def govbus_webhook_verify(request: InboundRequest, secrets: list[str]) -> str:
    offered = request.headers.get("x-signature", "")
    if not offered:
        raise SignatureInvalid("missing X-Signature header")
    if not any(wire.signature_matches(request.body, s, offered) for s in secrets):
        raise SignatureInvalid("X-Signature does not match the body under any active secret")
    # the signature holds: the body is EMS's own, so its fields can be trusted
    doc = _push_document(request.body)
    try:
        push_time = int(doc["push_time"])
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidRequest(
            "an EMS push needs push_time (unix seconds)", field="push_time"
        ) from exc
    raw_id = doc.get("push_id")
    # EMS numbers its pushes; an int id is its own, anything else must be a string id
    push_id = delivery_id(
        str(raw_id) if isinstance(raw_id, int) and not isinstance(raw_id, bool) else raw_id,
        field="push_id",
    )
    if abs(request.received_at - push_time) > TOLERANCE_SECONDS:
        raise StaleTimestamp(
            f"push_time is {int(abs(request.received_at - push_time))} s off; "
            f"at most {TOLERANCE_SECONDS} s allowed"
        )
    return push_id


def _push_document(body: bytes) -> dict[str, Any]:
    doc = loads_bounded(body)
    if not isinstance(doc, dict):
        raise InvalidRequest("an EMS push is a JSON object", field="(body)")
    return doc


@hookimpl
def govbus_webhook_parse(request: InboundRequest) -> list[Event]:
    doc = _push_document(request.body)
    for field in ("mail_no", "logistics_order_no", "op_code", "op_time"):
        if not doc.get(field):
            raise InvalidRequest(f"the EMS push has no {field}", field=field)
    state = wire.OP_CODES.get(str(doc["op_code"]))
    if state is None:
        raise ValidationFailed(f"unknown EMS op_code {doc['op_code']!r}", field="op_code")
    update = from_wire(
        TrackingUpdate,
        {
            "waybill_no": doc["mail_no"],
            "case_id": doc["logistics_order_no"],
            "state": state,
            "occurred_at": doc["op_time"],
            "location": doc.get("op_org_city", ""),
            "note": doc.get("op_desc", ""),
        },
        wire.PUSH_FIELDS,
    )
    # govbus's events carry UTC; EMS sends Beijing time (an op_time without an offset is)
    at = update.occurred_at
    at = (at if at.tzinfo else at.replace(tzinfo=wire.CST)).astimezone(_dt.UTC)
    update = update.model_copy(update={"occurred_at": at})
    return [
        Event.create(
            "delivery.tracking_updated",
            TrackingUpdated(carrier=NAME, update=update),
            source=NAME,
            subject=update.case_id,
        )
    ]


# --- outbound -------------------------------------------------------------------


@hookimpl
def govbus_delivery_create_waybill(request: WaybillRequest, ctx: CallContext) -> Waybill:
    data = client().call(
        "waybill/create",
        {
            # one waybill per case: EMS answers a repeated order with the same waybill
            "logistics_order_no": request.case_id,
            "request_id": ctx.idempotency_key,
            "sender": wire.address_out(request.sender),
            "receiver": wire.address_out(request.receiver),
            "cargo": {"name": request.contents, "weight": request.weight_grams},
        },
        correlation_id=ctx.correlation_id,
        timeout=ctx.timeout_seconds,
    )
    try:
        return Waybill(case_id=request.case_id, waybill_no=str(data["mail_no"]), carrier=NAME)
    except KeyError as exc:
        raise PartnerUnavailable("EMS created a waybill but sent no mail_no") from exc


@hookimpl
def govbus_delivery_cancel_waybill(waybill_no: str, ctx: CallContext) -> Waybill:
    data = client().call(
        "waybill/cancel",
        {"mail_no": waybill_no},
        correlation_id=ctx.correlation_id,
        timeout=ctx.timeout_seconds,
    )
    return Waybill(
        case_id=str(data.get("logistics_order_no", "")),
        waybill_no=waybill_no,
        carrier=NAME,
        state="cancelled",
    )


@hookimpl
def govbus_delivery_track(waybill_no: str, ctx: CallContext) -> list[TrackingUpdate]:
    data = client().call(
        "waybill/trace",
        {"mail_no": waybill_no},
        correlation_id=ctx.correlation_id,
        timeout=ctx.timeout_seconds,
    )
    try:
        return [
            TrackingUpdate(
                waybill_no=waybill_no,
                case_id=str(data["logistics_order_no"]),
                state=wire.OP_CODES[str(t["op_code"])],
                occurred_at=t["op_time"],
                location=t.get("op_org_city", ""),
                note=t.get("op_desc", ""),
            )
            for t in data["traces"]
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise PartnerUnavailable("EMS sent a malformed trace") from exc
