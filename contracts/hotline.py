"""The 12345 hotline (12345政务服务热线): consultations and complaints, assigned to an
agency with a deadline, escalated by supervision when the deadline passes."""

from __future__ import annotations

import datetime as _dt
from enum import StrEnum
from typing import Annotated

from pydantic import ConfigDict, Field

from contracts.base import ContractModel
from contracts.constrained import NotBlank, ShortText, bounded_text
from contracts.events import event_type


class TicketKind(StrEnum):
    consultation = "consultation"  # 咨询
    complaint = "complaint"  # 投诉


class ComplaintCategory(StrEnum):
    inaction = "inaction"  # 不作为
    misconduct = "misconduct"  # 乱作为
    delay = "delay"  # 慢作为
    other = "other"


class TicketStatus(StrEnum):
    open = "open"
    answered = "answered"
    escalated = "escalated"
    closed = "closed"


# working days to answer, by kind
DEADLINE_DAYS = {TicketKind.consultation: 3, TicketKind.complaint: 5}


class TicketRequest(ContractModel):
    model_config = ConfigDict(extra="forbid")

    kind: TicketKind
    category: ComplaintCategory | None = None
    title: Annotated[ShortText, NotBlank] = Field(min_length=2)
    details: Annotated[bounded_text(5000, multiline=True), NotBlank] = Field(min_length=2)
    about_case: str | None = Field(default=None, max_length=64)  # a complaint about a case
    agency: str | None = Field(default=None, max_length=18)  # required unless about_case
    caller_code: str | None = Field(default=None, max_length=18)  # a phone call's caller


class Handling(ContractModel):
    at: _dt.datetime
    by: str
    what: str


class Ticket(ContractModel):
    id: str
    kind: TicketKind
    category: ComplaintCategory | None
    title: str
    details: str
    about_case: str | None
    agency: str
    status: TicketStatus
    deadline: _dt.date
    created_at: _dt.datetime
    answer: str | None = None
    escalated_to: str | None = None
    handling: list[Handling] = Field(default_factory=list)


@event_type("hotline.filed")
class TicketFiled(ContractModel):
    """A ticket was filed and assigned to an agency (12345 派单), with its deadline: the
    agency hears of it here, and lists its tickets with ``GET /hotline/tickets``."""

    ticket_id: str
    agency: str
    kind: TicketKind
    title: str
    deadline: _dt.date
    about_case: str | None = None


@event_type("hotline.escalated")
class TicketEscalated(ContractModel):
    ticket_id: str
    agency: str
    deadline: _dt.date
    escalated_to: str


@event_type("hotline.answered")
class TicketAnswered(ContractModel):
    """The assigned agency answered a ticket; the caller is told (by SMS)."""

    ticket_id: str
    agency: str
    caller_key: str  # the caller's blind index key, never the ID number
    title: str
