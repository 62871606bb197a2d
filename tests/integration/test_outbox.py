"""Nothing accepted is lost or half-done: a change and its events are one write, and
the outbox publisher puts each event on the bus once, even across a bus outage."""

import json
from collections import Counter

import pytest
import requests

from tests.conftest import wait_for
from tests.integration.conftest import CITIZEN, bearer, department_token, login
from tests.integration.test_cases import EMS_TO_HOME, MARKET, apply, case_of, post, upload

COUNTER_RULE = "test-count-case-events"


@pytest.fixture
def citizen(stack, ca):
    stack.seed()
    return login(stack, ca.issue(CITIZEN, "林小姐")).json()["access_token"]


@pytest.fixture
def counter(stack, aws):
    """A queue that receives every case event on the bus: what was published, how often."""
    url = aws["sqs"].create_queue(QueueName="test-case-event-counter")["QueueUrl"]
    arn = aws["sqs"].get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]

    def subscribe():
        bus = stack.resolver.refs["EventBus"]
        aws["events"].put_rule(
            Name=COUNTER_RULE,
            EventBusName=bus,
            EventPattern=json.dumps({"detail-type": [{"prefix": "case."}]}),
        )
        aws["events"].put_targets(
            Rule=COUNTER_RULE, EventBusName=bus, Targets=[{"Id": "counter", "Arn": arn}]
        )

    seen: Counter = Counter()
    bodies: dict[str, dict] = {}

    def drain() -> Counter:
        while True:
            got = aws["sqs"].receive_message(QueueUrl=url, MaxNumberOfMessages=10)
            messages = got.get("Messages") or []
            if not messages:
                return seen
            for m in messages:
                envelope = json.loads(m["Body"])["detail"]
                seen[envelope["id"]] += 1
                bodies[envelope["id"]] = envelope
            aws["sqs"].delete_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages)
                ],
            )

    subscribe()
    drain.subscribe = subscribe  # type: ignore[attr-defined]
    drain.bodies = bodies  # type: ignore[attr-defined]
    return drain


def outbox_rows(stack, aws) -> list[dict]:
    return aws["dynamodb"].scan(TableName=stack.resolver.refs["OutboxTable"])["Items"]


def case_events(counter, case_id: str) -> list[dict]:
    counter()
    return [b for b in counter.bodies.values() if b["subject"] == case_id]


def test_every_step_of_a_case_is_published_once_with_its_change(stack, aws, citizen, counter):
    created = apply(stack, citizen)
    upload(created["uploads"][0])
    submitted = post(stack, citizen, f"/applications/{created['id']}/submit").json()
    assert submitted["state"] == "pre_reviewed"

    # create, submit and pre-review pass: three changes, three events, each once
    events = wait_for(
        lambda: len(found := case_events(counter, created["id"])) >= 3 and found,
        what="the case's events on the bus",
    )
    assert sorted(e["data"]["action"] for e in events) == [
        "create",
        "pre_review_pass",
        "submit",
    ]
    assert all(n == 1 for n in counter().values())
    # the publisher marks each row once EventBridge took it (a moment after delivery)
    rows = wait_for(
        lambda: (
            (found := outbox_rows(stack, aws))
            and all("published_at" in r and "pending" not in r for r in found)
            and found
        ),
        what="every outbox row marked published",
    )
    assert len([r for r in rows if created["id"] in r["envelope"]["S"]]) == 3


def test_a_bus_outage_delays_events_and_loses_none(stack, aws, citizen, counter):
    """The publisher fails (the bus is gone), then recovers: every change's events are
    published exactly once, and none before its change was committed."""
    bus = stack.resolver.refs["EventBus"]
    aws["events"].delete_event_bus(Name=bus)  # PutEvents now fails: ResourceNotFound

    created = apply(stack, citizen)
    upload(created["uploads"][0])
    assert post(stack, citizen, f"/applications/{created['id']}/submit").status_code == 200

    # the stream retried, gave up, and told the outbox DLQ; nothing reached anyone
    dlq = stack.resolver.refs["OutboxDLQ"]
    failure = wait_for(
        lambda: aws["sqs"].receive_message(QueueUrl=dlq, MaxNumberOfMessages=1).get("Messages"),
        what="the stream's give-up notice in the outbox DLQ",
    )
    notice = json.loads(failure[0]["Body"])
    assert notice["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert notice["DDBStreamBatchInfo"]["batchSize"] >= 1
    pending = [r for r in outbox_rows(stack, aws) if "pending" in r]
    assert len(pending) == 3, "create, submit, pre-review: waiting, not lost"
    # the change is committed; its events wait for the bus
    assert case_of(stack, citizen, created["id"])["state"] == "pre_reviewed"

    stack.provision()  # the bus is back, with its rules
    counter.subscribe()
    stack.functions["PublisherFunction"].invoke(
        {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
    )
    events = wait_for(
        lambda: len(found := case_events(counter, created["id"])) >= 3 and found,
        what="the delayed events on the bus",
    )
    assert sorted(e["data"]["action"] for e in events) == [
        "create",
        "pre_review_pass",
        "submit",
    ]
    # a second sweep, or the stream seeing the rows again, publishes nothing twice
    stack.functions["PublisherFunction"].invoke(
        {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
    )
    assert counter() and all(n == 1 for n in counter().values()), counter()
    assert not [r for r in outbox_rows(stack, aws) if "pending" in r]


def test_a_lost_race_publishes_nothing(stack, aws, citizen, counter):
    created = apply(stack, citizen)
    upload(created["uploads"][0])
    post(stack, citizen, f"/applications/{created['id']}/submit")
    clerk = department_token(stack, ["cases:review"], agency=MARKET)
    seen = case_of(stack, citizen, created["id"])["version"]
    first = post(
        stack,
        clerk,
        f"/applications/{created['id']}/actions",
        {"action": "accept", "version": seen},
    )
    second = post(
        stack,
        clerk,
        f"/applications/{created['id']}/actions",
        {"action": "request_materials", "reason": "请补充", "version": seen},
    )
    assert (first.status_code, second.status_code) == (200, 409)
    events = wait_for(
        lambda: len(found := case_events(counter, created["id"])) >= 4 and found,
        what="the accepted case's events",
    )
    assert "request_materials" not in [e["data"]["action"] for e in events]


def test_an_invalid_ems_receiver_is_refused_when_applying_not_after_approval(stack, citizen):
    """Seen: phone "abc" was accepted, then the approval answered 422 after moving the case."""
    answer = post(
        stack,
        citizen,
        "/applications",
        {
            "item_code": MARKET + "XK0001",
            "applicant_name": "林小姐",
            "delivery": {**EMS_TO_HOME, "phone": "abc"},
        },
    )
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "phone" in answer.json()["detail"]
    mine = requests.get(
        f"{stack.url}/applications?mine=true", headers=bearer(citizen), timeout=10
    ).json()
    assert mine["cases"] == [], "nothing was stored"


def test_a_rejected_case_closes_in_the_same_step(stack, citizen, counter):
    created = apply(stack, citizen)
    upload(created["uploads"][0])
    post(stack, citizen, f"/applications/{created['id']}/submit")
    clerk = department_token(stack, ["cases:review"], agency=MARKET)
    assert post(stack, clerk, f"/applications/{created['id']}/actions", {"action": "accept"}).ok
    rejected = post(
        stack,
        clerk,
        f"/applications/{created['id']}/actions",
        {"action": "reject", "reason": "经营场所不符合要求"},
    )
    assert rejected.status_code == 200, rejected.text
    case = rejected.json()
    assert case["state"] == "closed"
    assert case["reason"] == "经营场所不符合要求", "the citizen still sees why"
    assert [e["action"] for e in case["timeline"]][-2:] == ["reject", "close"]
    events = wait_for(
        lambda: len(found := case_events(counter, created["id"])) >= 6 and found,
        what="the reject and close events",
    )
    assert {"reject", "close"} <= {e["data"]["action"] for e in events}


def test_a_complaint_about_someone_elses_case_reveals_nothing(stack, ca, citizen):
    created = apply(stack, citizen)
    other = login(stack, ca.issue("11010519491231002X", "王先生")).json()["access_token"]
    answer = requests.post(
        f"{stack.url}/hotline/tickets",
        json={
            "kind": "complaint",
            "category": "delay",
            "title": "办件太慢",
            "details": "我的办件一直没有进展",
            "about_case": created["id"],
        },
        headers=bearer(other),
        timeout=10,
    )
    assert answer.status_code == 404, answer.text
    assert MARKET not in answer.text, "the case's agency is not revealed"


def test_a_publisher_short_of_time_publishes_whole_chunks_only_and_none_twice(stack, aws, counter):
    """A run about to time out starts no chunk it could leave published but unmarked."""
    from tests.integration.test_payments import environment
    from tests.integration.test_subscriptions import case_event

    events = [case_event(MARKET, case_id=f"FZ-TIME-{n:02d}") for n in range(25)]
    envelopes = [(e.id, e.model_dump_json()) for e in events]
    stream = next(p for p in stack.pollers if p.function.logical_id == "PublisherFunction")
    stream.pause()  # the rows wait for this test's publisher, not the stream's
    try:
        with environment(stack.functions["PublisherFunction"].environment):
            from govbus import outbox

            outbox.record(events)
            clock = iter([60_000])  # time for one chunk of ten, then under the reserve
            failed = outbox.publish_pending(envelopes, lambda: next(clock, 1_000))
            assert len(failed) == 15 and set(failed.values()) == {"out of time"}
            published = [e for e in envelopes if e[0] not in failed]
            assert outbox.publish_pending(envelopes) == {}, "the next run takes the rest"
            assert outbox.publish_pending(published) == {}, "published rows are not put again"
    finally:
        stream.resume()
    seen = wait_for(
        lambda: (c := counter()) and sum(c[e.id] for e in events) >= 25 and c,
        what="all 25 events on the bus",
    )
    assert [seen[e.id] for e in events] == [1] * 25, "each event on the bus once"
