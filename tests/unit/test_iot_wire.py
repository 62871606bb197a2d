"""The devices' wire format, decoded into per-domain contracts."""

import json

import pytest

from adapters.iot import wire
from contracts.errors import InvalidRequest, ValidationFailed
from contracts.telemetry import breaches

TS = 1_700_000_000_000


def decode(topic, doc):
    payload = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return wire.to_reading(*wire.parse_topic(topic), payload)


def test_a_water_gauge_reading_maps_to_the_contract():
    reading = decode("city/water/gauge-01/telemetry", {"ts": TS, "level": 2.31})
    assert reading.device == "gauge-01"
    assert reading.values.level_m == 2.31
    assert breaches(reading) == []


def test_a_vehicle_over_the_limit_breaches_its_threshold():
    reading = decode(
        "city/vehicle/bus-7/telemetry", {"ts": TS, "lat": 26.1, "lng": 119.3, "speed": 150}
    )
    [(threshold, value)] = breaches(reading)
    assert (threshold.metric, value) == ("speed_kmh", 150.0)


@pytest.mark.parametrize(
    ("topic", "payload", "error"),
    [
        ("city/water/g1/telemetry", b"\xff\x00", InvalidRequest),
        ("city/water/g1/telemetry", {"level": 1}, InvalidRequest),  # no ts
        ("city/water/g1/telemetry", {"ts": TS, "level": 9999}, ValidationFailed),
        ("city/air/a1/telemetry", {"ts": TS, "pm2_5": 10}, ValidationFailed),  # pm10 missing
        ("city/water/g1/telemetry", {"ts": TS, "level": 1, "extra": 2}, ValidationFailed),
        ("city/water/g1/telemetry", {"ts": 99_999_999_999_999, "level": 1}, ValidationFailed),
        ("city/weather/w1/telemetry", {"ts": TS}, InvalidRequest),
        ("city/water/g1/status", {"ts": TS, "level": 1}, InvalidRequest),
    ],
)
def test_bad_messages_are_refused_with_a_reason(topic, payload, error):
    with pytest.raises(error) as caught:
        decode(topic, payload)
    assert str(caught.value)


@pytest.mark.parametrize("ts", [10**30, 10**16, -(10**16), -(10**30)])
def test_a_time_no_calendar_holds_is_refused_with_a_reason(ts):
    # datetime cannot hold these: an OverflowError or ValueError escaped the decoder
    # and the telemetry function retried the reading into its dead-letter queue
    with pytest.raises(InvalidRequest) as caught:
        decode("city/water/g1/telemetry", {"ts": ts, "level": 1})
    assert caught.value.field == "ts"
    assert "ts" in str(caught.value)


@pytest.mark.parametrize(
    "ts", ["9999-12-31T23:59:59+14:00", "0001-01-01T00:00:00-14:00", "0001-01-01T00:00:00+14:00"]
)
def test_an_iso_time_at_the_calendars_ends_is_refused_or_read_never_crashes(ts):
    try:
        decode("city/water/g1/telemetry", {"ts": ts, "level": 1})
    except InvalidRequest as refused:
        assert refused.field == "ts"


def test_a_reading_over_the_size_bound_is_refused_as_a_bad_reading():
    oversized = json.dumps({"ts": TS, "level": 1, "pad": "x" * wire.MAX_PAYLOAD_BYTES}).encode()
    with pytest.raises(InvalidRequest) as caught:
        decode("city/water/g1/telemetry", oversized)
    assert f"at most {wire.MAX_PAYLOAD_BYTES}" in str(caught.value)
