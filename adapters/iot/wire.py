"""The devices' wire format: what a sensor publishes, mapped to ``contracts.telemetry``.

A payload is a JSON object: ``ts`` (unix milliseconds, or an ISO 8601 time with a
zone) and the domain's fields, under the devices' own names::

    water    {"ts": ..., "level": 2.31}                        metres above the datum
    air      {"ts": ..., "pm2_5": 35, "pm10": 60, "aqi": 50}
    vehicle  {"ts": ..., "lat": 26.07, "lng": 119.3, "speed": 42.5, "dir": 90}
    meter    {"ts": ..., "kind": "water", "total": 1234.5, "delta": 0.8}
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from pydantic import ValidationError

from contracts.constrained import loads_bounded
from contracts.errors import InvalidRequest, PayloadTooLarge, ValidationFailed
from contracts.telemetry import TOPIC, Reading, TelemetryDomain

MAX_PAYLOAD_BYTES = 16 * 1024
MAX_CLOCK_SKEW = _dt.timedelta(minutes=10)
_NO_CLOCK_TIME = "ts is not a time a clock can show (UTC years 1 to 9999)"

# device field -> contract field, per domain
FIELDS: dict[TelemetryDomain, dict[str, str]] = {
    TelemetryDomain.water: {"level": "level_m"},
    TelemetryDomain.air: {"pm2_5": "pm25", "pm10": "pm10", "aqi": "aqi"},
    TelemetryDomain.vehicle: {"lat": "lat", "lng": "lon", "speed": "speed_kmh", "dir": "heading"},
    TelemetryDomain.meter: {"kind": "meter_kind", "total": "reading", "delta": "consumption"},
}


def parse_topic(topic: str) -> tuple[TelemetryDomain, str]:
    match = TOPIC.match(topic)
    if not match:
        raise InvalidRequest("a telemetry topic is city/<domain>/<device>/telemetry", field="topic")
    try:
        domain = TelemetryDomain(match["domain"])
    except ValueError:
        raise InvalidRequest(f"no telemetry domain {match['domain']!r}", field="topic") from None
    return domain, match["device"]


def _time(raw: Any, now: _dt.datetime) -> _dt.datetime:
    if isinstance(raw, int) and not isinstance(raw, bool):
        try:
            at = _dt.datetime.fromtimestamp(raw / 1000, _dt.UTC)
        except (OverflowError, ValueError, OSError):  # before year 1 or after 9999
            raise ValidationFailed(_NO_CLOCK_TIME, field="ts") from None
    elif isinstance(raw, str):
        try:
            at = _dt.datetime.fromisoformat(raw)
        except ValueError:
            raise InvalidRequest("ts is unix milliseconds or ISO 8601", field="ts") from None
        if at.tzinfo is None:
            raise InvalidRequest("ts needs a time zone", field="ts")
        try:  # 0001-01-01T00:00+14:00 is a valid string but before the calendar's first day
            at.astimezone(_dt.UTC)
        except OverflowError:
            raise ValidationFailed(_NO_CLOCK_TIME, field="ts") from None
    else:
        raise InvalidRequest("ts is unix milliseconds or ISO 8601", field="ts")
    if at - now > MAX_CLOCK_SKEW:
        raise ValidationFailed("ts is in the future: the device's clock is wrong", field="ts")
    return at


def to_reading(
    domain: TelemetryDomain, device: str, payload: bytes, now: _dt.datetime | None = None
) -> Reading:
    try:
        doc = loads_bounded(payload, max_bytes=MAX_PAYLOAD_BYTES, max_depth=4)
    except PayloadTooLarge as exc:  # a bad reading like any other: counted and dropped
        raise ValidationFailed(f"the reading is too large: {exc}", field="(payload)") from None
    if not isinstance(doc, dict):
        raise InvalidRequest("a reading is a JSON object", field="(payload)")
    measured_at = _time(doc.get("ts"), now or _dt.datetime.now(_dt.UTC))
    names = FIELDS[domain]
    unknown = set(doc) - set(names) - {"ts"}
    if unknown:
        raise ValidationFailed(
            f"unknown field(s) for {domain.value}: {', '.join(sorted(unknown))}",
            field=sorted(unknown)[0],
        )
    values = {names[k]: v for k, v in doc.items() if k in names}
    try:
        return Reading.model_validate(
            {
                "domain": domain,
                "device": device,
                "measured_at": measured_at,
                "values": {"domain": domain.value, **values},
            }
        )
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        path = [str(p) for p in first["loc"][2:] or first["loc"]]
        # the device's own name for the value (``level``), not the contract's (``level_m``)
        wire_name = {contract: sent for sent, contract in names.items()}
        if path:
            path[0] = wire_name.get(path[0], path[0])
        where = ".".join(path)
        raise ValidationFailed(f"{where}: {first['msg']}", field=where) from None


def to_payload(domain: TelemetryDomain, values: dict[str, Any], ts_ms: int) -> bytes:
    """What a device publishes (the device simulator's encoder): contract -> wire names."""
    import json

    reverse = {contract: device for device, contract in FIELDS[domain].items()}
    return json.dumps({"ts": ts_ms, **{reverse[k]: v for k, v in values.items()}}).encode()
