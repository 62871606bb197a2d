"""Notifications to people (the ``notify`` adapter family): SMS first.

A message is plain text already rendered from a Chinese template by govbus; the
adapter only carries it to the gateway. ``kind`` says what it is about, so that a
person can opt out of a kind (:data:`LEGALLY_REQUIRED` kinds excepted) and so that a
gateway may route it to the right registered template or sign.
"""

from __future__ import annotations

import datetime as _dt
from enum import StrEnum

from pydantic import ConfigDict, Field

from contracts.base import ContractModel


class NotifyKind(StrEnum):
    appointment_reminder = "appointment_reminder"  # 预约提醒（前一天）
    case_needs_materials = "case_needs_materials"  # 补正材料告知
    case_approved = "case_approved"  # 审批通过
    case_rejected = "case_rejected"  # 不予许可
    fee_due = "fee_due"  # 缴费通知
    licence_ready = "licence_ready"  # 证照已签发
    delivery_out = "delivery_out"  # 快递派送中
    hotline_answer = "hotline_answer"  # 12345 答复
    case_overdue = "case_overdue"  # 办件超期（督办）


# notices the law requires the applicant to get: no opt-out (行政许可法 第32、38条:
# the one-time notice of missing materials and the written refusal with reasons)
LEGALLY_REQUIRED: frozenset[NotifyKind] = frozenset(
    {NotifyKind.case_needs_materials, NotifyKind.case_rejected}
)


class NotifyMessage(ContractModel):
    """One message to one person. ``to`` is a mainland mobile number: mask it in logs."""

    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    to: str = Field(pattern=r"^1[3-9][0-9]{9}$")
    text: str = Field(min_length=1, max_length=500)
    kind: NotifyKind
    # what the message is about (a case, a booking): for receipts and the gateway's logs
    reference: str = Field(default="", max_length=100)


class NotifyStatus(StrEnum):
    accepted = "accepted"  # the gateway took it
    delivered = "delivered"  # the handset confirmed (delivery receipt)
    failed = "failed"  # the gateway gave up (bad number, handset unreachable)


class NotifyReceipt(ContractModel):
    message_id: str
    status: NotifyStatus
    at: _dt.datetime | None = None
    detail: str = ""


class Preferences(ContractModel):
    """A person's opt-outs; ``GET/PUT /notifications/preferences``."""

    model_config = ConfigDict(extra="forbid")

    opted_out: list[NotifyKind] = Field(default_factory=list)
