"""Operations: nothing EventBridge cannot deliver is dropped, the public catalogue is read
without scanning its table, and anonymous refusals do not queue on one audit chain."""

from __future__ import annotations

import contextlib

import pytest
import requests

from govbus import settings
from govbus.stores import catalog
from govbus_dev.local.template import load_template
from tests.conftest import ROOT


@contextlib.contextmanager
def environment(variables: dict[str, str]):
    """This process's environment for a store or tool called directly from the test."""
    from govbus import settings

    with pytest.MonkeyPatch.context() as patch:
        for name, value in variables.items():
            patch.setenv(name, value)
        settings.reset()  # settings are read once: read them again from these variables
        try:
            yield
        finally:
            patch.undo()
            settings.reset()


def test_every_rule_target_has_a_dead_letter_queue_and_a_retry_policy(stack, aws):
    template = load_template(ROOT / "template.yaml")
    rules = [
        name for name, res in template["Resources"].items() if res["Type"] == "AWS::Events::Rule"
    ]
    assert len(rules) >= 6
    dlq_arn = aws["sqs"].get_queue_attributes(
        QueueUrl=stack.resolver.refs["BusDeadLetterQueue"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    bus = stack.resolver.refs["EventBus"]
    for rule in rules:
        targets = aws["events"].list_targets_by_rule(
            Rule=stack.resolver.refs[rule], EventBusName=bus
        )["Targets"]
        assert targets, rule
        for target in targets:
            assert target["DeadLetterConfig"]["Arn"] == dlq_arn, rule
            assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0, rule
    # and the DLQ is one `govbus dlq list` shows
    from govbus import dlq

    with environment({"AWS_ENDPOINT_URL": stack.endpoint}):
        names = [q["name"] for q in dlq.dead_letter_queues()]
    assert stack.resolver.refs["BusDeadLetterQueue"].rsplit("/", 1)[-1] in names


def test_the_public_catalogue_is_read_from_the_published_index_not_a_scan(stack):
    stack.seed()
    listed = requests.get(f"{stack.url}/catalog/items", timeout=20)
    assert listed.status_code == 200
    assert listed.json()["count"] == 36
    report = requests.get(f"{stack.url}/catalog/report", timeout=20).json()
    assert report["overall"]["items"] == 36

    env = stack.functions["CatalogFunction"].environment
    operations: list[str] = []

    def note(model, **_kwargs) -> None:
        operations.append(model.name)

    with settings.override(catalog=env["CATALOG_TABLE"], stage="dev"):
        from govbus.aws import client

        ddb = client("dynamodb")
        ddb.meta.events.register("before-call.dynamodb.*", note)
        try:
            items = catalog.published_items()
        finally:
            ddb.meta.events.unregister("before-call.dynamodb.*", note)
    assert len(items) == 36 and [i.code for i in items] == sorted(i.code for i in items)
    assert all(i.status == "published" for i in items)
    assert operations and "Scan" not in operations, operations


def test_anonymous_refusals_spread_over_shards_and_the_chain_still_verifies(stack, aws, capsys):
    from govbus_dev.cli import main as govbus

    for _ in range(24):
        answer = requests.get(
            f"{stack.url}/accounts/me", headers={"Authorization": "Bearer forged"}, timeout=10
        )
        assert answer.status_code in (401, 403)
    table = stack.resolver.refs["AuditTable"]
    entries = aws["dynamodb"].scan(TableName=table)["Items"]
    refused = [e for e in entries if e["action"]["S"] == "auth.refused"]
    assert len(refused) == 24
    assert len({e["partition"]["S"] for e in refused}) > 1
    assert govbus(["audit", "verify", "--stack", stack.stack_name]) == 0
    assert "audit chain intact: " in capsys.readouterr().out


def test_a_letter_eventbridge_could_not_deliver_is_redriven_to_its_rule_target(stack, aws):
    import json

    from contracts.events import Event
    from govbus import dlq
    from tests.conftest import wait_for
    from tests.integration.conftest import archived

    event = Event.create("platform.heartbeat", {"emitted_by": "test"}, source="govbus.test")
    # what EventBridge puts in a target's DLQ: the delivery it could not make, and why
    envelope = {
        "version": "0",
        "id": "eb-1",
        "detail-type": event.type,
        "source": event.source,
        "detail": json.loads(event.model_dump_json()),
    }
    eventlog_arn = aws["sqs"].get_queue_attributes(
        QueueUrl=stack.resolver.refs["EventLogQueue"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    aws["sqs"].send_message(
        QueueUrl=stack.resolver.refs["BusDeadLetterQueue"],
        MessageBody=json.dumps(envelope),
        MessageAttributes={
            "ERROR_CODE": {"DataType": "String", "StringValue": "SQSQueueDoesNotExist"},
            "TARGET_ARN": {"DataType": "String", "StringValue": eventlog_arn},
        },
    )
    with environment({"AWS_ENDPOINT_URL": stack.endpoint}):
        letters = dlq.peek(stack.resolver.refs["BusDeadLetterQueue"])
        assert [(x.event_type, x.reason) for x in letters] == [
            ("platform.heartbeat", "EventBridge: SQSQueueDoesNotExist")
        ]
        moved = dlq.redrive(stack.resolver.refs["BusDeadLetterQueue"])
    assert len(moved) == 1
    items = wait_for(lambda: archived(aws, stack), what="the redriven event archived")
    assert [i["id"]["S"] for i in items] == [event.id]
