"""The transactional outbox: a change and the events it causes are one write.

A store that changes state adds :func:`puts` to the same ``TransactWriteItems`` call,
so the events are committed with the change or not at all. The outbox table's stream
feeds the ``publisher`` function, which puts each event on EventBridge and marks it
published; a scheduled sweep publishes whatever the stream did not deliver (retries
exhausted, the bus down for longer than the stream's retry budget). Publishing is
idempotent on the event id: an event already marked published is never put again.

Outbox item::

    event_id      the envelope's id (the key)
    envelope      the whole CloudEvents envelope, JSON, its personal fields masked
    sealed        those fields in clear, KMS envelope-encrypted (govbus/privacy.py) under
                  the event id: only for event types in PERSONAL_FIELDS
    event_type    its type, for operators
    created_at    ISO time of the change
    pending       "1" until published (a sparse index of what still waits: by-pending)
    published_at  ISO time it reached the bus
    expires_at    TTL: kept a week after the change, for replay and audit
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from botocore.exceptions import ClientError

from contracts.events import Event
from contracts.identity import mask_identifier
from contracts.masking import mask_name, mask_text
from govbus import settings
from govbus.aws import client
from govbus.bus import MAX_ENTRIES_PER_CALL, bus_name, to_entry
from govbus.observability import logger
from govbus.privacy import seal, unseal

RETENTION = _dt.timedelta(days=7)
PENDING = "1"
MAX_TRANSACTION_ITEMS = 100  # DynamoDB's limit for one TransactWriteItems


def table() -> str:
    return settings.table("outbox")


# event type -> the data fields that hold a person's data: sealed at rest in the outbox,
# opened by the publisher only to put the event on the bus (whose rules carry it to the
# consumers entitled to it: the licence issuer, the courier, the provincial hall). Their
# writers (the applications, case events and payments functions) hold the personal data
# key; the publisher may decrypt with it.
PERSONAL_FIELDS: dict[str, tuple[str, ...]] = {
    "licence.requested": ("holder_code", "holder_name"),  # 持证人
    "delivery.requested": ("request",),  # the receiver's name, mobile and address
    "province.forward_requested": ("forward",),  # the applicant's ID and name
}
_ADDRESS_PARTS = frozenset({"street", "postcode", "district"})


def _masked(value: Any, key: str = "") -> Any:
    """What the outbox row shows in place of a sealed field (for operators)."""
    if isinstance(value, dict):
        return {k: _masked(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v, key) for v in value]
    if not isinstance(value, str):
        return value
    if key in _ADDRESS_PARTS:
        return "*" * len(value)
    if key == "name" or key.endswith(("holder_name", "applicant_name")):
        return mask_name(value)
    if key.endswith("_code") and key not in ("item_code", "type_code"):
        return mask_identifier(value)
    return mask_text(value)


def _context(event_id: str) -> dict[str, str]:
    return {"record": "outbox", "event_id": event_id}


def at_rest(event: Event) -> dict[str, dict[str, str]]:
    """The ``envelope`` (and ``sealed``) attributes ``event`` is stored with."""
    fields = PERSONAL_FIELDS.get(event.type, ())
    doc = event.model_dump(mode="json")
    data = doc.get("data")
    personal = {f: data[f] for f in fields if isinstance(data, dict) and f in data}
    if not personal:
        return {"envelope": {"S": event.model_dump_json()}}
    for name, value in personal.items():
        data[name] = _masked(value, name)
    return {
        "envelope": {"S": json.dumps(doc, ensure_ascii=False, separators=(",", ":"))},
        "sealed": {"S": seal(personal, _context(event.id))},
    }


def envelope_of(item: dict[str, Any]) -> str:
    """The whole envelope of an outbox row (a table item or a stream image), its sealed
    personal fields opened."""
    envelope = item["envelope"]["S"]
    if "sealed" not in item:
        return envelope
    doc = json.loads(envelope)
    doc["data"].update(unseal(item["sealed"]["S"], _context(item["event_id"]["S"])))
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def puts(events: Iterable[Event]) -> list[dict[str, Any]]:
    """``TransactItems`` entries that write ``events`` to the outbox, once each."""
    now = _dt.datetime.now(_dt.UTC)
    expires = int((now + RETENTION).timestamp())
    return [
        {
            "Put": {
                "TableName": table(),
                "ConditionExpression": "attribute_not_exists(event_id)",
                "Item": {
                    "event_id": {"S": event.id},
                    **at_rest(event),
                    "event_type": {"S": event.type},
                    "created_at": {"S": now.isoformat()},
                    "pending": {"S": PENDING},
                    "expires_at": {"N": str(expires)},
                },
            }
        }
        for event in events
    ]


def commit(writes: Sequence[dict[str, Any]], events: Sequence[Event]) -> None:
    """Write ``writes`` (state changes) and ``events`` (their outbox rows) atomically.

    Raises botocore's ClientError (``TransactionCanceledException``) when a condition
    fails; the caller maps it to its domain meaning.
    """
    items = [*writes, *puts(events)]
    if not items:
        return
    if len(items) > MAX_TRANSACTION_ITEMS:
        raise ValueError(f"one change may carry at most {MAX_TRANSACTION_ITEMS} writes")
    client("dynamodb").transact_write_items(TransactItems=items)


def record(events: Sequence[Event]) -> None:
    """Events caused by a change that has no row of its own (a fact, e.g. a reminder)."""
    commit([], events)


# --- the publishing side (the publisher function) ------------------------------------


CLAIM_SECONDS = 30  # one publisher at a time per event; a crashed one's claim lapses


def _claim(event_id: str) -> bool:
    """Take the event for publishing, unless it is published or another publisher has it."""
    now = _dt.datetime.now(_dt.UTC)
    try:
        client("dynamodb").update_item(
            TableName=table(),
            Key={"event_id": {"S": event_id}},
            UpdateExpression="SET claimed_until = :until",
            ConditionExpression=(
                "attribute_exists(event_id) AND attribute_not_exists(published_at) AND "
                "(attribute_not_exists(claimed_until) OR claimed_until < :now)"
            ),
            ExpressionAttributeValues={
                ":now": {"N": str(int(now.timestamp()))},
                ":until": {"N": str(int(now.timestamp()) + CLAIM_SECONDS)},
            },
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


def _release(event_id: str) -> None:
    """Give the claim back after a failed put, so the next attempt need not wait it out."""
    client("dynamodb").update_item(
        TableName=table(),
        Key={"event_id": {"S": event_id}},
        UpdateExpression="REMOVE claimed_until",
        ConditionExpression="attribute_exists(event_id)",
    )


def _is_published(event_id: str) -> bool:
    row = (
        client("dynamodb")
        .get_item(
            TableName=table(),
            Key={"event_id": {"S": event_id}},
            ConsistentRead=True,
            ProjectionExpression="published_at",
        )
        .get("Item")
    )
    # a row gone (expired) counts as published: there is nothing left to put
    return not row or "published_at" in row


def _mark_published(event_id: str) -> None:
    try:
        client("dynamodb").update_item(
            TableName=table(),
            Key={"event_id": {"S": event_id}},
            UpdateExpression="SET published_at = :now REMOVE pending, claimed_until",
            ConditionExpression="attribute_exists(event_id)",
            ExpressionAttributeValues={":now": {"S": _dt.datetime.now(_dt.UTC).isoformat()}},
        )
    except ClientError as exc:
        # expired by TTL meanwhile: nothing left to mark
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise


#: what one more chunk needs at most (a PutEvents and ten marks): none starts with less
RESERVE_MS = 5_000


def publish_pending(
    rows: Sequence[dict[str, Any] | tuple[str, str]],
    time_left_ms: Callable[[], int] | None = None,
) -> dict[str, str]:
    """Put the events of the given outbox rows (table items or stream images, or
    ``(event_id, envelope JSON)`` pairs) on the bus unless already published; sealed
    personal fields are opened only here.

    Returns ``{event_id: reason}`` for those that could not be published now (the caller
    reports them as failures so they come again); the rest are published and marked.
    ``time_left_ms`` (the invocation's remaining time): no chunk starts that could be cut
    off between PutEvents and marking its rows, which would publish them again later; the
    rest are released, still pending, for the next run.
    """
    bus = bus_name()
    failed: dict[str, str] = {}
    todo = []
    for row in rows:
        eid = row[0] if isinstance(row, tuple) else row["event_id"]["S"]
        if _claim(eid):
            try:
                todo.append((eid, row[1] if isinstance(row, tuple) else envelope_of(row)))
            except Exception as exc:  # KMS unavailable: the row comes again
                logger.warning(
                    "an outbox event's personal data could not be opened",
                    extra={"event_id": eid, "reason": type(exc).__name__},
                )
                failed[eid] = f"could not open its sealed fields ({type(exc).__name__})"
                _release(eid)
        elif not _is_published(eid):
            failed[eid] = "another publisher holds it"  # comes again; never put twice
    for start in range(0, len(todo), MAX_ENTRIES_PER_CALL):
        if time_left_ms is not None and time_left_ms() < RESERVE_MS:
            for eid, _env in todo[start:]:
                failed[eid] = "out of time"
                _release(eid)
            break
        chunk = todo[start : start + MAX_ENTRIES_PER_CALL]
        entries = [to_entry(Event.model_validate_json(env), bus) for _eid, env in chunk]
        try:
            answer = client("events").put_events(Entries=entries)
        except ClientError as exc:
            for eid, _env in chunk:
                failed[eid] = exc.response["Error"]["Code"]
                _release(eid)
            continue
        for (eid, _env), result in zip(chunk, answer["Entries"], strict=True):
            if result.get("ErrorCode"):
                failed[eid] = result["ErrorCode"]
                _release(eid)
            else:
                _mark_published(eid)
    return failed


def waiting(older_than: _dt.timedelta, limit: int = 500) -> Iterator[dict[str, Any]]:
    """Outbox rows still pending after ``older_than``: the sweep's work."""
    cutoff = (_dt.datetime.now(_dt.UTC) - older_than).isoformat()
    kwargs: dict[str, Any] = {
        "TableName": table(),
        "IndexName": "by-pending",
        "KeyConditionExpression": "pending = :p AND created_at <= :cutoff",
        "ExpressionAttributeValues": {":p": {"S": PENDING}, ":cutoff": {"S": cutoff}},
    }
    seen = 0
    while True:
        answer = client("dynamodb").query(**kwargs)
        for row in answer.get("Items", []):
            # the index projects keys only: read the envelope from the table
            full = (
                client("dynamodb")
                .get_item(TableName=table(), Key={"event_id": row["event_id"]}, ConsistentRead=True)
                .get("Item")
            )
            if full and "published_at" not in full:
                yield full
                seen += 1
                if seen >= limit:
                    return
        if "LastEvaluatedKey" not in answer:
            return
        kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
