"""The "one code" index (一码管理): what the platform holds about a subject, per source.

Events that concern a subject carry its blind index key; each indexed event type maps
to one record (source, id, summary) under that key. New services add a line to
``INDEXED``; the index never stores the raw code.

A record keeps the word of the newest event about it: the write is conditional on the
stored event's time (``event_time_us``) being no later than this one's, so an event
delivered again after a newer one (a redelivery, a DLQ redrive, a replay) or arriving
late changes nothing. The same event again writes the same row.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel

from contracts.events import Event
from govbus import settings
from govbus.aws import client

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)


class IndexedRecord(BaseModel):
    source: str  # the service that holds it: accounts, applications, licences, payments, shipments
    record_id: str
    summary: str
    time: _dt.datetime
    removed: bool = False


Indexer = Callable[[Event], tuple[str, IndexedRecord] | None]


def _account(event: Event) -> tuple[str, IndexedRecord] | None:
    data = event.data
    removed = event.type == "account.deregistered"
    summary = {
        "account.registered": f"account registered ({data.get('subject_kind', '')})",
        "account.updated": f"account details changed ({', '.join(data.get('fields', []))})",
        "account.deregistered": "account deregistered",
    }[event.type]
    return data["subject_key"], IndexedRecord(
        source="accounts", record_id="account", summary=summary, time=event.time, removed=removed
    )


def _shipment(event: Event) -> tuple[str, IndexedRecord] | None:
    key = event.data.get("applicant_key")
    if not key:
        return None
    case_id = event.data["request"]["case_id"]
    return key, IndexedRecord(
        source="shipments",
        record_id=case_id,
        summary=f"result delivery by {event.data.get('carrier', '?')}",
        time=event.time,
    )


def _licence(event: Event) -> tuple[str, IndexedRecord] | None:
    from contracts.licences import LICENCE_TYPES

    data = event.data
    kind = LICENCE_TYPES.get(data["type_code"])
    name = kind.name if kind else data["type_code"]
    revoked = event.type == "licence.revoked"
    return data["holder_key"], IndexedRecord(
        source="licences",
        record_id=data["licence_id"],
        summary=f"{name} {'revoked: ' + data.get('reason', '') if revoked else 'issued'}".strip(),
        time=event.time,
        removed=revoked,
    )


def _case(event: Event) -> tuple[str, IndexedRecord] | None:
    data = event.data
    return data["applicant_key"], IndexedRecord(
        source="applications",
        record_id=data["case_id"],
        summary=f"{data.get('item_name', data['item_code'])}: {data['to_state']}",
        time=event.time,
    )


INDEXED: dict[str, Indexer] = {
    "case.transitioned": _case,
    "licence.issued": _licence,
    "licence.revoked": _licence,
    "account.registered": _account,
    "account.updated": _account,
    "account.deregistered": _account,
    "delivery.requested": _shipment,
}


def _table() -> str:
    return settings.table("subject_index")


def _micros(at: _dt.datetime) -> int:
    """Microseconds since the epoch (a time without an offset is UTC, as on the bus)."""
    aware = at if at.tzinfo is not None else at.replace(tzinfo=_dt.UTC)
    return (aware - _EPOCH) // _dt.timedelta(microseconds=1)


def index(event: Event) -> bool:
    """Record what ``event`` says about its subject; False when it says nothing, or when
    the record already holds a newer event's word."""
    indexer = INDEXED.get(event.type)
    found = indexer(event) if indexer else None
    if found is None:
        return False
    key, rec = found
    at = str(_micros(event.time))
    try:
        client("dynamodb").put_item(
            TableName=_table(),
            Item={
                "subject_key": {"S": key},
                "record": {"S": f"{rec.source}#{rec.record_id}"},
                "source": {"S": rec.source},
                "record_id": {"S": rec.record_id},
                "summary": {"S": rec.summary},
                "time": {"S": rec.time.isoformat()},
                "event_time_us": {"N": at},
                "removed": {"BOOL": rec.removed},
                "event_id": {"S": event.id},
            },
            ConditionExpression="attribute_not_exists(event_time_us) OR event_time_us <= :at",
            ExpressionAttributeValues={":at": {"N": at}},
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return False  # older than the record's event: late, or delivered again
    return True


def records(key: str) -> list[IndexedRecord]:
    kwargs: dict[str, Any] = {
        "TableName": _table(),
        "KeyConditionExpression": "subject_key = :k",
        "ExpressionAttributeValues": {":k": {"S": key}},
    }
    found = []
    while True:
        answer = client("dynamodb").query(**kwargs)
        for item in answer.get("Items", []):
            found.append(
                IndexedRecord(
                    source=item["source"]["S"],
                    record_id=item["record_id"]["S"],
                    summary=item["summary"]["S"],
                    time=item["time"]["S"],
                    removed=item.get("removed", {}).get("BOOL", False),
                )
            )
        if "LastEvaluatedKey" not in answer:
            return sorted(found, key=lambda r: r.time)
        kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
