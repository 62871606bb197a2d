"""Sensor feeds: devices publish over MQTT to the local broker; the forwarder (the topic
rule's stand-in) queues them; functions/telemetry turns valid readings into events,
raises one city.alert per episode for the responsible agency, counts malformed ones."""

import datetime as dt
import json

import pytest

from adapters.iot.devices import Fleet, Publisher
from contracts.telemetry import WATER_BUREAU
from tests.conftest import wait_for
from tests.integration.conftest import queue_drained


@pytest.fixture
def iot(stack):
    return stack.simulators["iot"]


def outbox_events(aws, stack, event_type):
    rows = aws["dynamodb"].scan(TableName=stack.resolver.refs["OutboxTable"])["Items"]
    return [json.loads(r["envelope"]["S"]) for r in rows if r["event_type"]["S"] == event_type]


def day_counts(aws, stack):
    answer = aws["dynamodb"].query(
        TableName=stack.resolver.refs["TelemetryTable"],
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"COUNTS#{dt.datetime.now(dt.UTC).date()}"}},
        ConsistentRead=True,
    )["Items"]
    return {
        outcome: sum(int(row[outcome]["N"]) for row in answer if outcome in row)
        for outcome in ("accepted", "rejected")
    }


def test_devices_over_mqtt_become_events_one_alert_and_counted_rejects(stack, aws, iot):
    fleet = Fleet(seed=7, devices_per_domain=2)
    with Publisher(iot.broker_url, client_id="test-devices") as devices:
        sent = devices.publish(fleet.messages(over_threshold={"water-00"}, malformed=True))
    valid = [m for m in sent if m.kind != "malformed"]
    malformed = [m for m in sent if m.kind == "malformed"]
    assert (len(valid), len(malformed)) == (8, 5)

    readings = wait_for(
        lambda: (
            len(outbox_events(aws, stack, "telemetry.reading")) == len(valid)
            and day_counts(aws, stack)["rejected"] == len(malformed)
        ),
        timeout=30,
        what="every valid reading recorded and every malformed one counted",
    )
    assert readings
    devices_seen = {e["data"]["device"] for e in outbox_events(aws, stack, "telemetry.reading")}
    assert devices_seen == {m.topic.split("/")[2] for m in valid}
    assert day_counts(aws, stack) == {"accepted": len(valid), "rejected": len(malformed)}

    alerts = outbox_events(aws, stack, "city.alert")
    assert len(alerts) == 1
    alert = alerts[0]["data"]
    assert (alert["device"], alert["metric"], alert["agency"]) == (
        "water-00",
        "level_m",
        WATER_BUREAU,
    )
    assert alert["value"] > alert["threshold"]


def test_a_sustained_anomaly_alerts_once_and_again_only_after_recovery(stack, aws, iot):
    fleet = Fleet(seed=11, devices_per_domain=1)
    rounds = [{"air-00"}, {"air-00"}, set(), {"air-00"}]  # over, still over, normal, over
    with Publisher(iot.broker_url, client_id="test-air") as devices:
        for number, spike in enumerate(rounds, start=1):
            devices.publish(fleet.messages(over_threshold=spike))
            # readings of one device are processed in order: wait for each round
            wait_for(
                lambda n=number: len(outbox_events(aws, stack, "telemetry.reading")) == 4 * n,
                timeout=30,
                what=f"round {number} recorded",
            )
    alerts = [a["data"] for a in outbox_events(aws, stack, "city.alert")]
    assert [(a["device"], a["metric"]) for a in alerts] == [("air-00", "pm25")] * 2
    assert iot.forwarder.failed == 0


def test_readings_no_calendar_or_bound_holds_are_counted_and_dropped_never_dead_lettered(
    stack, aws, iot
):
    # what any device could send: times datetime cannot hold, a reading over 16 KB; they
    # used to raise in the function, be retried five times and fill TelemetryDLQ
    import base64
    import time

    ts_ms = int(time.time() * 1000)
    bad = [
        {"ts": 10**30, "level": 1},
        {"ts": 10**16, "level": 1},
        {"ts": -(10**16), "level": 1},
        {"ts": ts_ms, "level": 1, "pad": "x" * (17 * 1024)},
    ]
    for i, doc in enumerate(bad):
        aws["sqs"].send_message(
            QueueUrl=stack.resolver.refs["TelemetryQueue"],
            MessageBody=json.dumps(
                {
                    "topic": f"city/water/water-9{i}/telemetry",
                    "payload": base64.b64encode(json.dumps(doc).encode()).decode(),
                    "received_ms": ts_ms,
                }
            ),
        )
    wait_for(
        lambda: day_counts(aws, stack)["rejected"] == len(bad),
        timeout=30,
        what="every bad reading counted as rejected",
    )
    wait_for(
        lambda: queue_drained(aws, stack, "TelemetryQueue"),
        timeout=30,
        what="the telemetry queue emptied",
    )
    assert queue_drained(aws, stack, "TelemetryDLQ")
    assert day_counts(aws, stack) == {"accepted": 0, "rejected": len(bad)}
    assert outbox_events(aws, stack, "telemetry.reading") == []
