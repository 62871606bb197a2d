"""The local broker's forwarder sends device messages to the queue of the template's topic
rule as resolved for the stack being run, whatever its name: a stack not called
``govbus-local`` still receives its readings (and the default stack's queue gets none)."""

import base64
import json
import os

import pytest

from adapters.iot.devices import Fleet, Publisher
from govbus import settings
from govbus_dev.local.stack import LocalStack
from tests.conftest import ROOT, wait_for

OTHER_STACK = "govbus-city-b"


@pytest.fixture
def other_stack(stack):
    """A second local stack of another name, on the session's emulator (no pollers: its
    queues keep what arrives). Its simulators' endpoints are this process's environment
    while it runs; the session stack's are restored afterwards."""
    saved = dict(os.environ)
    other = LocalStack(
        ROOT,
        port=0,
        endpoint=stack.endpoint,
        stack_name=OTHER_STACK,
        pollers=False,
        schedules=False,
    )
    try:
        other.start()
        yield other
    finally:
        other.stop()
        os.environ.clear()
        os.environ.update(saved)
        settings.reset()


def received(aws, queue_url):
    answer = aws["sqs"].receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in answer.get("Messages") or []]


def test_readings_reach_the_telemetry_queue_of_a_stack_of_another_name(stack, other_stack, aws):
    queue_url = other_stack.resolver.refs["TelemetryQueue"]
    assert f"{OTHER_STACK}-telemetry" in queue_url
    simulator = other_stack.simulators["iot"]
    assert simulator.forward_queue == queue_url

    fleet = Fleet(seed=3, devices_per_domain=1)
    with Publisher(simulator.broker_url, "test-city-b", simulator.device_key) as devices:
        sent = devices.publish(fleet.messages())
    assert len(sent) == 4  # one device per domain, no malformed message

    arrived: list[dict] = []
    wait_for(
        lambda: arrived.extend(received(aws, queue_url)) or len(arrived) >= len(sent),
        timeout=20,
        what="the readings on the other stack's telemetry queue",
    )
    assert sorted(m["topic"] for m in arrived) == sorted(m.topic for m in sent)
    first = next(m for m in sent if m.topic == arrived[0]["topic"])
    assert base64.b64decode(arrived[0]["payload"]) == first.payload
    assert received(aws, stack.resolver.refs["TelemetryQueue"]) == [], (
        "the default stack's queue got nothing"
    )
