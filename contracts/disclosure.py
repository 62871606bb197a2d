"""Information disclosure (政务公开): notices, policies, review rules, FAQs and
complaint channels an agency publishes, linked to the service items they concern.

Versioned like catalogue items: a change is a new draft version; publishing one makes
it the version in force and the previously published one ``superseded``. Every
version carries the date it takes effect (施行日期), so that a reader can ask which
version was in force on a given day.
"""

from __future__ import annotations

import datetime as _dt
import re
from enum import StrEnum

from pydantic import ConfigDict, Field, field_validator

from contracts.base import ContractModel
from contracts.catalog import agency_of
from contracts.constrained import LongText, ShortText, bounded_list
from contracts.events import event_type
from contracts.identity import CreditCode
from contracts.masking import personal_identifiers

MAX_LINKED_ITEMS = 20
DOCUMENT_ID = re.compile(r"^DSC[0-9]{8}-[0-9A-F]{10}$")


class DocumentKind(StrEnum):
    notice = "notice"  # 通知公告
    policy = "policy"  # 政策文件
    review_rule = "review_rule"  # 审查细则 / 审核规则
    faq = "faq"  # 常见问题
    complaint_channel = "complaint_channel"  # 投诉渠道


class DocumentStatus(StrEnum):
    draft = "draft"
    published = "published"
    superseded = "superseded"


class DisclosureDraft(ContractModel):
    """What an agency writes: one version of a document."""

    model_config = ConfigDict(extra="forbid")

    agency: CreditCode
    kind: DocumentKind
    title: ShortText = Field(min_length=2)
    body: LongText = Field(min_length=2)
    items: bounded_list(str, MAX_LINKED_ITEMS) = Field(default_factory=list)  # type: ignore[valid-type]
    effective_from: _dt.date  # 施行日期: the day this version takes effect

    @field_validator("title", "body")
    @classmethod
    def _no_personal_data(cls, text: str) -> str:
        # a public document never names a citizen: it would be published, fed and indexed
        # for anyone's search ("is this person named anywhere?")
        found = personal_identifiers(text)
        if found:
            raise ValueError(
                f"holds personal data ({', '.join(found[:3])}): citizen ID numbers and "
                "mobile numbers are never published; remove them or use the agency's "
                "public line"
            )
        return text

    @field_validator("items")
    @classmethod
    def _item_codes(cls, codes: list[str]) -> list[str]:
        normalised = []
        for code in codes:
            code = code.strip().upper()
            agency_of(code)  # ValueError names what is wrong with the code
            if code not in normalised:
                normalised.append(code)
        return normalised


class DisclosureDocument(DisclosureDraft):
    """One stored version of a document."""

    id: str
    version: int = Field(ge=1)
    status: DocumentStatus
    created_at: _dt.datetime
    published_at: _dt.datetime | None = None


def is_document_id(value: str) -> bool:
    return bool(DOCUMENT_ID.match(value))


@event_type("disclosure.published")
class DisclosurePublished(ContractModel):
    """A version of a document is now the one published (subscriptions, the portal)."""

    document_id: str
    version: int
    agency: str
    kind: DocumentKind
    title: str
    items: list[str]
    effective_from: _dt.date
    supersedes: int | None = None  # the version it replaced, if any
