"""Appointment slots and bookings: a booking takes a place only while places remain.

Booking is one transaction: the slot's ``booked`` count goes up on condition that it
is below capacity, and the booking (one per person per slot) is written beside it. Of
fifty people clicking for ten places, exactly ten get one.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from typing import Any

from botocore.exceptions import ClientError

from contracts.appointments import Booking, Slot, SlotsRequest
from contracts.errors import Conflict, NotFound
from contracts.identity import mask_identifier
from govbus import settings
from govbus.aws import client


def _slots() -> str:
    return settings.table("appointments_slots")


def _bookings() -> str:
    return settings.table("appointments_bookings")


def _slot_key(hall: str, day: _dt.date, item_code: str, time: str) -> dict[str, Any]:
    return {"hall_day": {"S": f"{hall}#{day.isoformat()}"}, "slot": {"S": f"{item_code}#{time}"}}


def open_slots(request: SlotsRequest) -> list[Slot]:
    """Open (or resize) the request's slots; never below the places already booked.

    Every slot is checked before any is written, so a refused request changes nothing;
    a booking racing in between is still caught by the conditional write.
    """
    existing = {
        s.time: s for s in slots(request.hall, request.day) if s.item_code == request.item_code
    }
    for time in request.times:
        _refuse_shrinking(existing.get(time), request.capacity)
    for time in request.times:
        try:
            client("dynamodb").put_item(
                TableName=_slots(),
                Item={
                    **_slot_key(request.hall, request.day, request.item_code, time),
                    "places": {"N": str(request.capacity)},
                    "booked": {"N": "0"},
                },
                ConditionExpression="attribute_not_exists(slot)",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            # an existing slot keeps its bookings; only its capacity changes
            try:
                client("dynamodb").update_item(
                    TableName=_slots(),
                    Key=_slot_key(request.hall, request.day, request.item_code, time),
                    UpdateExpression="SET places = :c",
                    ConditionExpression="booked <= :c",
                    ExpressionAttributeValues={":c": {"N": str(request.capacity)}},
                )
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
                found = {
                    s.time: s
                    for s in slots(request.hall, request.day)
                    if s.item_code == request.item_code
                }
                _refuse_shrinking(found.get(time), request.capacity)
                raise
    return slots(request.hall, request.day)


def _refuse_shrinking(slot: Slot | None, capacity: int) -> None:
    if slot is not None and slot.booked > capacity:
        raise Conflict(
            f"the {slot.time} slot already has {slot.booked} booking(s); its capacity "
            f"cannot go below that (cancel bookings first)"
        )


def slots(hall: str, day: _dt.date) -> list[Slot]:
    answer = client("dynamodb").query(
        TableName=_slots(),
        KeyConditionExpression="hall_day = :k",
        ExpressionAttributeValues={":k": {"S": f"{hall}#{day.isoformat()}"}},
        ConsistentRead=True,
    )
    found = []
    for row in answer.get("Items", []):
        item_code, time = row["slot"]["S"].rsplit("#", 1)
        found.append(
            Slot(
                hall=hall,
                item_code=item_code,
                day=day,
                time=time,
                capacity=int(row["places"]["N"]),
                booked=int(row["booked"]["N"]),
            )
        )
    return sorted(found, key=lambda s: (s.time, s.item_code))


def booking_id(applicant_key: str, hall: str, item_code: str, day: _dt.date, time: str) -> str:
    raw = f"{applicant_key}|{hall}|{item_code}|{day.isoformat()}|{time}"
    return "AP" + hashlib.sha256(raw.encode()).hexdigest()[:16].upper()


def book(
    applicant_key: str, applicant_code: str, hall: str, item_code: str, day: _dt.date, time: str
) -> Booking:
    bid = booking_id(applicant_key, hall, item_code, day, time)
    now = _dt.datetime.now(_dt.UTC)
    booking = Booking(
        id=bid,
        hall=hall,
        item_code=item_code,
        day=day,
        time=time,
        status="booked",
        applicant=mask_identifier(applicant_code),
        created_at=now,
    )
    try:
        client("dynamodb").transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": _slots(),
                        "Key": _slot_key(hall, day, item_code, time),
                        "UpdateExpression": "SET booked = booked + :one",
                        "ConditionExpression": "attribute_exists(slot) AND booked < places",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
                {
                    "Put": {
                        "TableName": _bookings(),
                        "Item": {
                            "id": {"S": bid},
                            "applicant_key": {"S": applicant_key},
                            "day": {"S": day.isoformat()},
                            "status": {"S": "booked"},
                            "doc": {"S": booking.model_dump_json()},
                        },
                        "ConditionExpression": "attribute_not_exists(id) OR #s = :cancelled",
                        "ExpressionAttributeNames": {"#s": "status"},
                        "ExpressionAttributeValues": {":cancelled": {"S": "cancelled"}},
                    }
                },
            ]
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "TransactionCanceledException":
            raise
        reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
        if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
            raise Conflict("you already hold this appointment") from None
        raise Conflict("this time is fully booked; choose another") from None
    return booking


def get(bid: str) -> tuple[Booking, str]:
    row = (
        client("dynamodb")
        .get_item(TableName=_bookings(), Key={"id": {"S": bid}}, ConsistentRead=True)
        .get("Item")
    )
    if not row:
        raise NotFound(f"no appointment {bid}")
    booking = Booking.model_validate_json(row["doc"]["S"])
    return booking.model_copy(update={"status": row["status"]["S"]}), row["applicant_key"]["S"]


def cancel(bid: str) -> Booking:
    booking, _ = get(bid)
    try:
        client("dynamodb").transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": _bookings(),
                        "Key": {"id": {"S": bid}},
                        "UpdateExpression": "SET #s = :cancelled",
                        "ConditionExpression": "#s = :booked",
                        "ExpressionAttributeNames": {"#s": "status"},
                        "ExpressionAttributeValues": {
                            ":cancelled": {"S": "cancelled"},
                            ":booked": {"S": "booked"},
                        },
                    }
                },
                {
                    "Update": {
                        "TableName": _slots(),
                        "Key": _slot_key(
                            booking.hall, booking.day, booking.item_code, booking.time
                        ),
                        "UpdateExpression": "SET booked = booked - :one",
                        "ConditionExpression": "booked > :zero",
                        "ExpressionAttributeValues": {":one": {"N": "1"}, ":zero": {"N": "0"}},
                    }
                },
            ]
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "TransactionCanceledException":
            raise Conflict("this appointment is already cancelled") from None
        raise
    return booking.model_copy(update={"status": "cancelled"})


def mine(applicant_key: str) -> list[Booking]:
    answer = client("dynamodb").query(
        TableName=_bookings(),
        IndexName="by-applicant",
        KeyConditionExpression="applicant_key = :k",
        ExpressionAttributeValues={":k": {"S": applicant_key}},
    )
    return [
        Booking.model_validate_json(r["doc"]["S"]).model_copy(update={"status": r["status"]["S"]})
        for r in answer.get("Items", [])
    ]


def due_reminders(day: _dt.date) -> list[tuple[Booking, str]]:
    """Bookings on ``day`` not yet reminded; marks each reminded (once, conditionally)."""
    answer = client("dynamodb").query(
        TableName=_bookings(),
        IndexName="by-day",
        KeyConditionExpression="#d = :d",
        ExpressionAttributeNames={"#d": "day"},
        ExpressionAttributeValues={":d": {"S": day.isoformat()}},
    )
    found = []
    for row in answer.get("Items", []):
        if row["status"]["S"] != "booked":
            continue
        try:
            client("dynamodb").update_item(
                TableName=_bookings(),
                Key={"id": row["id"]},
                UpdateExpression="SET reminded = :yes",
                ConditionExpression="attribute_not_exists(reminded) AND #s = :booked",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":yes": {"BOOL": True}, ":booked": {"S": "booked"}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                continue
            raise
        found.append((Booking.model_validate_json(row["doc"]["S"]), row["applicant_key"]["S"]))
    return found
