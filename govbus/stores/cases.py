"""Cases and their timelines, one table: the case item and one item per transition.

A change is one transaction: the case item moves from the version it was read in, its
timeline entries are written beside it, and the events it causes go to the outbox
(govbus/outbox.py). Of two people acting at once, exactly one wins; the other gets
:class:`Conflict` naming the state the case is in now.
"""

from __future__ import annotations

import datetime as _dt
import secrets
import time
from collections.abc import Callable, Sequence
from typing import Any

from botocore.exceptions import ClientError

from contracts.cases import (
    OPEN_STATES,
    QUEUE_STATES,
    Actor,
    Case,
    CaseState,
    TimelineEntry,
)
from contracts.errors import Conflict, NotFound
from contracts.events import Event
from govbus import outbox, settings
from govbus.aws import client
from govbus.observability import count
from govbus.privacy import seal, unseal

CASE = "case"
# The by-agency-state index: a case item carries ``work_queue`` ("<agency>#<state>") and
# ``queued_at`` (when it was submitted) only while it waits in a department's work queue
# (QUEUE_STATES), so the index holds the cases waiting for an agency and nothing else.
# Case items written before the index existed carry neither until their next transition.
QUEUE_INDEX = "by-agency-state"


def _table() -> str:
    return settings.table("cases")


def new_case_id(now: _dt.datetime) -> str:
    return f"FZ{now:%Y%m%d}{secrets.token_hex(4).upper()}"


def _entry(seq: int) -> str:
    return f"t#{seq:06d}"


def create(
    case: Case,
    applicant_key: str,
    personal: dict[str, Any],
    actor: str,
    actor_kind: Actor,
    events: Callable[[Case, list[TimelineEntry]], list[Event]],
) -> Case:
    """Store a new case, its first timeline entry and the events ``events`` makes of them."""
    now = _dt.datetime.now(_dt.UTC)
    entry = TimelineEntry(
        seq=1,
        action="create",
        from_state=None,
        to_state=case.state,
        actor=actor,
        actor_kind=actor_kind,
        at=now,
    )
    outbox.commit(
        [
            {
                "Put": {
                    "TableName": _table(),
                    "ConditionExpression": "attribute_not_exists(case_id)",
                    "Item": _case_item(
                        case, applicant_key, seal(personal, {"case_id": case.id}), now
                    ),
                }
            },
            {"Put": {"TableName": _table(), "Item": _timeline_item(case.id, entry)}},
        ],
        events(case, [entry]),
    )
    count("CaseTransition", {"from": "(new)", "to": case.state.value})
    return case.model_copy(update={"timeline": [entry]})


def _case_item(case: Case, applicant_key: str, sealed: str, now: _dt.datetime) -> dict[str, Any]:
    item = {
        "case_id": {"S": case.id},
        "entry": {"S": CASE},
        "doc": {"S": case.model_dump_json(exclude={"timeline"})},
        "state": {"S": case.state.value},
        "version": {"N": str(case.version)},
        "applicant_key": {"S": applicant_key},
        "agency": {"S": case.agency},
        "created_at": {"S": now.isoformat()},
        "sealed": {"S": sealed},
        "open": {"BOOL": case.state in OPEN_STATES},
    }
    queue = _queue_attributes(case, now)
    if queue:
        item.update({"work_queue": queue[":work_queue"], "queued_at": queue[":queued_at"]})
    return item


def _queue_key(agency: str, state: CaseState) -> str:
    return f"{agency}#{state.value}"


def _utc_text(moment: _dt.datetime) -> str:
    # one fixed width, so that the index's string order is the order in time
    return moment.astimezone(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _queue_attributes(case: Case, now: _dt.datetime) -> dict[str, Any]:
    """The values of the case's place in its agency's work queue; {} when it waits for
    no department (a draft, a case back with its applicant, a closed one)."""
    if case.state not in QUEUE_STATES:
        return {}
    return {
        ":work_queue": {"S": _queue_key(case.agency, case.state)},
        ":queued_at": {"S": _utc_text(case.submitted_at or now)},
    }


READ_ATTEMPTS = 5


def _timeline_item(case_id: str, entry: TimelineEntry) -> dict[str, Any]:
    return {
        "case_id": {"S": case_id},
        "entry": {"S": _entry(entry.seq)},
        "doc": {"S": entry.model_dump_json()},
    }


def _rows(case_id: str) -> list[dict[str, Any]]:
    answer = client("dynamodb").query(
        TableName=_table(),
        KeyConditionExpression="case_id = :c",
        ExpressionAttributeValues={":c": {"S": case_id}},
        ConsistentRead=True,
    )
    return answer.get("Items", [])


def get(case_id: str) -> Case:
    """The case with its whole timeline, as one change left them.

    A Query is not isolated from a transaction in flight (read-committed per item, on
    DynamoDB as in the emulator): it can see the case item moved and not yet the timeline
    entries written with it. Each step bumps the version and writes the entry of that
    number, so a read whose last entry is not the case's version is read again.
    """
    for attempt in range(READ_ATTEMPTS):
        rows = _rows(case_id)
        head = next((r for r in rows if r["entry"]["S"] == CASE), None)
        if head is None:
            raise NotFound(f"no case {case_id}")
        case = Case.model_validate_json(head["doc"]["S"])
        timeline = sorted(
            (
                TimelineEntry.model_validate_json(r["doc"]["S"])
                for r in rows
                if r["entry"]["S"] != CASE
            ),
            key=lambda e: e.seq,
        )
        if not timeline or timeline[-1].seq == case.version:
            break
        time.sleep(0.02 * (attempt + 1))  # the rest of the transaction lands in ms
    return case.model_copy(update={"timeline": timeline})


def _head(case_id: str) -> dict[str, Any]:
    """The case item itself, read consistently."""
    row = (
        client("dynamodb")
        .get_item(
            TableName=_table(),
            Key={"case_id": {"S": case_id}, "entry": {"S": CASE}},
            ConsistentRead=True,
        )
        .get("Item")
    )
    if not row:
        raise NotFound(f"no case {case_id}")
    return row


def applicant_key(case_id: str) -> str:
    return _head(case_id)["applicant_key"]["S"]


def head_and_applicant(case_id: str) -> tuple[Case, str]:
    """The case without its timeline, and its applicant's blind-index key: one consistent
    read of the case item, for a check that needs no timeline (who, whose, which state)."""
    row = _head(case_id)
    return Case.model_validate_json(row["doc"]["S"]), row["applicant_key"]["S"]


def personal(case_id: str) -> dict[str, Any]:
    """The applicant's code, name and delivery address, decrypted."""
    return unseal(_head(case_id)["sealed"]["S"], {"case_id": case_id})


def save(
    before: Case,
    after: Case,
    entries: list[TimelineEntry],
    events: list[Event],
    extra: Sequence[dict[str, Any]] = (),
) -> Case:
    """Store ``after`` (the case as ``before`` became by ``entries``) and its events, at once.

    One transaction: the case item moves from the version it was read in, the timeline
    entries are added, the events go to the outbox, and ``extra`` (another record's
    change that belongs with this one, e.g. the order a payment settles) go with them. Of
    two people acting at once exactly one wins; the other gets :class:`Conflict` naming
    the state the case is in now.
    """
    values: dict[str, Any] = {
        ":doc": {"S": after.model_dump_json(exclude={"timeline"})},
        ":state": {"S": after.state.value},
        ":v": {"N": str(after.version)},
        ":expected": {"N": str(before.version)},
        ":open": {"BOOL": after.state in OPEN_STATES},
    }
    update = "SET doc = :doc, #s = :state, version = :v, #o = :open"
    queue = _queue_attributes(after, _dt.datetime.now(_dt.UTC))
    if queue:
        values.update(queue)
        update += ", work_queue = :work_queue, queued_at = :queued_at"
    else:  # out of every work queue (and out of the index) until it waits for one again
        update += " REMOVE work_queue, queued_at"
    writes: list[dict[str, Any]] = [
        {
            "Update": {
                "TableName": _table(),
                "Key": {"case_id": {"S": before.id}, "entry": {"S": CASE}},
                "UpdateExpression": update,
                "ConditionExpression": "version = :expected",
                "ExpressionAttributeNames": {"#s": "state", "#o": "open"},
                "ExpressionAttributeValues": values,
            }
        }
    ]
    writes += [
        {
            "Put": {
                "TableName": _table(),
                "Item": _timeline_item(before.id, entry),
                "ConditionExpression": "attribute_not_exists(case_id)",
            }
        }
        for entry in entries
    ]
    writes += list(extra)
    try:
        outbox.commit(writes, events)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "TransactionCanceledException":
            now_state = get(before.id).state.value.replace("_", " ")
            raise Conflict(f"the case changed while you acted: it is now {now_state}") from None
        raise
    for entry in entries:
        count("CaseTransition", {"from": _state_name(entry.from_state), "to": entry.to_state.value})
    return after.model_copy(update={"timeline": []})


def state_check(case_id: str, state: CaseState) -> dict[str, Any]:
    """A transaction item (``ConditionCheck``) that holds only while the case is in
    ``state``: another store's write that depends on the case carries it."""
    return {
        "ConditionCheck": {
            "TableName": _table(),
            "Key": {"case_id": {"S": case_id}, "entry": {"S": CASE}},
            "ConditionExpression": "#s = :state",
            "ExpressionAttributeNames": {"#s": "state"},
            "ExpressionAttributeValues": {":state": {"S": state.value}},
        }
    }


def _state_name(state: CaseState | None) -> str:
    return state.value if state is not None else "(new)"


def update_fields(case: Case, events: Sequence[Event] = (), **updates: Any) -> Case:
    """Change fields without a transition (e.g. the overdue flag), still version-checked,
    with the events the change causes in the same write."""
    moved = case.model_copy(update={"version": case.version, "timeline": [], **updates})
    try:
        outbox.commit(
            [
                {
                    "Update": {
                        "TableName": _table(),
                        "Key": {"case_id": {"S": case.id}, "entry": {"S": CASE}},
                        "UpdateExpression": "SET doc = :doc",
                        "ConditionExpression": "version = :v",
                        "ExpressionAttributeValues": {
                            ":doc": {"S": moved.model_dump_json(exclude={"timeline"})},
                            ":v": {"N": str(case.version)},
                        },
                    }
                }
            ],
            list(events),
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "TransactionCanceledException":
            raise Conflict("the case changed meanwhile") from None
        raise
    return moved


def by_applicant(key: str) -> list[Case]:
    answer = client("dynamodb").query(
        TableName=_table(),
        IndexName="by-applicant",
        KeyConditionExpression="applicant_key = :k",
        ExpressionAttributeValues={":k": {"S": key}},
        ScanIndexForward=False,
    )
    return [Case.model_validate_json(r["doc"]["S"]) for r in answer.get("Items", [])]


def work_queue(
    agency: str, state: CaseState, limit: int, after: dict[str, str] | None = None
) -> tuple[list[tuple[Case, str]], dict[str, str] | None]:
    """Up to ``limit`` of ``agency``'s cases waiting in ``state``, the earliest submitted
    first, each with its creation time; and the position after the last of them when more
    follow (None on the last page). ``after`` is such a position, from the page before.

    The index is read eventually consistent: a case moved a moment ago may still show in
    the state it left (reading it, GET /applications/{id}, tells).
    """
    queue = _queue_key(agency, state)
    kwargs: dict[str, Any] = {
        "TableName": _table(),
        "IndexName": QUEUE_INDEX,
        "KeyConditionExpression": "work_queue = :q",
        "ExpressionAttributeValues": {":q": {"S": queue}},
        "ScanIndexForward": True,
    }
    if after is not None:
        kwargs["ExclusiveStartKey"] = {
            "case_id": {"S": after["case_id"]},
            "entry": {"S": CASE},
            "work_queue": {"S": queue},
            "queued_at": {"S": after["queued_at"]},
        }
    rows: list[dict[str, Any]] = []
    # one row past the page tells whether another page follows, so the last page says so
    while len(rows) <= limit:
        kwargs["Limit"] = limit + 1 - len(rows)
        answer = client("dynamodb").query(**kwargs)
        rows.extend(answer.get("Items", []))
        if "LastEvaluatedKey" not in answer:
            break
        kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
    page = rows[:limit]
    more = len(rows) > limit
    position = (
        {"case_id": page[-1]["case_id"]["S"], "queued_at": page[-1]["queued_at"]["S"]}
        if more
        else None
    )
    return [(Case.model_validate_json(r["doc"]["S"]), r["created_at"]["S"]) for r in page], position


def open_cases() -> list[Case]:
    kwargs: dict[str, Any] = {
        "TableName": _table(),
        "FilterExpression": "entry = :case AND #o = :yes",
        "ExpressionAttributeNames": {"#o": "open"},
        "ExpressionAttributeValues": {":case": {"S": CASE}, ":yes": {"BOOL": True}},
    }
    found = []
    while True:
        answer = client("dynamodb").scan(**kwargs)
        found.extend(Case.model_validate_json(r["doc"]["S"]) for r in answer.get("Items", []))
        if "LastEvaluatedKey" not in answer:
            return found
        kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
