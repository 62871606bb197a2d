"""The telemetry family's contract: an adapter decodes what the city's devices publish
into per-domain readings, and refuses what it cannot read with a reason (never another
exception: functions/telemetry counts and drops those)."""

import json
import time

import pytest

from contracts.adapters import AdapterFamily
from contracts.errors import InvalidRequest, ValidationFailed
from contracts.telemetry import Reading, TelemetryDomain

FAMILY = AdapterFamily.telemetry

NOW_MS = int(time.time() * 1000)
SAMPLES = {
    TelemetryDomain.water: {"ts": NOW_MS, "level": 2.4},
    TelemetryDomain.air: {"ts": NOW_MS, "pm2_5": 40, "pm10": 70, "aqi": 56},
    TelemetryDomain.vehicle: {"ts": NOW_MS, "lat": 26.08, "lng": 119.29, "speed": 35.0},
    TelemetryDomain.meter: {"ts": NOW_MS, "kind": "gas", "total": 812.5, "delta": 0.4},
}


@pytest.mark.parametrize("domain", list(TelemetryDomain))
def test_a_devices_reading_decodes_into_its_domains_contract(harness, domain):
    reading = harness.call(
        "govbus_telemetry_decode",
        topic=f"city/{domain.value}/dev-1/telemetry",
        payload=json.dumps(SAMPLES[domain]).encode(),
    )
    assert isinstance(reading, Reading)
    assert (reading.domain, reading.device) == (domain, "dev-1")
    assert abs(reading.measured_at.timestamp() * 1000 - NOW_MS) < 1


@pytest.mark.parametrize(
    "payload",
    [b"not json", b"[]", b'{"ts": 1}', json.dumps({"ts": NOW_MS, "level": -999}).encode()],
    # ids that do not change with the clock: every xdist worker collects the same tests
    ids=["not json", "a list", "no level", "an impossible level"],
)
def test_an_unreadable_or_impossible_reading_is_refused_with_a_reason(harness, payload):
    with pytest.raises((InvalidRequest, ValidationFailed)) as refused:
        harness.call("govbus_telemetry_decode", topic="city/water/dev-1/telemetry", payload=payload)
    assert str(refused.value)
