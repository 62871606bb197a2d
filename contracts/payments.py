"""Fees: the non-tax payment platform (非税收入支付平台) and the citizen card (市民卡)."""

from __future__ import annotations

import datetime as _dt
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, Field


class PaymentState(StrEnum):
    pending = "pending"
    paid = "paid"
    failed = "failed"
    refunded = "refunded"
    cancelled = "cancelled"


class PaymentOrderRequest(BaseModel):
    case_id: str
    payer_code: str  # citizen ID or credit code
    amount: Decimal = Field(gt=0, decimal_places=2)
    item_code: str
    description: str


class PaymentOrder(BaseModel):
    order_no: str
    case_id: str
    amount: Decimal
    state: PaymentState
    pay_url: str | None = None


class StatementLine(BaseModel):
    order_no: str
    amount: Decimal
    paid_at: _dt.datetime


class CardStatus(StrEnum):
    active = "active"
    frozen = "frozen"
    lost = "lost"
    cancelled = "cancelled"


class CitizenCard(BaseModel):
    card_no: str
    holder_code: str
    status: CardStatus


class CardPayment(BaseModel):
    card_no: str
    amount: Decimal = Field(gt=0, decimal_places=2)
    reference: str
