"""Fees: the non-tax payment platform (非税收入支付平台) and the citizen card (市民卡).

Money is integer fen (分) everywhere: :data:`Fen` is a bounded ``int``, never a float,
never an unbounded decimal. A yuan amount is shown to people by dividing by 100 at the
edge (:func:`yuan`), and is never computed with.
"""

from __future__ import annotations

import datetime as _dt
import re
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import ConfigDict, Field, model_validator

from contracts.base import ContractModel
from contracts.events import event_type
from contracts.identity import CitizenId, CreditCode

MAX_FEN = 10**11  # 10^9 yuan: far above any fee or bill, far below int overflow anywhere
Fen = Annotated[int, Field(ge=0, le=MAX_FEN, strict=True)]
"""An amount of money in fen (分): a non-negative, bounded integer."""
PositiveFen = Annotated[int, Field(gt=0, le=MAX_FEN, strict=True)]
"""A payable amount in fen: at least 1 fen."""

PaymentCode = Annotated[str, Field(pattern=r"^[0-9]{20}$")]
"""The platform's 20-digit payment code (缴款码), printed on the payment notice."""
OrderNo = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
"""Our merchant order number (商户订单号), unique per order."""
PayerCode = CitizenId | CreditCode
"""Who pays: a citizen ID number or a unified social credit code."""


_ASCII_DIGITS = re.compile(r"[0-9]{1,12}")


def fen_of_text(text: str) -> int:
    """``"1000" -> 1000``: an amount in fen as a partner writes it, ASCII digits only.

    Python's ``int`` also reads full-width (``１０００``) and Arabic-Indic (``١٠٠٠``)
    digits, and ``str.isdigit`` passes superscripts (``¹⁰⁰⁰``) that ``int`` then cannot
    read: money enters only as the digits 0-9, anything else is a ValueError.
    """
    if not isinstance(text, str) or not _ASCII_DIGITS.fullmatch(text):
        raise ValueError("an amount in fen is written with the ASCII digits 0-9 only")
    return int(text)


def yuan(fen: int) -> str:
    """``1500 -> "15.00"``, for display only (exact: integer arithmetic)."""
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}{fen // 100}.{fen % 100:02d}"


def fen_of_yuan(amount: Decimal) -> int:
    """``Decimal("10.00") -> 1000``: a yuan amount (at most two decimals) as integer fen.

    Exact: a yuan amount with a third decimal is refused (ValueError), never rounded.
    """
    fen = Decimal(amount) * 100
    if not fen.is_finite() or fen != fen.to_integral_value() or fen < 0 or fen > MAX_FEN:
        raise ValueError(f"{amount} yuan is not a whole number of fen between 0 and {MAX_FEN}")
    return int(fen)


class PaymentState(StrEnum):
    pending = "pending"  # created, awaiting the payer
    paid = "paid"
    closed = "closed"  # closed before payment: can no longer be paid
    refunded = "refunded"  # paid, then refunded in full
    partially_refunded = "partially_refunded"


class PaymentChannel(StrEnum):
    bank_card = "bank_card"  # 银行卡 (UnionPay)
    mobile_wallet = "mobile_wallet"  # 移动支付 (wallet apps)
    citizen_card = "citizen_card"  # 市民卡 account


class PaymentOrderRequest(ContractModel):
    """What the bus asks the platform to collect: a case's fee or a biller's bill."""

    model_config = ConfigDict(frozen=True)

    order_no: OrderNo
    payer_code: PayerCode
    payer_name: str = Field(default="", max_length=64)
    amount_fen: PositiveFen
    item_code: str | None = Field(default=None, max_length=64)  # service item (fee of a case)
    bill_ref: str | None = Field(default=None, max_length=64)  # a biller's bill
    case_id: str | None = Field(default=None, max_length=64)
    description: str = Field(min_length=1, max_length=128)

    @model_validator(mode="after")
    def _item_or_bill(self) -> PaymentOrderRequest:
        if not self.item_code and not self.bill_ref:
            raise ValueError("a payment order needs an item_code (a case's fee) or a bill_ref")
        return self


class PaymentOrder(ContractModel):
    """An order as the platform holds it."""

    order_no: OrderNo
    payment_code: PaymentCode
    amount_fen: PositiveFen
    state: PaymentState
    pay_url: str | None = None
    channel: PaymentChannel | None = None
    paid_at: _dt.datetime | None = None
    receipt_no: str | None = None  # 票据号, once paid
    platform_txn_id: str | None = None  # the platform's transaction id, once paid
    refunded_fen: Fen = 0


class RefundRequest(ContractModel):
    """Give back all or part of a paid order. ``refund_no`` is ours and idempotent."""

    model_config = ConfigDict(frozen=True)

    order_no: OrderNo
    refund_no: OrderNo
    amount_fen: PositiveFen
    reason: str = Field(min_length=1, max_length=128)


class RefundResult(ContractModel):
    order_no: OrderNo
    refund_no: OrderNo
    amount_fen: PositiveFen
    refunded_at: _dt.datetime
    order_state: PaymentState  # refunded or partially_refunded
    refunded_fen: Fen  # the order's refunded total, this refund included


class StatementLine(ContractModel):
    """One settled payment of the platform's daily statement (对账单)."""

    model_config = ConfigDict(frozen=True)

    order_no: str
    payment_code: str
    platform_txn_id: str
    amount_fen: PositiveFen
    channel: PaymentChannel
    paid_at: _dt.datetime
    receipt_no: str


@event_type("payment.notified")
class PaymentNotified(ContractModel):
    """The platform says an order was paid (its signed asynchronous notification).

    Published by the ``webhooks`` function once per notification id; the consumer must
    still be idempotent on ``order_no`` (the platform notifies again after a query, and
    out of order).
    """

    order_no: OrderNo
    payment_code: PaymentCode
    amount_fen: PositiveFen
    channel: PaymentChannel
    paid_at: _dt.datetime
    receipt_no: str
    platform_txn_id: str
    notify_id: str


@event_type("payment.order_requested")
class PaymentOrderRequested(ContractModel):
    """A command: create the platform order of a bill (or a fee) already stored as requested.

    Written to the outbox with the stored order, so that no order is ever lost; the
    ``payments`` consumer creates it at the platform, idempotent on ``order_no``.
    """

    order_no: OrderNo


@event_type("payment.completed")
class PaymentCompleted(ContractModel):
    """An order is paid, once: written with the order's change (the outbox)."""

    order_no: OrderNo
    kind: str  # fee | bill
    case_id: str | None = None
    amount_fen: PositiveFen
    channel: PaymentChannel
    receipt_no: str
    payer_key: str  # the blind index of the payer, never the code


@event_type("payment.refunded")
class PaymentRefunded(ContractModel):
    """A paid order was refunded in full (a rejection after payment), once."""

    order_no: OrderNo
    case_id: str | None = None
    amount_fen: PositiveFen
    refund_no: OrderNo
    payer_key: str


@event_type("payment.refund_requested")
class PaymentRefundRequested(ContractModel):
    """A command: give back a payment the bus must not keep, through the channel that took it.

    Written in the same transaction that records the payment (a payment that landed on
    a rejected or closed case, or a second real payment of an order through another
    channel), so it is never lost; the ``payments`` consumer refunds, idempotent on
    ``refund_no`` at the partner, and retries until the partner has answered.
    """

    order_no: OrderNo
    refund_no: OrderNo  # RF-<order no>: the order's payment; RD-<order no>: a second one
    via: str = Field(pattern=r"^(platform|card)$")  # the channel that took the money
    amount_fen: PositiveFen
    platform_txn_id: str = Field(min_length=1, max_length=64)  # the payment given back
    reason: str = Field(min_length=1, max_length=128)


# --- citizen card (市民卡) ---------------------------------------------------------


class CardStatus(StrEnum):
    active = "active"  # 正常
    frozen = "frozen"  # 冻结
    lost = "lost"  # 挂失
    cancelled = "cancelled"  # 注销


CardNo = Annotated[str, Field(pattern=r"^[0-9]{16,19}$")]


class CitizenCard(ContractModel):
    card_no: CardNo
    holder_code: CitizenId
    status: CardStatus
    balance_fen: Fen | None = None  # shown to the holder only

    @property
    def can_pay(self) -> bool:
        return self.status == CardStatus.active


class CardPayment(ContractModel):
    """A charge on a card account. The platform charges once per ``reference``."""

    model_config = ConfigDict(frozen=True)

    card_no: CardNo
    amount_fen: PositiveFen
    reference: OrderNo
    description: str = Field(min_length=1, max_length=128)


class CardReceipt(ContractModel):
    payment_id: str  # the platform's transaction id
    card_no: CardNo
    reference: OrderNo
    amount_fen: PositiveFen
    balance_fen: Fen  # after the charge
    paid_at: _dt.datetime


class CardRefund(ContractModel):
    """Give back all or part of a card payment, found by its ``reference``."""

    model_config = ConfigDict(frozen=True)

    reference: OrderNo
    refund_reference: OrderNo
    amount_fen: PositiveFen
    reason: str = Field(min_length=1, max_length=128)


class CardRefundReceipt(ContractModel):
    refund_id: str
    reference: OrderNo
    refund_reference: OrderNo
    amount_fen: PositiveFen
    balance_fen: Fen  # after the refund
    refunded_at: _dt.datetime
