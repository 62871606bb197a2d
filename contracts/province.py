"""Cross-level linkage with the provincial online hall (省网上办事大厅).

A province-level case is forwarded (``ProvinceCaseForward``) and comes back as the
hall's receipt and status (``ProvinceCaseReceipt``); the hall pushes each status change,
which the bus publishes as ``case.province_status``.
"""

from __future__ import annotations

import base64
import datetime as _dt
from enum import StrEnum

from pydantic import Field, model_validator

from contracts.base import ContractModel
from contracts.constrained import ShortText, Text, bounded_text
from contracts.events import event_type


class ProvinceCaseStatus(StrEnum):
    """A case's status at the province. ``rank`` orders them: a case only moves forward."""

    received = "received"  # 已接收
    accepted = "accepted"  # 已受理
    approved = "approved"  # 准予许可
    rejected = "rejected"  # 不予许可
    withdrawn = "withdrawn"  # 已撤回

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def is_final(self) -> bool:
        return self in (
            ProvinceCaseStatus.approved,
            ProvinceCaseStatus.rejected,
            ProvinceCaseStatus.withdrawn,
        )


_RANK = {
    ProvinceCaseStatus.received: 0,
    ProvinceCaseStatus.accepted: 1,
    ProvinceCaseStatus.approved: 2,
    ProvinceCaseStatus.rejected: 2,
    ProvinceCaseStatus.withdrawn: 2,
}


class ProvinceMaterial(ContractModel):
    """One application material (申请材料) sent along: a reference or the file itself.

    ``reference`` is what the hall can fetch (an e-licence id, a document-store key);
    ``content`` is the file's bytes (base64 in JSON). Exactly one of the two.
    """

    name: str = Field(min_length=1, max_length=200)
    reference: str | None = Field(default=None, min_length=1)
    content: bytes | None = None
    file_name: str = ""
    media_type: str = "application/pdf"

    @model_validator(mode="before")
    @classmethod
    def _decode_content(cls, data: object) -> object:
        if isinstance(data, dict) and isinstance(data.get("content"), str):
            data = {**data, "content": base64.b64decode(data["content"], validate=True)}
        return data

    @model_validator(mode="after")
    def _one_of_reference_or_content(self) -> ProvinceMaterial:
        if (self.reference is None) == (self.content is None):
            raise ValueError("a material is either a reference or an attached file, not both")
        if self.content is not None and not self.file_name:
            raise ValueError("an attached file needs its file_name")
        return self


class ProvinceCaseForward(ContractModel):
    """What the city sends when it forwards a province-level case (跨层级联办)."""

    case_id: str
    item_code: str
    applicant_code: str
    summary: str
    applicant_name: str = Field(min_length=1)
    materials: list[ProvinceMaterial] = Field(default_factory=list)


class ProvinceCaseReceipt(ContractModel):
    """The hall's record of a forwarded case."""

    case_id: bounded_text(64)
    province_case_no: bounded_text(64)
    status: ProvinceCaseStatus
    reason: Text = ""
    updated_at: _dt.datetime | None = None
    time_limit_days: int | None = None
    licence_id: ShortText | None = None  # the e-licence the province issued, once approved


class ProvinceItem(ContractModel):
    """One item of the province's catalogue (省级事项目录), for catalogue alignment."""

    code: str
    name: str
    time_limit_days: int = Field(ge=0)
    agency: str  # the implementing agency's name
    agency_code: str = ""  # its credit code


@event_type("case.province_status")
class ProvinceCaseStatusChanged(ContractModel):
    """The province changed a forwarded case's status (pushed by the hall, or polled)."""

    # the hall's free text is bounded like any partner's (a push is signed, not trusted
    # to be readable): no control or bidi-override characters, no unbounded reason
    case_id: bounded_text(64)  # the city's case id
    province_case_no: bounded_text(64)
    status: ProvinceCaseStatus
    reason: Text = ""
    occurred_at: _dt.datetime
    licence_id: ShortText | None = None  # the e-licence the province issued, if it says


# --- commands to the hall, and what comes back (the dispatcher carries them out) -------


@event_type("province.forward_requested")
class ProvinceForwardRequested(ContractModel):
    """A command: forward a province-level case to the provincial hall.

    Emitted with the city's approval of its part, in the same write that moves the case
    to ``at_province``; the dispatcher calls ``govbus_province_forward_case``.
    """

    partner: str = "province"
    forward: ProvinceCaseForward


@event_type("province.case_received")
class ProvinceCaseReceived(ContractModel):
    """The hall's receipt of a forwarded case (its case number and time limit)."""

    receipt: ProvinceCaseReceipt


@event_type("province.withdraw_requested")
class ProvinceWithdrawRequested(ContractModel):
    """A command: withdraw a case at the provincial hall (the applicant withdrew it)."""

    partner: str = "province"
    case_id: str
    province_case_no: str
    reason: str = Field(min_length=1)
