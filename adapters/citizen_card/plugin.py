"""The citizen card adapter's hook implementations (registered as entry point ``citizen_card``)."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterator

from pydantic import ValidationError

from adapters.citizen_card import wire
from adapters.citizen_card.client import CitizenCardClient, ping_endpoint
from adapters.citizen_card.config import CitizenCardConfig
from contracts import hookimpl
from contracts.adapterkit import AdapterState
from contracts.adapters import AdapterFamily, AdapterInfo, CallContext, PingResult
from contracts.errors import PartnerUnavailable
from contracts.identity import CitizenId
from contracts.payments import (
    CardPayment,
    CardReceipt,
    CardRefund,
    CardRefundReceipt,
    CitizenCard,
    PaymentChannel,
    StatementLine,
)

NAME = "citizen_card"
VERSION = "1.0.0"
CST = _dt.timezone(_dt.timedelta(hours=8))


_state: AdapterState[CitizenCardConfig, CitizenCardClient] = AdapterState(
    "the citizen card platform", CitizenCardConfig
)


def client() -> CitizenCardClient:
    """Built lazily, once per configuration, from the credentials the partner issued."""
    return _state.client(
        lambda config, creds: CitizenCardClient(config, creds["client_id"], creds["client_secret"])
    )


def _time(text: str) -> _dt.datetime:
    """Platform times are ``YYYY-MM-DD HH:MM:SS`` in Beijing time; govbus's events and
    answers carry the moment in UTC."""
    return _dt.datetime.fromisoformat(text).replace(tzinfo=CST).astimezone(_dt.UTC)


# --- lifecycle ------------------------------------------------------------------


@hookimpl
def govbus_adapter_info() -> AdapterInfo:
    return AdapterInfo(
        name=NAME,
        family=AdapterFamily.citizen_card,
        title="市民卡 citizen card (multi-card platform)",
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
    from adapters.citizen_card.simulator import CitizenCardSimulator

    return CitizenCardSimulator()


# --- cards ------------------------------------------------------------------------


@hookimpl
def govbus_card_lookup(holder_code: CitizenId, ctx: CallContext) -> CitizenCard:
    data = client().call(
        "cards/query",
        {"holder_id": str(holder_code)},
        correlation_id=ctx.correlation_id,
        timeout=ctx.timeout_seconds,
    )
    try:
        return CitizenCard(
            card_no=data["card_no"],
            holder_code=data["holder_id"],
            status=wire.CARD_STATES[data["status"]],
            balance_fen=data.get("balance_fen"),
        )
    except (KeyError, ValidationError) as exc:
        raise PartnerUnavailable("the citizen card platform sent a malformed card") from exc


@hookimpl
def govbus_card_pay(payment: CardPayment, ctx: CallContext) -> CardReceipt:
    data = client().call(
        "payments",
        {
            "card_no": payment.card_no,
            "amount_fen": payment.amount_fen,
            "out_trade_no": payment.reference,
            "subject": payment.description,
        },
        correlation_id=ctx.correlation_id,
        timeout=ctx.timeout_seconds,
    )
    try:
        return CardReceipt(
            payment_id=data["payment_id"],
            card_no=data["card_no"],
            reference=data["out_trade_no"],
            amount_fen=data["amount_fen"],
            balance_fen=data["balance_fen"],
            paid_at=_time(data["paid_time"]),
        )
    except (KeyError, ValueError, ValidationError) as exc:
        raise PartnerUnavailable("the citizen card platform sent a malformed receipt") from exc


@hookimpl
def govbus_card_refund(refund: CardRefund, ctx: CallContext) -> CardRefundReceipt:
    data = client().call(
        "refunds",
        {
            "out_trade_no": refund.reference,
            "out_refund_no": refund.refund_reference,
            "amount_fen": refund.amount_fen,
            "reason": refund.reason,
        },
        correlation_id=ctx.correlation_id,
        timeout=ctx.timeout_seconds,
    )
    try:
        return CardRefundReceipt(
            refund_id=data["refund_id"],
            reference=data["out_trade_no"],
            refund_reference=data["out_refund_no"],
            amount_fen=data["amount_fen"],
            balance_fen=data["balance_fen"],
            refunded_at=_time(data["refund_time"]),
        )
    except (KeyError, ValueError, ValidationError) as exc:
        raise PartnerUnavailable("the citizen card platform sent a malformed refund") from exc


# --- statement (对账单) --------------------------------------------------------------

STATEMENT_PAGE_SIZE = 500


@hookimpl
def govbus_card_statement(day: _dt.date, ctx: CallContext) -> Iterator[StatementLine]:
    return _statement_lines(day, ctx)


def _statement_lines(day: _dt.date, ctx: CallContext) -> Iterator[StatementLine]:
    """Page by page: only one page of the statement is held at a time."""
    token = ""
    while True:
        data = client().call(
            "statements",
            {"day": day.isoformat(), "page_size": STATEMENT_PAGE_SIZE, "page_token": token},
            correlation_id=ctx.correlation_id,
            timeout=ctx.timeout_seconds,
        )
        items = data.get("items")
        if not isinstance(items, list):
            raise PartnerUnavailable(f"the card platform's statement of {day} has no items")
        for row in items:
            try:
                yield StatementLine(
                    order_no=row["out_trade_no"],
                    payment_code="",
                    platform_txn_id=row["payment_id"],
                    amount_fen=row["amount_fen"],
                    channel=PaymentChannel.citizen_card,
                    paid_at=_time(row["paid_time"]),
                    receipt_no=row["payment_id"],
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise PartnerUnavailable(
                    f"a line of the card platform's statement of {day} is malformed"
                ) from exc
        token = str(data.get("next_page_token") or "")
        if not token:
            return
