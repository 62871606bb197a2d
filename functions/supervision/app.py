"""Scheduled supervision (督办): as of the schedule's time, flag overdue cases (a case at
the provincial hall against the province's time limit), escalate overdue 12345 tickets,
and remind tomorrow's appointments. Each run is idempotent."""

from govbus import init_phase  # noqa: F401 - first: see govbus/init_phase.py

# isort: split

import datetime as dt

from aws_lambda_powertools.utilities.typing import LambdaContext

from contracts.appointments import AppointmentReminder
from contracts.cases import Case, CaseOverdue, CaseState
from contracts.catalog import ItemLevel
from contracts.errors import Conflict
from contracts.events import Event
from contracts.hotline import TicketEscalated
from govbus.bus import publish
from govbus.observability import logger, metrics, tracer
from govbus.stores import appointments, cases, hotline

SOURCE = "govbus.supervision"


def _late(case: Case, today: dt.date) -> tuple[dt.date, ItemLevel, str] | None:
    """(the due date passed, whose time limit, the flag to set), if the case is late."""
    if case.state == CaseState.at_province:
        # the city's part is done: the province's time limit (from its receipt) runs now
        if case.province_due and case.province_due < today and not case.province_overdue:
            return case.province_due, ItemLevel.province, "province_overdue"
        return None
    if case.due and case.due < today and not case.overdue:
        return case.due, ItemLevel.city, "overdue"
    return None


def overdue_cases(today: dt.date) -> list[Event]:
    found = []
    for case in cases.open_cases():
        late = _late(case, today)
        if late is None:
            continue
        due, level, flag = late
        flagged = Event.create(
            "case.overdue",
            CaseOverdue(case_id=case.id, agency=case.agency, due=due, level=level),
            source=SOURCE,
            subject=case.id,
        )
        try:
            # the flag and its event are one write (the outbox publishes the event)
            cases.update_fields(case, [flagged], **{flag: True})
        except Conflict:
            continue  # it moved on meanwhile; the next run looks again
        found.append(flagged)
    return found


def escalations(today: dt.date) -> list[Event]:
    return [
        Event.create(
            "hotline.escalated",
            TicketEscalated(
                ticket_id=t.id,
                agency=t.agency,
                deadline=t.deadline,
                escalated_to=t.escalated_to or "",
            ),
            source=SOURCE,
            subject=t.id,
        )
        for t in hotline.escalate_overdue(today)
    ]


def reminders(today: dt.date) -> list[Event]:
    tomorrow = today + dt.timedelta(days=1)
    return [
        Event.create(
            "appointment.reminder",
            AppointmentReminder(
                booking_id=b.id,
                applicant_key=key,
                hall=b.hall,
                item_code=b.item_code,
                day=b.day,
                time=b.time,
            ),
            source=SOURCE,
            subject=b.id,
        )
        for b, key in appointments.due_reminders(tomorrow)
    ]


@metrics.log_metrics
@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    raw = event.get("time")
    now = dt.datetime.fromisoformat(raw.replace("Z", "+00:00")) if raw else dt.datetime.now(dt.UTC)
    today = now.date()
    found = {
        "overdue_cases": overdue_cases(today),  # published through the outbox
        "escalated_tickets": escalations(today),
        "reminders": reminders(today),
    }
    for kind in ("escalated_tickets", "reminders"):
        if found[kind]:
            publish(found[kind])
    summary = {k: len(v) for k, v in found.items()}
    logger.info("supervision run", extra={"as_of": today.isoformat(), **summary})
    return summary
