"""The local stack provisions what template.yaml declares and serves it."""

import json

import requests

from tests.conftest import wait_for


def test_every_declared_resource_exists_on_the_endpoint(stack, aws):
    tables = aws["dynamodb"].list_tables()["TableNames"]
    assert {"govbus-local-idempotency", "govbus-local-eventlog"} <= set(tables)
    queue = aws["sqs"].get_queue_url(QueueName="govbus-local-eventlog")["QueueUrl"]
    attrs = aws["sqs"].get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    redrive = json.loads(attrs["RedrivePolicy"])
    assert redrive["maxReceiveCount"] == 3
    assert redrive["deadLetterTargetArn"].endswith(":govbus-local-eventlog-dlq")
    targets = aws["events"].list_targets_by_rule(
        Rule="govbus-local-EveryEventToEventLogRule", EventBusName="govbus-local-bus"
    )["Targets"]
    assert targets[0]["Arn"].endswith(":govbus-local-eventlog")
    param = aws["ssm"].get_parameter(Name="/govbus/dev/platform")["Parameter"]["Value"]
    assert "webhook_max_body_bytes" in json.loads(param)


def test_health_answers_200_json_listing_adapter_pings(stack, acme):
    answer = requests.get(f"{stack.url}/health", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert body["status"] == "up"
    assert {"adapter": "acme", "status": "up"}.items() <= body["adapters"][0].items()


def test_health_is_degraded_when_an_adapter_is_down(stack, acme):
    acme.set_health("down")
    body = requests.get(f"{stack.url}/health", timeout=10).json()
    assert body["status"] == "degraded"
    assert body["adapters"][0]["status"] == "down"


def test_unknown_routes_are_answered_by_the_gateway(stack):
    answer = requests.get(f"{stack.url}/no/such/route", timeout=10)
    assert answer.status_code == 404
    assert answer.json() == {"message": "Not Found"}


def test_a_scheduled_heartbeat_travels_the_bus_to_the_event_log(stack, aws):
    schedule = next(s for s in stack.schedules if s.function.logical_id == "HeartbeatFunction")
    result = schedule.fire()
    table = stack.resolver.refs["EventLogTable"]
    item = wait_for(
        lambda: (
            aws["dynamodb"]
            .get_item(TableName=table, Key={"id": {"S": result["event_id"]}})
            .get("Item")
        ),
        what="the heartbeat in the event log",
    )
    assert item["type"]["S"] == "platform.heartbeat"
    assert item["source"]["S"] == "govbus.heartbeat"
