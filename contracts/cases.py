"""Cases (办件): the application, its states, and the transitions between them as data.

Transitions are looked up, never coded as if-chains: ``TRANSITIONS[(state, action)]``
gives the next state and who may take the step. Stores enforce them with conditional
writes, so two people acting on one case at once cannot both win.
"""

from __future__ import annotations

import datetime as _dt
from decimal import Decimal
from enum import StrEnum

from pydantic import ConfigDict, Field, field_validator

from contracts.base import ContractModel
from contracts.catalog import ItemLevel
from contracts.constrained import ShortText, bounded_text
from contracts.events import event_type
from contracts.masking import mask_text
from contracts.province import ProvinceCaseStatus


class CaseState(StrEnum):
    draft = "draft"  # created, materials being gathered
    submitted = "submitted"
    returned_for_materials = "returned_for_materials"
    pre_reviewed = "pre_reviewed"
    accepted = "accepted"
    in_review = "in_review"
    approved = "approved"
    rejected = "rejected"
    awaiting_payment = "awaiting_payment"
    licence_issued = "licence_issued"
    delivered = "delivered"
    collected = "collected"
    closed = "closed"
    withdrawn = "withdrawn"
    # a province-level case whose city part is approved (初审通过), forwarded to the
    # provincial hall and waiting for the province's decision; open, watched
    at_province = "at_province"


class Actor(StrEnum):
    applicant = "applicant"  # the citizen or enterprise, or whoever acts for them
    department = "department"  # the implementing agency's clerk
    system = "system"  # govbus itself (pre-review, events)


class Transition(ContractModel):
    to: CaseState
    by: Actor
    needs_reason: bool = False
    level: ItemLevel | None = None  # only for cases of items of this level; None: any


S, A, L = CaseState, Actor, ItemLevel
TRANSITIONS: dict[tuple[CaseState, str], Transition] = {
    (S.draft, "submit"): Transition(to=S.submitted, by=A.applicant),
    (S.returned_for_materials, "submit"): Transition(to=S.submitted, by=A.applicant),
    (S.submitted, "pre_review_pass"): Transition(to=S.pre_reviewed, by=A.system),
    (S.submitted, "pre_review_fail"): Transition(
        to=S.returned_for_materials, by=A.system, needs_reason=True
    ),
    (S.pre_reviewed, "accept"): Transition(to=S.accepted, by=A.department),
    (S.pre_reviewed, "request_materials"): Transition(
        to=S.returned_for_materials, by=A.department, needs_reason=True
    ),
    (S.accepted, "request_materials"): Transition(
        to=S.returned_for_materials, by=A.department, needs_reason=True
    ),
    (S.accepted, "review"): Transition(to=S.in_review, by=A.department),
    (S.accepted, "approve"): Transition(to=S.approved, by=A.department, level=L.city),
    (S.in_review, "approve"): Transition(to=S.approved, by=A.department, level=L.city),
    (S.accepted, "reject"): Transition(to=S.rejected, by=A.department, needs_reason=True),
    (S.in_review, "reject"): Transition(to=S.rejected, by=A.department, needs_reason=True),
    (S.approved, "await_payment"): Transition(to=S.awaiting_payment, by=A.system),
    # an offline payment at the hall, recorded by a clerk: never skipped silently
    (S.awaiting_payment, "record_payment"): Transition(to=S.approved, by=A.department),
    # an online payment, confirmed by the platform's notification (functions/payments)
    (S.awaiting_payment, "paid"): Transition(to=S.approved, by=A.system),
    # until the result is issued the agency may still reject; a paid fee is then refunded
    (S.awaiting_payment, "reject"): Transition(to=S.rejected, by=A.department, needs_reason=True),
    (S.approved, "reject"): Transition(to=S.rejected, by=A.department, needs_reason=True),
    (S.approved, "licence_issued"): Transition(to=S.licence_issued, by=A.system),
    (S.licence_issued, "delivered"): Transition(to=S.delivered, by=A.system),
    (S.licence_issued, "collect"): Transition(to=S.collected, by=A.department),
    (S.delivered, "close"): Transition(to=S.closed, by=A.system),
    (S.collected, "close"): Transition(to=S.closed, by=A.system),
    (S.rejected, "close"): Transition(to=S.closed, by=A.system),
}
# Province-level items (跨层级): the department's ``approve`` approves the city's part and
# forwards the case to the provincial hall (there is no separate "forward" action, so a
# city-level case cannot be forwarded and a province-level one cannot be approved by the
# city alone). The province's decision comes back as system steps.
PROVINCE_TRANSITIONS: dict[tuple[CaseState, str], Transition] = {
    (S.accepted, "approve"): Transition(to=S.at_province, by=A.department, level=L.province),
    (S.in_review, "approve"): Transition(to=S.at_province, by=A.department, level=L.province),
    # the hall's receipt and its acceptance (受理): timeline entries, the state stays
    (S.at_province, "province_receive"): Transition(
        to=S.at_province, by=A.system, level=L.province
    ),
    (S.at_province, "province_accept"): Transition(to=S.at_province, by=A.system, level=L.province),
    (S.at_province, "province_approve"): Transition(to=S.approved, by=A.system, level=L.province),
    (S.at_province, "province_reject"): Transition(
        to=S.rejected, by=A.system, needs_reason=True, level=L.province
    ),
    (S.at_province, "withdraw"): Transition(to=S.withdrawn, by=A.applicant, level=L.province),
}
for _state in (
    S.draft,
    S.submitted,
    S.returned_for_materials,
    S.pre_reviewed,
    S.accepted,
    S.in_review,
):
    TRANSITIONS[(_state, "withdraw")] = Transition(to=S.withdrawn, by=A.applicant)

# The one source of truth for "open": a case the agency is still handling, watched by
# supervision against its time limit. The store writes its ``open`` flag from this set.
OPEN_STATES = {
    S.submitted,
    S.returned_for_materials,
    S.pre_reviewed,
    S.accepted,
    S.in_review,
    S.approved,
    S.awaiting_payment,
    S.at_province,
}
# A department's work queue (GET /applications?state=...): the states a case waits in for
# its implementing agency to act, read off the transitions a department takes. ``submitted``
# is not one: a case is pre-reviewed in the same write that submits it, so the cases
# waiting to be accepted (受理) are ``pre_reviewed``.
QUEUE_STATES = [
    state
    for state in CaseState
    if any(
        t.by == A.department and s == state
        for (s, _), t in [*TRANSITIONS.items(), *PROVINCE_TRANSITIONS.items()]
    )
]
QueueState = StrEnum("QueueState", [(s.value, s.value) for s in QUEUE_STATES])  # type: ignore[misc]
# Steps govbus takes by itself once a case reaches these states, in the same write.
CLOSES_BY_ITSELF = {S.rejected, S.delivered, S.collected}
DEPARTMENT_ACTIONS = sorted(
    {
        a
        for (_, a), t in [*TRANSITIONS.items(), *PROVINCE_TRANSITIONS.items()]
        if t.by == A.department
    }
)


def transition(case: Case, action: str) -> Transition | None:
    """The rule for taking ``action`` on ``case`` now, given its state and its item's level."""
    if case.level == ItemLevel.province:
        rule = PROVINCE_TRANSITIONS.get((case.state, action))
        if rule is not None:
            return rule
    rule = TRANSITIONS.get((case.state, action))
    if rule is not None and rule.level not in (None, case.level):
        return None
    return rule


class MaterialStatus(StrEnum):
    reused = "reused"  # taken from the e-licence library: never re-submitted
    needed = "needed"
    uploaded = "uploaded"
    missing = "missing"


class CaseMaterial(ContractModel):
    name: str
    required: bool
    status: MaterialStatus
    licence_type: str | None = None
    licence_id: str | None = None
    object_key: str | None = None
    signed: bool = False
    signature_verified: bool = False
    signer: str | None = None
    # what pre-review checked, pinned at submit: the upload's S3 version, the SHA-256 of
    # its bytes (the bytes a signature was verified over), their type and size. A reader
    # is handed that version only, whatever was uploaded under the key since.
    version_id: str | None = None
    sha256: str | None = None
    content_type: str | None = None
    size: int | None = None


class Channel(StrEnum):
    online = "online"
    hall = "hall"
    community = "community"
    mobile = "mobile"


class DeliveryChoice(ContractModel):
    model_config = ConfigDict(extra="forbid")

    method: str = Field(default="collect", pattern="^(ems|collect)$")
    # the receiver's address, required for EMS; stored sealed; bounded like an Address
    name: bounded_text(100) | None = None
    phone: bounded_text(20) | None = None
    province: bounded_text(50) | None = None
    city: bounded_text(50) | None = None
    district: bounded_text(50) | None = None
    street: ShortText | None = None


class ApplicationRequest(ContractModel):
    model_config = ConfigDict(extra="forbid")

    item_code: str = Field(min_length=1, max_length=30)
    channel: Channel = Channel.online
    # a window clerk or community proxy acting for an applicant (代办)
    on_behalf_of: str | None = Field(default=None, max_length=18)
    applicant_name: bounded_text(100) = Field(min_length=1)
    delivery: DeliveryChoice = Field(default_factory=DeliveryChoice)


class TimelineEntry(ContractModel):
    seq: int
    action: str
    from_state: CaseState | None
    to_state: CaseState
    actor: str
    actor_kind: Actor
    at: _dt.datetime
    note: str = ""

    @field_validator("actor")
    @classmethod
    def _masked_at_rest(cls, actor: str) -> str:
        # an applicant acting on their own case is named by their citizen ID: the
        # timeline is stored (and published) with it masked, as every reader sees it
        return mask_text(actor)


def masked_timeline(entries: list[dict]) -> list[dict]:
    """A case's timeline as shown to a reader: who acted, with identity codes masked.

    An applicant's or agent's citizen ID is the actor of their own steps; a department
    reading the case learns the step, not the code.
    """
    return [{**entry, "actor": mask_text(str(entry.get("actor", "")))} for entry in entries]


class Evaluation(ContractModel):
    model_config = ConfigDict(extra="forbid")

    score: int = Field(ge=1, le=5)
    text: bounded_text(1000, multiline=True) = ""


class Case(ContractModel):
    id: str
    item_code: str
    item_version: int
    item_name: str
    agency: str
    state: CaseState
    version: int
    level: ItemLevel = ItemLevel.city
    applicant: str  # masked for everyone but the applicant
    applicant_kind: str
    channel: Channel
    acting_for: bool = False
    agent: str | None = None
    materials: list[CaseMaterial]
    fee: Decimal = Decimal("0")
    paid: bool = False
    delivery_method: str = "collect"
    submitted_at: _dt.datetime | None = None
    accepted_at: _dt.datetime | None = None
    due: _dt.date | None = None
    overdue: bool = False
    licence_id: str | None = None
    reason: str | None = None
    evaluation: Evaluation | None = None
    # at the province (a province-level case once forwarded): the hall's case number,
    # the last status applied (statuses only move forward), the province's time limit
    province_case_no: str | None = None
    province_status: ProvinceCaseStatus | None = None
    province_due: _dt.date | None = None
    province_overdue: bool = False
    timeline: list[TimelineEntry] = Field(default_factory=list)


class QueuedCase(ContractModel):
    """A case in its department's work queue: enough to pick it, with the applicant masked
    (the whole case, GET /applications/{id}, has the rest)."""

    id: str
    item_code: str
    item_name: str
    state: CaseState
    version: int
    applicant: str = Field(description="masked: 3501**********1234")
    applicant_kind: str
    channel: str = Field(description="online, hall, community or mobile")
    created_at: str = Field(description="when the case was created (a draft)")
    submitted_at: _dt.datetime | None = Field(description="when it was (last) submitted")
    due: _dt.date | None = Field(description="the legal time limit, set when accepted (受理)")
    overdue: bool


class WorkQueue(ContractModel):
    cases: list[QueuedCase]
    next: str | None = Field(
        description="pass as ?next= (with the same state) for the page after; null on the last"
    )


@event_type("case.transitioned")
class CaseTransitioned(ContractModel):
    case_id: str
    item_code: str
    agency: str
    action: str
    from_state: CaseState | None
    to_state: CaseState
    applicant_key: str
    item_name: str = ""
    reason: str | None = None


@event_type("case.overdue")
class CaseOverdue(ContractModel):
    case_id: str
    agency: str
    due: _dt.date
    # "province": the provincial hall's time limit has passed (the case is at_province)
    level: ItemLevel = ItemLevel.city


@event_type("licence.requested")
class LicenceRequested(ContractModel):
    """A command: issue the e-licence an approved case results in."""

    case_id: str
    issuer: str
    type_code: str
    holder_code: str
    holder_name: str
    fields: dict[str, str] = Field(default_factory=dict)


class Step(ContractModel):
    """One transition to take: the action, who takes it, a note, fields it changes."""

    action: str
    actor: str
    actor_kind: Actor
    note: str = ""
    updates: dict[str, object] = Field(default_factory=dict)


def advance(case: Case, steps: list[Step], now: _dt.datetime) -> tuple[Case, list[TimelineEntry]]:
    """Take ``steps`` on ``case`` in memory: the case after them and their timeline entries.

    Pure: raises :class:`~contracts.errors.Conflict` (no such transition from the state the
    case is in), :class:`~contracts.errors.Forbidden` (the wrong kind of actor) or
    :class:`~contracts.errors.ValidationFailed` (a reason is required) before anything is
    written, so an action either happens whole or not at all.
    """
    from contracts.errors import Conflict, Forbidden, ValidationFailed

    moved = case
    entries: list[TimelineEntry] = []
    for step in steps:
        rule = transition(moved, step.action)
        words = step.action.replace("_", " ")
        if rule is None:
            raise Conflict(f"cannot {words} a case that is {moved.state.value.replace('_', ' ')}")
        if rule.by != step.actor_kind:
            raise Forbidden(f"only the {rule.by.value} can {words} this case")
        if rule.needs_reason and not step.note.strip():
            raise ValidationFailed(f"{words} needs a reason", field="reason")
        update: dict[str, object] = {
            "state": rule.to,
            "version": moved.version + 1,
            "timeline": [],
            **step.updates,
        }
        if rule.needs_reason:
            update["reason"] = step.note
        entries.append(
            TimelineEntry(
                seq=moved.version + 1,
                action=step.action,
                from_state=moved.state,
                to_state=rule.to,
                actor=step.actor,
                actor_kind=step.actor_kind,
                at=now,
                note=step.note,
            )
        )
        moved = moved.model_copy(update=update)
    return moved, entries
