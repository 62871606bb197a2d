"""Cases at the provincial hall (跨层级联办): the hall's receipt and its status changes
move a forwarded case on, each change once and never backwards.

Used by ``case_events`` (the receipt the dispatcher publishes, the statuses the hall
pushes and ``province_sync`` polls). A status is applied only if it is ahead of the last
one applied (``received < accepted < approved | rejected``); a repeated or older status
changes nothing, so pushes that arrive twice or out of order, and a poll that finds
what a push already brought, all end in the same case. A decision that arrives before
the acceptance it implies records the acceptance first, so the citizen's timeline
always shows the provincial steps in order, each once. A status moves only the case
whose recorded hall case number it names, and an approval only with a licence id whose
check character holds: a signed push may name any city case.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable

from contracts.cases import Actor, Case, CaseState, Step
from contracts.errors import Conflict, GovbusError, RetryableError
from contracts.events import Event
from contracts.licences import check_licence_id
from contracts.province import (
    ProvinceCaseReceipt,
    ProvinceCaseStatus,
    ProvinceCaseStatusChanged,
)
from govbus import applications
from govbus.calendar import calendar
from govbus.observability import logger
from govbus.stores import cases

SYSTEM = applications.SYSTEM
ATTEMPTS = 5  # a concurrent change to the same case: read it again and re-apply
P = ProvinceCaseStatus


def _rank(status: ProvinceCaseStatus | None) -> int:
    return status.rank if status is not None else -1


def _again(apply: Callable[[Case], Case | None], case_id: str) -> Case | None:
    """Apply to the case as it is now; on a concurrent change, read it again and retry."""
    for attempt in range(ATTEMPTS):
        try:
            return apply(cases.get(case_id))
        except Conflict:
            if attempt + 1 == ATTEMPTS:
                raise
    return None


def _step(action: str, note: str, **updates: object) -> Step:
    return Step(action=action, actor=SYSTEM, actor_kind=Actor.system, note=note, updates=updates)


def _receive_step(case_no: str, due: _dt.date | None, days: int | None) -> Step:
    limit = f"; time limit {days} working days (due {due})" if days is not None else ""
    return _step(
        "province_receive",
        f"省网上办事大厅已接收 received by the provincial hall as {case_no}{limit}",
        province_case_no=case_no,
        province_status=P.received,
        province_due=due,
    )


def _province_due(receipt: ProvinceCaseReceipt) -> _dt.date | None:
    if receipt.time_limit_days is None:
        return None
    received = (receipt.updated_at or _dt.datetime.now(_dt.UTC)).date()
    return calendar().add_working_days(received, receipt.time_limit_days)


def record_receipt(receipt: ProvinceCaseReceipt) -> Case | None:
    """The hall received the forwarded case: its number and time limit, recorded once.

    Returns the case as changed, or None when there was nothing to change (a repeated
    receipt, a case no longer at the province).
    """

    def apply(case: Case) -> Case | None:
        due = _province_due(receipt)
        if case.state == CaseState.at_province:
            if case.province_case_no is None:
                step = _receive_step(receipt.province_case_no, due, receipt.time_limit_days)
                return applications.change(case, [step])
            if case.province_due is None and due is not None:
                # a repeated receipt that now carries the time limit: keep it
                return cases.update_fields(case, province_due=due)
            return None
        if case.state == CaseState.withdrawn and case.province_case_no is None:
            # withdrawn while the forward was on its way: withdraw it there now
            received = case.model_copy(update={"province_case_no": receipt.province_case_no})
            return cases.update_fields(
                case,
                applications.withdraw_at_province(received),
                province_case_no=receipt.province_case_no,
                province_status=P.received,
            )
        logger.info(
            "province receipt left the case as it is",
            extra={"case_id": case.id, "state": case.state.value},
        )
        return None

    return _again(apply, receipt.case_id)


def apply_status(change: ProvinceCaseStatusChanged) -> Case | None:
    """Move the case on by the province's status, if that status is ahead of the last one.

    Returns the case as changed, or None when the status changes nothing (repeated,
    older, or the case is no longer at the province).
    """

    def apply(case: Case) -> Case | None:
        if _rank(change.status) <= _rank(case.province_status):
            return None  # repeated or older: never backwards
        if not _is_own(case, change):
            return None
        if case.state == CaseState.withdrawn:
            # the hall confirms the withdrawal (or says it decided first): record what it said
            return cases.update_fields(case, province_status=change.status)
        if case.state != CaseState.at_province:
            logger.info(
                "province status left the case as it is",
                extra={"case_id": case.id, "state": case.state.value, "status": change.status},
            )
            return None
        steps = _status_steps(case, change)
        if not steps:
            return cases.update_fields(case, province_status=change.status)
        return applications.change(case, steps)

    return _again(apply, change.case_id)


def _is_own(case: Case, change: ProvinceCaseStatusChanged) -> bool:
    """Whether ``change`` may move ``case``: it names the case's own hall case number and,
    approving it, a licence id that holds (its check character included).

    A signed push names any city case it likes: a status for another hall case, or with a
    licence id that is not one, changes nothing (logged; the push was still acknowledged,
    so the hall does not retry it forever). A case whose hall number is not recorded yet
    (the push overtook the SubmitCase receipt) raises ``RetryableError``: the record is
    tried again once the receipt has recorded the number, never adopting the pushed one.
    """
    if case.province_case_no is None:
        if case.state in (CaseState.at_province, CaseState.withdrawn):
            raise RetryableError(f"case {case.id}'s hall case number is not recorded yet")
        return True  # not at the province: left as it is by the caller, with a log line
    if change.province_case_no != case.province_case_no:
        logger.warning(
            "province status names another hall case: left the case as it is",
            extra={
                "case_id": case.id,
                "case_no": case.province_case_no,
                "pushed_case_no": change.province_case_no,
                "status": change.status,
            },
        )
        return False
    if change.status == P.approved and change.licence_id is not None:
        try:
            check_licence_id(change.licence_id)
        except ValueError as exc:
            logger.warning(
                "province approval carries no valid licence id: left the case as it is",
                extra={"case_id": case.id, "licence_id": change.licence_id, "reason": str(exc)},
            )
            return False
    return True


def _status_steps(case: Case, change: ProvinceCaseStatusChanged) -> list[Step]:
    steps: list[Step] = []
    if change.status == P.received:
        return steps
    if _rank(case.province_status) < P.accepted.rank:
        implied = "" if change.status == P.accepted else " (implied by the decision)"
        steps.append(
            _step(
                "province_accept",
                f"省级部门已受理 accepted by the provincial department{implied}",
                province_status=P.accepted,
            )
        )
    if change.status == P.approved:
        licence = f"; e-licence {change.licence_id}" if change.licence_id else ""
        steps.append(
            _step(
                "province_approve",
                f"准予许可 approved by the province{licence}",
                province_status=P.approved,
                licence_id=change.licence_id,
            )
        )
    elif change.status == P.rejected:
        steps.append(
            _step(
                "province_reject",
                change.reason.strip() or "不予许可 rejected by the province (no reason given)",
                province_status=P.rejected,
            )
        )
    elif change.status == P.withdrawn:
        return []  # the hall withdrew a case the city did not: only recorded, by the caller
    return steps


# --- polling (province_sync): changes whose push never arrived -----------------------


def poll(query: Callable[[str], ProvinceCaseReceipt], source: str) -> list[Event]:
    """A ``case.province_status`` event for each case at the province whose status there
    is ahead of the last one applied; the events go the same way as pushes.

    ``query`` asks the hall for one case's receipt. A case the hall does not know is
    logged and skipped; a hall that does not answer ends the run (the next run asks again).
    """
    found: list[Event] = []
    waiting = 0
    for case in cases.open_cases():
        if case.state != CaseState.at_province:
            continue
        if not case.province_case_no:
            waiting += 1  # the forward is still on its way (or in the DLQ)
            continue
        try:
            receipt = query(case.province_case_no)
        except RetryableError as exc:
            logger.warning("the provincial hall does not answer", extra={"reason": str(exc)})
            break
        except GovbusError as exc:
            logger.warning(
                "the provincial hall refused a status query",
                extra={"case_id": case.id, "reason": f"{type(exc).__name__}: {exc}"},
            )
            continue
        if _rank(receipt.status) <= _rank(case.province_status):
            continue
        found.append(
            Event.create(
                "case.province_status",
                ProvinceCaseStatusChanged(
                    case_id=case.id,
                    province_case_no=receipt.province_case_no,
                    status=receipt.status,
                    reason=receipt.reason,
                    occurred_at=receipt.updated_at or _dt.datetime.now(_dt.UTC),
                    licence_id=receipt.licence_id,
                ),
                source=source,
                subject=case.id,
            )
        )
    if waiting:
        logger.info("cases at the province still without a receipt", extra={"count": waiting})
    return found
