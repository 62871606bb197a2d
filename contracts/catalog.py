"""The service-item catalogue (政务服务事项目录): one item, one standard, one code.

An implementation item's code is the implementing agency's credit code followed by
an item part (GB/T 39554.1 practice); the agency part is checked with the credit-code
check. Every change is a new version; publishing is a separate step.
"""

from __future__ import annotations

import datetime as _dt
import re
from decimal import Decimal
from enum import IntEnum, StrEnum

from pydantic import ConfigDict, Field, ValidationError, model_validator

from contracts.base import ContractModel
from contracts.constrained import FeeAmount, LongText, ShortText, Text, bounded_list
from contracts.identity import CreditCode

ITEM_PART = re.compile(r"^[0-9A-Z]{4,12}$")


class StarLevel(IntEnum):
    """Online depth (网上办事大厅星级)."""

    information = 1  # guide published
    downloadable = 2  # forms downloadable
    online_application = 3  # online application and pre-review (在线申请、网上预审)
    fully_online = 4  # fully online handling (全程网办)
    no_visit = 5  # results delivered, no visit at all (零跑腿)


class Channel(StrEnum):
    online = "online"
    hall = "hall"  # 实体政务大厅
    community = "community"  # 社区综合窗口
    mobile = "mobile"  # e福州 APP
    ems = "ems"  # results by EMS


class ItemLevel(StrEnum):
    """Who decides an item (办理层级). A province-level item is accepted and pre-examined
    by the city (初审) and decided by the provincial department through the provincial
    online hall (省网上办事大厅): approving the city's part forwards the case there."""

    city = "city"  # 市级办理
    province = "province"  # 省级决定，市级受理初审


class ItemCategory(StrEnum):
    licensing = "licensing"  # 行政许可
    confirmation = "confirmation"  # 行政确认
    payment = "payment"  # 行政给付
    public_service = "public_service"  # 公共服务
    other = "other"


class Material(ContractModel):
    """申请材料. ``licence_type`` names the e-licence type that satisfies it, if any."""

    model_config = ConfigDict(extra="forbid")

    name: ShortText = Field(min_length=1)
    required: bool = True
    form: str = Field(default="electronic", pattern="^(original|copy|electronic)$")
    licence_type: ShortText | None = None
    note: Text = ""


class ProcessStep(ContractModel):
    model_config = ConfigDict(extra="forbid")

    name: ShortText = Field(min_length=1)
    role: ShortText = ""
    days: int = Field(default=0, ge=0, le=365)


class Fee(ContractModel):
    model_config = ConfigDict(extra="forbid")

    name: ShortText = Field(min_length=1)
    amount: FeeAmount  # yuan, two decimals at most, under a ceiling
    basis: Text = ""


class Faq(ContractModel):
    model_config = ConfigDict(extra="forbid")

    question: Text = Field(min_length=1)
    answer: Text = Field(min_length=1)


class ServiceItemDraft(ContractModel):
    """What a department writes; the platform adds code, version and status."""

    model_config = ConfigDict(extra="forbid")

    # every list and text is bounded: a stored item stays well under DynamoDB's 400 KB
    name: ShortText = Field(min_length=2)
    agency: CreditCode
    agency_name: ShortText = Field(min_length=2)
    item_part: str = Field(max_length=12, description="the item's part of the code, 4-12 of 0-9A-Z")
    category: ItemCategory = ItemCategory.licensing
    legal_basis: bounded_list(Text, 50) = Field(default_factory=list)
    conditions: bounded_list(Text, 50) = Field(default_factory=list)
    materials: bounded_list(Material, 100) = Field(default_factory=list)
    steps: bounded_list(ProcessStep, 30) = Field(default_factory=list)
    statutory_days: int = Field(ge=0, le=365)
    promised_days: int = Field(ge=0, le=365)
    fees: bounded_list(Fee, 20) = Field(default_factory=list)
    channels: bounded_list(Channel, 10) = Field(
        default_factory=lambda: [Channel.online, Channel.hall]
    )
    star_level: StarLevel
    guide: LongText = ""
    faqs: bounded_list(Faq, 50) = Field(default_factory=list)
    result_licence_type: ShortText | None = None  # the e-licence issued on approval, if any
    level: ItemLevel = ItemLevel.city
    # the provincial hall's code of this item (省级事项编码), for a province-level item:
    # the case is forwarded under it, and catalogue alignment compares against it
    province_code: ShortText | None = None

    @model_validator(mode="after")
    def _rules(self) -> ServiceItemDraft:
        if not ITEM_PART.match(self.item_part):
            raise ValueError("item_part is 4 to 12 characters of 0-9 and A-Z")
        if self.promised_days > self.statutory_days:
            raise ValueError("the promised time limit cannot exceed the statutory one")
        if self.level == ItemLevel.province:
            if not self.province_code:
                raise ValueError("a province-level item needs the province's item code")
            agency_of(self.province_code)  # an item code: credit code + item part
            if self.result_licence_type:
                raise ValueError(
                    "a province-level item's result is issued by the province, "
                    "not by the city (no result_licence_type)"
                )
        elif self.province_code:
            raise ValueError("only a province-level item has a province_code")
        return self

    @property
    def proposed_code(self) -> str:
        """The code this draft's item has: agency credit code + item part."""
        return item_code(self.agency, self.item_part)

    @property
    def fee_total(self) -> Decimal:
        return sum((f.amount for f in self.fees), Decimal("0"))


class ItemStatus(StrEnum):
    draft = "draft"
    published = "published"
    superseded = "superseded"  # an older published version, still readable


class ServiceItem(ServiceItemDraft):
    code: str  # type: ignore[assignment]

    @model_validator(mode="before")
    @classmethod
    def _legacy(cls, data: object) -> object:
        # items stored before ``level`` carried an unused ``cross_level`` flag
        if isinstance(data, dict) and "cross_level" in data:
            data = {k: v for k, v in data.items() if k != "cross_level"}
        return data

    version: int = Field(ge=1)
    status: ItemStatus
    created_at: _dt.datetime
    published_at: _dt.datetime | None = None


def item_code(agency: str, item_part: str) -> str:
    return f"{agency}{item_part}"


def agency_of(code: str) -> CreditCode:
    """The agency part of an item code, check digit verified (raises ValueError)."""
    if len(code) < 22 or not ITEM_PART.match(code[18:]):
        raise ValueError("an item code is an 18-character credit code and a 4-12 character part")
    try:
        return CreditCode(code[:18])
    except ValidationError as exc:
        raise ValueError(
            f"the agency part of the item code is invalid: {exc.errors()[0]['msg']}"
        ) from None


# --- the plan's targets (DOMAIN.md) ---------------------------------------------------

TARGETS = [
    {
        "measure": "at_least_3_star",
        "share": 0.9,
        "by": "2017-06-30",
        "text": "90% of items online application and pre-review (3★+)",
    },
    {
        "measure": "at_least_4_star",
        "share": 0.3,
        "by": "2018-12-31",
        "text": "30% of items fully online (4★+)",
    },
    {
        "measure": "at_least_4_star",
        "share": 0.6,
        "by": "2020-12-31",
        "text": "60% of items fully online (4★+)",
    },
]
