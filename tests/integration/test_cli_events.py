"""`govbus events tail` and `govbus replay` against the local stack, run as the docs show
them (the console script's `main`, in-process, with --stack naming the running stack)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading

import contracts.subscriptions  # noqa: F401 - registers subscription.test
from contracts.events import Event
from govbus_dev.cli import main as govbus
from tests.conftest import wait_for
from tests.integration.conftest import archived, put_event

CITIZEN = "350102199003071234"


def heartbeat(emitted_by: str, *, at: dt.datetime | None = None) -> Event:
    event = Event.create(
        "platform.heartbeat", {"emitted_by": emitted_by}, source="govbus.test", subject=CITIZEN
    )
    return event.model_copy(update={"time": at}) if at else event


def archive(aws, stack, event: Event) -> None:
    """An entry of the event log as EventLogFunction writes it (identifiers masked)."""
    from contracts.masking import mask_text

    canonical = event.model_dump_json()
    aws["dynamodb"].put_item(
        TableName=stack.resolver.refs["EventLogTable"],
        Item={
            "id": {"S": event.id},
            "type": {"S": event.type},
            "source": {"S": event.source},
            "time": {"S": event.time.isoformat()},
            "correlationid": {"S": event.correlationid},
            "envelope": {"S": mask_text(canonical)},
            "digest": {"S": hashlib.sha256(canonical.encode()).hexdigest()},
            "subject": {"S": mask_text(event.subject or "")},
        },
    )


def tail_rules(aws, stack) -> list[str]:
    rules = aws["events"].list_rules(
        EventBusName=stack.resolver.refs["EventBus"], NamePrefix=f"{stack.stack_name}-tail-"
    )["Rules"]
    return [r["Name"] for r in rules]


def test_events_tail_follows_the_bus_live_masked_and_cleans_up(stack, aws, capsys):
    # Given a tail following platform.* events, as JSON lines
    codes: list[int] = []
    follower = threading.Thread(
        target=lambda: codes.append(
            govbus(
                [
                    "events",
                    "tail",
                    "--type",
                    "platform.*",
                    "--json",
                    "--count",
                    "1",
                    "--timeout",
                    "60",
                    "--stack",
                    stack.stack_name,
                ]
            )
        ),
        daemon=True,
    )
    follower.start()
    wait_for(lambda: tail_rules(aws, stack), what="the tail's rule on the bus")
    # When an event of another kind, then a heartbeat with an identity code, cross the bus
    other = Event.create("subscription.test", {"subscription_id": "sub_tail"}, source="govbus.test")
    put_event(aws, stack, other)
    probe = heartbeat("tail-test")
    put_event(aws, stack, probe)
    follower.join(timeout=90)
    assert not follower.is_alive(), "the tail did not stop after --count 1"
    # Then it printed the heartbeat, masked, and nothing of the other type
    assert codes == [0]
    out = capsys.readouterr().out
    printed = []
    for line in out.splitlines():
        try:
            printed.append(json.loads(line))
        except ValueError:
            continue
    mine = [p for p in printed if isinstance(p, dict) and p.get("id") in (probe.id, other.id)]
    assert [(p["id"], p["type"]) for p in mine] == [(probe.id, "platform.heartbeat")]
    assert CITIZEN not in out and mine[0]["subject"] != CITIZEN
    assert mine[0]["subject"].startswith("3501") and "*" in mine[0]["subject"]
    # and its rule and queue are gone
    assert tail_rules(aws, stack) == []
    queues = aws["sqs"].list_queues(QueueNamePrefix=f"{stack.stack_name}-tail-")
    assert queues.get("QueueUrls", []) == []


def test_events_tail_no_follow_prints_the_latest_archived_events(stack, aws, capsys):
    probe = heartbeat("archive-test")
    put_event(aws, stack, probe)
    wait_for(
        lambda: [i for i in archived(aws, stack) if i["id"]["S"] == probe.id],
        what="the heartbeat archived by the event log",
    )
    capsys.readouterr()
    code = govbus(
        ["events", "tail", "--no-follow", "--type", "platform.*", "--stack", stack.stack_name]
    )
    assert code == 0
    out = capsys.readouterr().out
    (line,) = [ln for ln in out.splitlines() if probe.id in ln]
    assert "platform.heartbeat" in line and "govbus.test" in line
    assert CITIZEN not in out and "3501*" in line


def probe_consumer(aws, stack, name: str = "replay-probe") -> str:
    """A consumer of the bus the test can read: a rule routing heartbeats it emits."""
    queue_url = aws["sqs"].create_queue(QueueName=f"{stack.stack_name}-{name}")["QueueUrl"]
    arn = aws["sqs"].get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    bus = stack.resolver.refs["EventBus"]
    aws["events"].put_rule(
        Name=f"{stack.stack_name}-{name}",
        EventBusName=bus,
        EventPattern=json.dumps(
            {
                "detail-type": ["platform.heartbeat"],
                "detail": {"data": {"emitted_by": [{"prefix": "replay-"}]}},
            }
        ),
    )
    aws["events"].put_targets(
        Rule=f"{stack.stack_name}-{name}",
        EventBusName=bus,
        Targets=[{"Id": name, "Arn": arn}],
    )
    return queue_url


def received(aws, queue_url: str) -> list[dict]:
    found = []
    while True:
        batch = (
            aws["sqs"]
            .receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            .get("Messages", [])
        )
        if not batch:
            return found
        for message in batch:
            found.append(json.loads(message["Body"]))
            aws["sqs"].delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def test_replay_by_id_sends_archived_events_to_one_consumer_as_eventbridge_would(
    stack, aws, capsys
):
    queue_url = probe_consumer(aws, stack)
    wanted, unrouted = heartbeat("replay-by-id"), heartbeat("someone-else")
    for event in (wanted, unrouted):
        archive(aws, stack, event)

    # a dry run lists, sends nothing
    code = govbus(
        [
            "replay",
            "--consumer",
            "replay-probe",
            "--id",
            wanted.id,
            "--dry-run",
            "--stack",
            stack.stack_name,
        ]
    )
    assert code == 0
    assert "would replay 1 event(s) to replay-probe" in capsys.readouterr().out
    assert received(aws, queue_url) == []

    code = govbus(
        [
            "replay",
            "--consumer",
            "replay-probe",
            "--id",
            wanted.id,
            "--id",
            unrouted.id,
            "--stack",
            stack.stack_name,
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "replayed 1 event(s) to replay-probe" in out and "1 skipped" in out
    (delivered,) = received(aws, queue_url)
    assert delivered["detail-type"] == "platform.heartbeat"
    assert delivered["source"] == "govbus.test"
    assert delivered["detail"]["id"] == wanted.id
    # the archive keeps identity codes masked, and so does the replay
    assert delivered["detail"]["subject"] != CITIZEN and "*" in delivered["detail"]["subject"]


def test_replay_by_time_range_picks_the_events_archived_in_it(stack, aws, capsys):
    queue_url = probe_consumer(aws, stack, "replay-window")
    base = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
    events = [heartbeat("replay-range", at=base + dt.timedelta(hours=h)) for h in (0, 1, 2, 3)]
    for event in events:
        archive(aws, stack, event)
    # Beijing time (no zone given): 17:30 to 19:30 +08:00 is 09:30 to 11:30 UTC
    code = govbus(
        [
            "replay",
            "--consumer",
            "replay-window",
            "--since",
            "2026-11-02T17:30",
            "--until",
            "2026-11-02T19:30",
            "--json",
            "--stack",
            stack.stack_name,
        ]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in report["replayed"]] == [events[1].id, events[2].id]
    delivered = received(aws, queue_url)
    assert sorted(d["detail"]["id"] for d in delivered) == sorted([events[1].id, events[2].id])


def test_replay_refuses_an_unknown_consumer_or_event_naming_what_exists(stack, aws, capsys):
    event = heartbeat("replay-refused")
    archive(aws, stack, event)
    assert (
        govbus(["replay", "--consumer", "nobody", "--id", event.id, "--stack", stack.stack_name])
        == 2
    )
    err = capsys.readouterr().err
    assert "no consumer 'nobody'" in err and "dispatch" in err and "eventlog" in err
    assert (
        govbus(
            ["replay", "--consumer", "eventlog", "--id", "evt-none", "--stack", stack.stack_name]
        )
        == 2
    )
    assert "evt-none" in capsys.readouterr().err
    assert govbus(["replay", "--consumer", "eventlog", "--stack", stack.stack_name]) == 2
    assert "--since and --until" in capsys.readouterr().err
