"""12345 tickets: created with a deadline, answered by the agency, escalated when late."""

from __future__ import annotations

import datetime as _dt
import secrets
from typing import Any

from botocore.exceptions import ClientError

from contracts.errors import Conflict, NotFound, ValidationFailed
from contracts.events import Event
from contracts.hotline import Handling, Ticket, TicketAnswered, TicketStatus
from govbus import outbox, settings
from govbus.aws import client
from govbus.stores import clients

ESCALATED_TO = "福州市效能办 efficiency supervision office"


def _table() -> str:
    return settings.table("tickets")


HANDLE_SCOPE = "hotline:handle"


def require_answering_agency(agency: str) -> None:
    """422 unless a department of ``agency`` is on the platform to answer its tickets: a
    ticket assigned to a code no one holds (valid check character or not) is never
    answered, only escalated."""
    if not clients.agency_holds(agency, HANDLE_SCOPE):
        raise ValidationFailed(
            f"agency {agency}: no department of that code is on the platform to answer "
            f"12345 tickets; check the code, or name the case the complaint is about",
            field="agency",
        )


def new_ticket_id(now: _dt.datetime) -> str:
    return f"12345-{now:%Y%m%d}-{secrets.token_hex(3).upper()}"


def save(
    ticket: Ticket,
    caller_key: str,
    expected: TicketStatus | None = None,
    events: list[Event] | None = None,
) -> Ticket:
    item = {
        "id": {"S": ticket.id},
        "status": {"S": ticket.status.value},
        "agency": {"S": ticket.agency},
        "caller_key": {"S": caller_key},
        "deadline": {"S": ticket.deadline.isoformat()},
        "doc": {"S": ticket.model_dump_json()},
    }
    condition: dict[str, Any]
    if expected is None:
        condition = {"ConditionExpression": "attribute_not_exists(id)"}
    else:
        condition = {
            "ConditionExpression": "#s = :expected",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {":expected": {"S": expected.value}},
        }
    try:
        if events:
            # the change and its events are one write (the outbox publishes them)
            outbox.commit([{"Put": {"TableName": _table(), "Item": item, **condition}}], events)
        else:
            client("dynamodb").put_item(TableName=_table(), Item=item, **condition)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in (
            "ConditionalCheckFailedException",
            "TransactionCanceledException",
        ):
            raise Conflict("the ticket changed meanwhile; read it again") from None
        raise
    return ticket


def get(ticket_id: str) -> tuple[Ticket, str]:
    row = (
        client("dynamodb")
        .get_item(TableName=_table(), Key={"id": {"S": ticket_id}}, ConsistentRead=True)
        .get("Item")
    )
    if not row:
        raise NotFound(f"no ticket {ticket_id}")
    return Ticket.model_validate_json(row["doc"]["S"]), row["caller_key"]["S"]


def by_caller(caller_key: str) -> list[Ticket]:
    answer = client("dynamodb").query(
        TableName=_table(),
        IndexName="by-caller",
        KeyConditionExpression="caller_key = :k",
        ExpressionAttributeValues={":k": {"S": caller_key}},
    )
    return [Ticket.model_validate_json(r["doc"]["S"]) for r in answer.get("Items", [])]


def by_agency(agency: str, status: TicketStatus | None = None) -> list[Ticket]:
    """The tickets assigned to ``agency``, the nearest deadline first; ``status`` filters."""
    kwargs: dict[str, Any] = {
        "TableName": _table(),
        "IndexName": "by-agency",
        "KeyConditionExpression": "agency = :a",
        "ExpressionAttributeValues": {":a": {"S": agency}},
    }
    if status is not None:
        kwargs["FilterExpression"] = "#s = :s"
        kwargs["ExpressionAttributeNames"] = {"#s": "status"}
        kwargs["ExpressionAttributeValues"][":s"] = {"S": status.value}
    found: list[Ticket] = []
    while True:
        answer = client("dynamodb").query(**kwargs)
        found.extend(Ticket.model_validate_json(r["doc"]["S"]) for r in answer.get("Items", []))
        if "LastEvaluatedKey" not in answer:
            return found
        kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def answer(ticket_id: str, by: str, text: str) -> Ticket:
    ticket, key = get(ticket_id)
    if ticket.status not in (TicketStatus.open, TicketStatus.escalated):
        raise Conflict(f"the ticket is {ticket.status.value}")
    now = _dt.datetime.now(_dt.UTC)
    done = ticket.model_copy(
        update={
            "status": TicketStatus.answered,
            "answer": text,
            "handling": [*ticket.handling, Handling(at=now, by=by, what=f"answered: {text}")],
        }
    )
    answered = Event.create(
        "hotline.answered",
        TicketAnswered(
            ticket_id=ticket.id, agency=ticket.agency, caller_key=key, title=ticket.title
        ),
        source="govbus.hotline",
        subject=ticket.id,
    )
    return save(done, key, expected=ticket.status, events=[answered])


def escalate_overdue(today: _dt.date) -> list[Ticket]:
    """Every open ticket past its deadline goes to the supervision office, once."""
    kwargs: dict[str, Any] = {
        "TableName": _table(),
        "FilterExpression": "#s = :open AND deadline < :today",
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {":open": {"S": "open"}, ":today": {"S": today.isoformat()}},
    }
    escalated = []
    while True:
        page = client("dynamodb").scan(**kwargs)
        for row in page.get("Items", []):
            ticket = Ticket.model_validate_json(row["doc"]["S"])
            now = _dt.datetime.now(_dt.UTC)
            late = ticket.model_copy(
                update={
                    "status": TicketStatus.escalated,
                    "escalated_to": ESCALATED_TO,
                    "handling": [
                        *ticket.handling,
                        Handling(
                            at=now,
                            by="supervision",
                            what=f"escalated: no answer by {ticket.deadline.isoformat()}",
                        ),
                    ],
                }
            )
            try:
                escalated.append(save(late, row["caller_key"]["S"], expected=TicketStatus.open))
            except Conflict:
                continue  # answered meanwhile, or another run escalated it
        if "LastEvaluatedKey" not in page:
            return escalated
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
