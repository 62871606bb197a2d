"""Sensor feeds: devices publish over MQTT to the local broker; the forwarder (the topic
rule's stand-in) queues them; functions/telemetry turns valid readings into events,
raises one city.alert per episode for the responsible agency, counts malformed ones."""

import datetime as dt
import json
import time

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
    with Publisher(iot.broker_url, "test-devices", iot.device_key) as devices:
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
    with Publisher(iot.broker_url, "test-air", iot.device_key) as devices:
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


def mqtt_session(iot, username=None, password=None, client_id="probe"):
    """A paho client as anyone could start one: (client, the CONNACK's reason code)."""
    import threading

    import paho.mqtt.client as mqtt

    from adapters.iot.simulator import mqtt_address

    connected = threading.Event()
    result = {}

    def on_connect(_c, _u, _f, reason_code, _p):
        result["rc"] = reason_code
        connected.set()

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
    client.on_connect = on_connect
    if username is not None:
        client.username_pw_set(username, password)
    client.connect(*mqtt_address(iot.broker_url), keepalive=30)
    client.loop_start()
    connected.wait(10)
    return client, result.get("rc")


def subscribe_answer(client, topic):
    """The SUBACK's reason code for ``topic``."""
    import threading

    answered = threading.Event()
    result = {}

    def on_subscribe(_c, _u, _mid, reason_codes, _p):
        result["rc"] = reason_codes[0]
        answered.set()

    client.on_subscribe = on_subscribe
    client.subscribe(topic, qos=1)
    assert answered.wait(10), "no SUBACK"
    return result["rc"]


def close(client):
    client.disconnect()
    client.loop_stop()


def test_an_anonymous_client_or_a_wrong_password_is_refused_at_connect(stack, iot):
    from adapters.iot.broker import device_password

    # seen: an anonymous client subscribed `#` and read every device's readings
    anonymous, rc = mqtt_session(iot)
    close(anonymous)
    assert rc is not None and rc.is_failure, rc
    wrong, rc = mqtt_session(iot, "water/water-00", "guessed", client_id="probe-2")
    close(wrong)
    assert rc is not None and rc.is_failure, rc
    # another stack's key makes no password for this one
    forged, rc = mqtt_session(
        iot, "water/water-00", device_password("0" * 32, "water/water-00"), client_id="p3"
    )
    close(forged)
    assert rc is not None and rc.is_failure, rc


def test_a_device_reads_no_other_topic_and_publishes_only_to_its_own(stack, aws, iot):
    from adapters.iot.broker import device_password

    user = "water/water-00"
    device, rc = mqtt_session(iot, user, device_password(iot.device_key, user))
    try:
        assert rc is not None and not rc.is_failure, rc
        for topic in ("#", "city/+/+/telemetry", "city/water/water-01/telemetry"):
            assert subscribe_answer(device, topic).is_failure, topic
        # its own topic it may read (no wildcard)
        assert not subscribe_answer(device, "city/water/water-00/telemetry").is_failure
        ts = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
        other = device.publish(
            "city/water/water-01/telemetry", json.dumps({"ts": ts, "level": 1}), qos=1
        )
        other.wait_for_publish(10)
        own = device.publish(
            "city/water/water-00/telemetry", json.dumps({"ts": ts, "level": 1.5}), qos=1
        )
        own.wait_for_publish(10)
    finally:
        close(device)
    wait_for(
        lambda: len(outbox_events(aws, stack, "telemetry.reading")) == 1,
        timeout=30,
        what="the device's own reading recorded",
    )
    time.sleep(1)
    readings = outbox_events(aws, stack, "telemetry.reading")
    assert [r["data"]["device"] for r in readings] == ["water-00"]


def test_an_oversized_payload_is_refused_at_the_broker_and_never_forwarded(stack, aws, iot):
    from adapters.iot.broker import device_password

    forwarded, failed = iot.forwarder.forwarded, iot.forwarder.failed
    user = "air/air-00"
    device, rc = mqtt_session(iot, user, device_password(iot.device_key, user))
    assert rc is not None and not rc.is_failure, rc
    try:
        # seen: 1 MB accepted by the broker, then the forwarder failed on it (SQS limit)
        device.publish("city/air/air-00/telemetry", b"x" * (1024 * 1024), qos=1)
        time.sleep(3)
    finally:
        close(device)
    assert (iot.forwarder.forwarded, iot.forwarder.failed) == (forwarded, failed)
    assert day_counts(aws, stack) == {"accepted": 0, "rejected": 0}
    # a normal reading still flows
    with Publisher(iot.broker_url, "test-after", iot.device_key) as devices:
        devices.publish(Fleet(seed=3, devices_per_domain=1).messages())
    wait_for(
        lambda: len(outbox_events(aws, stack, "telemetry.reading")) == 4,
        timeout=30,
        what="the fleet's readings recorded",
    )
