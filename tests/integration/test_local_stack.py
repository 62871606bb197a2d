"""The local stack provisions what template.yaml declares and serves it."""

import json

import requests

from tests.conftest import wait_for
from tests.integration.conftest import queue_drained


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


def _rules(aws, stack) -> list[str]:
    answer = aws["events"].list_rules(EventBusName=stack.resolver.refs["EventBus"])
    return sorted(rule["Name"] for rule in answer["Rules"])


def test_a_reset_forgets_what_a_test_wrote_and_keeps_what_the_template_provisioned(stack, aws):
    """``stack`` restores a snapshot of the provisioned emulator: a test's items, messages,
    secrets and rules are gone, the template's resources are all there, and the platform
    still runs on them (an event published reaches the event log through a rule, a queue
    and a poller)."""
    refs = stack.resolver.refs
    rules = _rules(aws, stack)
    assert "govbus-local-EveryEventToEventLogRule" in rules
    secret_id = next(
        r.physical_id for r in stack.provisioning.created if r.type == "AWS::SecretsManager::Secret"
    )
    provisioned_secret = aws["secretsmanager"].get_secret_value(SecretId=secret_id)["SecretString"]
    aws["dynamodb"].put_item(TableName=refs["ClientsTable"], Item={"client_id": {"S": "left"}})
    aws["sqs"].send_message(QueueUrl=refs["EventLogDLQ"], MessageBody="left behind")
    aws["secretsmanager"].put_secret_value(SecretId=secret_id, SecretString="changed")
    aws["secretsmanager"].create_secret(Name="govbus/dev/left-behind", SecretString="x")
    aws["events"].put_rule(
        Name="left-behind", EventBusName=refs["EventBus"], EventPattern='{"source": ["x"]}'
    )

    stack.reset()

    assert aws["dynamodb"].scan(TableName=refs["ClientsTable"])["Count"] == 0
    assert queue_drained(aws, stack, "EventLogDLQ")
    assert (
        aws["secretsmanager"].get_secret_value(SecretId=secret_id)["SecretString"]
        == provisioned_secret
    )
    names = {s["Name"] for s in aws["secretsmanager"].list_secrets()["SecretList"]}
    assert "govbus/dev/left-behind" not in names
    assert _rules(aws, stack) == rules
    schedule = next(s for s in stack.schedules if s.function.logical_id == "HeartbeatFunction")
    result = schedule.fire()
    wait_for(
        lambda: (
            aws["dynamodb"]
            .get_item(TableName=refs["EventLogTable"], Key={"id": {"S": result["event_id"]}})
            .get("Item")
        ),
        what="the heartbeat in the event log after a reset",
    )


def test_the_seed_after_a_reset_is_the_demo_data_again(stack):
    """The seed is loaded once and restored after each reset: the same departments log
    in with the same credentials, and the catalogue is whole."""
    first = stack.seed()
    stack.reset()
    assert requests.get(f"{stack.url}/catalog/items", timeout=10).json()["items"] == []
    again = stack.seed()
    assert again == first
    for client_id, secret in again["clients"].values():
        answer = requests.post(
            f"{stack.url}/auth/token",
            json={"client_id": client_id, "client_secret": secret},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
    report = requests.get(f"{stack.url}/catalog/report", timeout=10).json()
    assert report["overall"]["items"] == first["items"] == 36
