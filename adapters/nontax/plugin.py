"""The non-tax platform adapter's hook implementations (registered as entry point ``nontax``)."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

from pydantic import ValidationError

from adapters.nontax import wire
from adapters.nontax.client import NontaxClient, ping_endpoint
from adapters.nontax.config import NontaxConfig
from contracts import hookimpl
from contracts.adapterkit import AdapterState, from_wire
from contracts.adapters import (
    AdapterFamily,
    AdapterInfo,
    CallContext,
    InboundRequest,
    PingResult,
    WebhookAck,
    WebhookKey,
)
from contracts.errors import (
    InvalidRequest,
    PartnerUnavailable,
    SignatureInvalid,
    StaleTimestamp,
    ValidationFailed,
)
from contracts.events import Event
from contracts.payments import (
    PaymentNotified,
    PaymentOrder,
    PaymentOrderRequest,
    RefundRequest,
    RefundResult,
    StatementLine,
    fen_of_text,
)

NAME = "nontax"
VERSION = "1.0.0"
TRADE_SUCCESS = "TRADE_SUCCESS"


_state: AdapterState[NontaxConfig, NontaxClient] = AdapterState(
    "the non-tax platform", NontaxConfig
)


def client() -> NontaxClient:
    """Built lazily, once per configuration, from the credentials the partner issued."""
    return _state.client(
        lambda config, creds: NontaxClient(config, creds["app_id"], creds["app_secret"])
    )


# --- lifecycle ------------------------------------------------------------------


@hookimpl
def govbus_adapter_info() -> AdapterInfo:
    return AdapterInfo(
        name=NAME,
        family=AdapterFamily.payment,
        title="财政非税收入支付平台 non-tax payment platform",
        version=VERSION,
        secret_name=_state.config.secret_name,
        # the platform counts a notification as delivered only on HTTP 200 "success"
        webhook_ack=WebhookAck(
            status=200, content_type="text/plain; charset=utf-8", body="success"
        ),
        # the push secret holds the platform's RSA public key, not a shared secret
        webhook_key=WebhookKey.public_key,
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
    from adapters.nontax.simulator import NontaxSimulator

    return NontaxSimulator()


# --- payment notifications ----------------------------------------------------------


def _form_fields(body: bytes) -> dict[str, str]:
    """The notification's fields; a body that is not one unambiguous form is refused."""
    try:
        pairs = parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, strict_parsing=True, errors="strict"
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise SignatureInvalid("the notification is not a form that can be verified") from exc
    fields = dict(pairs)
    if len(fields) != len(pairs):
        raise SignatureInvalid("the notification repeats a field: its meaning is ambiguous")
    return fields


@hookimpl
def govbus_webhook_verify(request: InboundRequest, secrets: list[str]) -> str:
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("application/x-www-form-urlencoded"):
        # the platform signs form fields; what is not declared a form is not its notification
        raise SignatureInvalid(
            "a notification is a signed application/x-www-form-urlencoded form; "
            f"this request is {content_type or 'without a content type'}"
        )
    fields = _form_fields(request.body)
    if not fields.get("sign"):
        raise SignatureInvalid("the notification carries no sign field")
    if fields.get("sign_type", "RSA2") != "RSA2":
        raise SignatureInvalid(f"sign_type {fields['sign_type']!r} is not accepted; only RSA2")
    if not any(wire.notification_signature_matches(fields, pem) for pem in secrets):
        raise SignatureInvalid(
            "the notification's RSA signature does not verify under the platform's public key"
        )
    # the signature holds: the fields are the platform's own and can be trusted
    app_id = fields.get("app_id", "")
    if app_id != _state.config.app_id:
        # the platform's own words, but to another merchant: not a payment to the bus
        raise SignatureInvalid(
            f"the notification is addressed to app_id {app_id!r}, not to this bus's app id"
            if app_id
            else "the notification names no app_id"
        )
    notify_id = fields.get("notify_id", "")
    if not notify_id:
        raise InvalidRequest("a notification needs a notify_id", field="notify_id")
    try:
        sent = wire.parse_platform_time(fields.get("notify_time", "")).timestamp()
    except ValueError as exc:
        raise InvalidRequest(
            "notify_time must be 'YYYY-MM-DD HH:MM:SS' (Beijing time)", field="notify_time"
        ) from exc
    window = _state.config.notify_window_seconds
    if abs(request.received_at - sent) > window:
        raise StaleTimestamp(
            f"notify_time is {int(abs(request.received_at - sent))} s off; at most {window} s allowed"
        )
    return notify_id


@hookimpl
def govbus_webhook_parse(request: InboundRequest) -> list[Event]:
    fields = _form_fields(request.body)
    for field in ("order_no", "payment_code", "amount_fen", "trade_no", "receipt_no", "paid_time"):
        if not fields.get(field):
            raise InvalidRequest(f"the notification has no {field}", field=field)
    status = fields.get("trade_status", "")
    if status != TRADE_SUCCESS:
        raise ValidationFailed(
            f"trade_status {status!r} is not a payment this bus understands", field="trade_status"
        )
    channel = wire.CHANNELS.get(fields.get("channel", ""))
    if channel is None:
        raise ValidationFailed(f"unknown channel {fields.get('channel')!r}", field="channel")
    try:
        paid_at = wire.parse_platform_time(fields["paid_time"])
    except ValueError:
        raise ValidationFailed(
            "paid_time must be 'YYYY-MM-DD HH:MM:SS' (Beijing time)", field="paid_time"
        ) from None
    try:
        amount_fen = fen_of_text(fields["amount_fen"])
    except ValueError:
        raise ValidationFailed(
            "amount_fen must be a whole number of fen in the ASCII digits 0-9",
            field="amount_fen",
        ) from None
    notified = from_wire(
        PaymentNotified,
        {
            "order_no": fields["order_no"],
            "payment_code": fields["payment_code"],
            "amount_fen": amount_fen,
            "channel": channel,
            "paid_at": paid_at,
            "receipt_no": fields["receipt_no"],
            "platform_txn_id": fields["trade_no"],
            "notify_id": fields["notify_id"],
        },
        wire.NOTIFY_FIELDS,
    )
    return [
        Event.create(
            "payment.notified",
            notified,
            source=NAME,
            subject=notified.order_no,
        )
    ]


# --- outbound -------------------------------------------------------------------


def _order(data: dict[str, Any]) -> PaymentOrder:
    try:
        return PaymentOrder(
            order_no=data["order_no"],
            payment_code=data["payment_code"],
            amount_fen=data["amount_fen"],
            state=wire.ORDER_STATES[data["status"]],
            pay_url=data.get("pay_url") or None,
            channel=wire.CHANNELS[data["channel"]] if data.get("channel") else None,
            paid_at=wire.parse_platform_time(data["paid_time"]) if data.get("paid_time") else None,
            receipt_no=data.get("receipt_no") or None,
            platform_txn_id=data.get("trade_no") or None,
            refunded_fen=data.get("refunded_fen", 0),
        )
    except (KeyError, ValueError, ValidationError) as exc:
        raise PartnerUnavailable("the non-tax platform sent a malformed order") from exc


@hookimpl
def govbus_payment_create_order(request: PaymentOrderRequest, ctx: CallContext) -> PaymentOrder:
    data = client().call(
        "orders/create",
        {
            "order_no": request.order_no,
            "payer_code": str(request.payer_code),
            "payer_name": request.payer_name,
            "amount_fen": request.amount_fen,
            "item_code": request.item_code or "",
            "bill_ref": request.bill_ref or "",
            "subject": request.description,
        },
        correlation_id=ctx.correlation_id,
        timeout=ctx.timeout_seconds,
    )
    return _order(data)


@hookimpl
def govbus_payment_query_order(order_no: str, ctx: CallContext) -> PaymentOrder:
    data = client().call(
        "orders/query",
        {"order_no": order_no},
        correlation_id=ctx.correlation_id,
        timeout=ctx.timeout_seconds,
    )
    return _order(data)


@hookimpl
def govbus_payment_close_order(order_no: str, ctx: CallContext) -> PaymentOrder:
    data = client().call(
        "orders/close",
        {"order_no": order_no},
        correlation_id=ctx.correlation_id,
        timeout=ctx.timeout_seconds,
    )
    return _order(data)


@hookimpl
def govbus_payment_refund(request: RefundRequest, ctx: CallContext) -> RefundResult:
    data = client().call(
        "refunds/create",
        {
            "order_no": request.order_no,
            "refund_no": request.refund_no,
            "amount_fen": request.amount_fen,
            "reason": request.reason,
        },
        correlation_id=ctx.correlation_id,
        timeout=ctx.timeout_seconds,
    )
    try:
        return RefundResult(
            order_no=data["order_no"],
            refund_no=data["refund_no"],
            amount_fen=data["amount_fen"],
            refunded_at=wire.parse_platform_time(data["refund_time"]),
            order_state=wire.ORDER_STATES[data["status"]],
            refunded_fen=data["refunded_fen"],
        )
    except (KeyError, ValueError, ValidationError) as exc:
        raise PartnerUnavailable("the non-tax platform sent a malformed refund") from exc


@hookimpl
def govbus_payment_statement(day: _dt.date, ctx: CallContext) -> Iterator[StatementLine]:
    # a generator: nothing is fetched until the caller asks for the first line
    rows = client().statement_rows(day.isoformat(), correlation_id=ctx.correlation_id)
    return _statement_lines(rows, day)


def _statement_lines(rows: Iterator[dict[str, str]], day: _dt.date) -> Iterator[StatementLine]:
    channels = wire.CHANNELS
    parse_time = wire.parse_platform_time
    for number, row in enumerate(rows, start=2):
        try:
            yield StatementLine(
                order_no=row["order_no"],
                payment_code=row["payment_code"],
                platform_txn_id=row["trade_no"],
                amount_fen=fen_of_text(row["amount_fen"]),
                channel=channels[row["channel"]],
                paid_at=parse_time(row["paid_time"]),
                receipt_no=row["receipt_no"],
            )
        except (KeyError, ValueError, ValidationError) as exc:
            raise PartnerUnavailable(
                f"line {number} of the statement of {day} is malformed"
            ) from exc
