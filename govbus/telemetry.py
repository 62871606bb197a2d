"""Sensor readings from the telemetry queue: decode, count, raise alerts once.

Each queue message is what the IoT topic rule (locally, the broker's forwarder) sends:
``{"topic", "payload" (base64), "received_ms"}``. The ``iot`` adapter decodes the
payload into a :class:`contracts.telemetry.Reading`; a message it cannot decode (not
JSON, over 16 KB, a ``ts`` no calendar holds, ...) is counted as rejected (the table's
counter and the ``TelemetryRejected`` metric) and dropped, never retried: a bad device
must not fill the dead-letter queue. A valid
reading becomes a ``telemetry.reading`` event; a reading over a threshold raises a
``city.alert`` for the responsible agency, once per episode: the device's alert state
flips to ``alerting`` in the same transaction as the event, and back to ``ok`` when a
reading is under the threshold again.

Table ``TELEMETRY_TABLE`` (``pk``/``sk``)::

    COUNTS#<day>                 <domain>   accepted / rejected counters
    ALERT#<domain>#<device>      <metric>   state (ok | alerting), since
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import re
import uuid
from typing import Any

from botocore.exceptions import ClientError

from contracts.constrained import loads_bounded
from contracts.errors import Conflict, InvalidRequest, PayloadTooLarge
from contracts.events import Event
from contracts.telemetry import (
    CityAlert,
    Reading,
    TelemetryDomain,
    TelemetryReading,
    Threshold,
    breaches,
    watched_metrics,
)
from govbus import outbox, settings
from govbus.aws import client
from govbus.observability import count, logger

SOURCE = "govbus.telemetry"
ADAPTER = "iot"
_NAMESPACE = uuid.UUID("6f1d4c8e-2b1a-4d7e-9c3f-0a5b7e2d9c41")
_DOMAIN_OF_TOPIC = re.compile(r"^city/([a-z_]{1,32})/")


def _table() -> str:
    return settings.table("telemetry")


def _count(domain: str, outcome: str) -> None:
    day = _dt.datetime.now(_dt.UTC).date().isoformat()
    client("dynamodb").update_item(
        TableName=_table(),
        Key={"pk": {"S": f"COUNTS#{day}"}, "sk": {"S": domain}},
        UpdateExpression="ADD #n :one",
        ExpressionAttributeNames={"#n": outcome},
        ExpressionAttributeValues={":one": {"N": "1"}},
    )


def counts(day: _dt.date) -> dict[str, dict[str, int]]:
    """``{domain: {"accepted": n, "rejected": m}}`` for one day."""
    answer = client("dynamodb").query(
        TableName=_table(),
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"COUNTS#{day.isoformat()}"}},
        ConsistentRead=True,
    )
    return {
        row["sk"]["S"]: {k: int(row[k]["N"]) if k in row else 0 for k in ("accepted", "rejected")}
        for row in answer.get("Items", [])
    }


def _envelope(body: str) -> tuple[str, bytes]:
    doc = loads_bounded(body)
    if not isinstance(doc, dict) or not isinstance(doc.get("topic"), str):
        raise InvalidRequest("a telemetry message is {topic, payload}", field="topic")
    try:
        payload = base64.b64decode(str(doc.get("payload", "")), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest("the payload is not base64", field="payload") from None
    return doc["topic"], payload


def handle_message(body: str, decode: Any) -> str:
    """Process one queue message; returns ``accepted``, ``duplicate`` or ``rejected``.

    ``decode(topic, payload)`` is the adapter's ``govbus_telemetry_decode``."""
    topic = ""
    try:
        topic, payload = _envelope(body)
        reading: Reading = decode(topic=topic, payload=payload)
    except (InvalidRequest, PayloadTooLarge, ValueError, ArithmeticError) as exc:
        # a refusal (InvalidRequest, PayloadTooLarge), or a value the adapter did not
        # foresee (an OverflowError, a ValueError): the message is bad either way, and
        # retrying it would only move it to the dead-letter queue and fire its alarm
        match = _DOMAIN_OF_TOPIC.match(topic)
        domain = match.group(1) if match else "unknown"
        _count(domain, "rejected")
        known = domain in {d.value for d in TelemetryDomain}  # a device cannot add dimensions
        count("TelemetryRejected", {"domain": domain if known else "unknown"})
        logger.warning(
            "telemetry message rejected",
            extra={
                "topic": topic[:120],
                "reason": str(exc)[:300] or type(exc).__name__,
                "field": getattr(exc, "field", None),
            },
        )
        return "rejected"
    outcome = record(reading)
    if outcome == "accepted":
        _count(reading.domain.value, "accepted")
    return outcome


def _alert_key(reading: Reading, metric: str) -> dict[str, Any]:
    return {
        "pk": {"S": f"ALERT#{reading.domain.value}#{reading.device}"},
        "sk": {"S": metric},
    }


def _alerting(reading: Reading, metric: str) -> bool:
    row = (
        client("dynamodb")
        .get_item(TableName=_table(), Key=_alert_key(reading, metric), ConsistentRead=True)
        .get("Item")
    )
    return bool(row) and row.get("state", {}).get("S") == "alerting"


def _raise_alert(
    reading: Reading, threshold: Threshold, value: float, reading_id: str
) -> tuple[dict[str, Any], Event]:
    write = {
        "Update": {
            "TableName": _table(),
            "Key": _alert_key(reading, threshold.metric),
            "UpdateExpression": "SET #s = :alerting, since = :at",
            "ConditionExpression": "attribute_not_exists(pk) OR #s = :ok",
            "ExpressionAttributeNames": {"#s": "state"},
            "ExpressionAttributeValues": {
                ":alerting": {"S": "alerting"},
                ":ok": {"S": "ok"},
                ":at": {"S": reading.measured_at.isoformat()},
            },
        }
    }
    event = Event.create(
        "city.alert",
        CityAlert(
            domain=reading.domain,
            device=reading.device,
            metric=threshold.metric,
            value=value,
            threshold=threshold.above,
            agency=threshold.agency,
            agency_name=threshold.agency_name,
            meaning=threshold.meaning,
            measured_at=reading.measured_at,
        ),
        source=SOURCE,
        subject=threshold.agency,
        id=str(uuid.uuid5(_NAMESPACE, f"{reading_id}/alert/{threshold.metric}")),
    )
    return write, event


def _clear_alert(reading: Reading, metric: str) -> dict[str, Any]:
    return {
        "Update": {
            "TableName": _table(),
            "Key": _alert_key(reading, metric),
            "UpdateExpression": "SET #s = :ok, since = :at",
            "ConditionExpression": "#s = :alerting",
            "ExpressionAttributeNames": {"#s": "state"},
            "ExpressionAttributeValues": {
                ":alerting": {"S": "alerting"},
                ":ok": {"S": "ok"},
                ":at": {"S": reading.measured_at.isoformat()},
            },
        }
    }


def _in_outbox(event_id: str) -> bool:
    row = client("dynamodb").get_item(
        TableName=outbox.table(), Key={"event_id": {"S": event_id}}, ConsistentRead=True
    )
    return "Item" in row


def record(reading: Reading) -> str:
    """The reading's event, and its alerts, in one transaction (idempotent on the reading)."""
    reading_id = str(
        uuid.uuid5(
            _NAMESPACE,
            f"{reading.domain.value}/{reading.device}/{reading.measured_at.isoformat()}",
        )
    )
    reading_event = Event.create(
        "telemetry.reading",
        TelemetryReading(
            domain=reading.domain,
            device=reading.device,
            measured_at=reading.measured_at,
            values=reading.values.model_dump(mode="json", exclude={"domain"}),
        ),
        source=SOURCE,
        subject=f"{reading.domain.value}/{reading.device}",
        id=reading_id,
    )
    over = {t.metric: (t, v) for t, v in breaches(reading)}
    for _attempt in range(3):
        writes: list[dict[str, Any]] = []
        events = [reading_event]
        for threshold in watched_metrics(reading.domain):
            alerting = _alerting(reading, threshold.metric)
            if threshold.metric in over and not alerting:
                write, alert = _raise_alert(reading, *over[threshold.metric], reading_id)
                writes.append(write)
                events.append(alert)
            elif threshold.metric not in over and alerting:
                writes.append(_clear_alert(reading, threshold.metric))
        try:
            outbox.commit(writes, events)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            if _in_outbox(reading_id):
                return "duplicate"  # a redelivery of a reading already recorded
            continue  # another reading of the device changed its alert state: look again
        for alert in events[1:]:
            logger.info(
                "city alert raised",
                extra={
                    "event_id": alert.id,
                    "agency": alert.data["agency"],
                    "device": reading.device,
                },
            )
        return "accepted"
    raise Conflict(f"the alert state of {reading.device} kept changing; the message comes again")
