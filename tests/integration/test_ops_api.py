"""The ops API behind the ops console: only an ops client's token opens it, and it shows
what the platform is doing (adapters, the bus, dead letters, cases)."""

from __future__ import annotations

import json

import pytest
import requests

from contracts.events import Event
from govbus.stores import clients
from tests.conftest import wait_for
from tests.integration.conftest import (
    CITIZEN,
    bearer,
    department_token,
    login,
    post_webhook,
)

ROUTES = [
    ("GET", "/ops/adapters"),
    ("GET", "/ops/events"),
    ("GET", "/ops/dlq"),
    ("GET", "/ops/cases"),
    ("POST", "/ops/dlq/eventlog-dlq/redrive"),
]


def ops_token(stack) -> str:
    """A token of a fresh ops client, through POST /auth/token as the console gets it."""
    client_id, secret = clients.create(
        "ops", [], "ops on duty", table=stack.resolver.refs["ClientsTable"], role=clients.OPS
    )
    answer = requests.post(
        f"{stack.url}/auth/token",
        json={"client_id": client_id, "client_secret": secret},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["scopes"] == ["ops"]
    return answer.json()["access_token"]


def ops(stack, token, path, method="GET"):
    return requests.request(method, f"{stack.url}{path}", headers=bearer(token), timeout=30)


def test_only_an_ops_token_opens_the_ops_api(stack, ca):
    citizen = login(stack, ca.issue(CITIZEN, "林小姐")).json()["access_token"]
    # a department with every scope a department can hold is still no operator
    department = department_token(
        stack, ["catalog:write", "subjects:read", "licences:read", "payments:reconcile"]
    )
    token = ops_token(stack)
    for method, path in ROUTES:
        anonymous = requests.request(method, f"{stack.url}{path}", timeout=10)
        assert anonymous.status_code == 401, (path, anonymous.text)
        for refused in (citizen, department):
            answer = ops(stack, refused, path, method)
            assert answer.status_code == 403, (path, answer.text)
            assert answer.headers["content-type"].startswith("application/problem+json")
            assert "ops" in answer.json()["detail"]
        allowed = ops(stack, token, path, method)
        assert allowed.status_code == 200, (path, allowed.text)


def test_an_ops_token_opens_nothing_but_the_ops_api(stack):
    token = ops_token(stack)
    for method, path in (
        ("GET", "/accounts/me"),
        ("GET", "/subscriptions"),
        ("GET", f"/subjects/{CITIZEN}/records?purpose=curiosity"),
        ("GET", "/reconciliation/2026-01-05"),
        ("GET", "/applications?mine=true"),
        ("POST", "/disclosure/documents"),
        ("GET", "/licences"),
    ):
        answer = ops(stack, token, path, method)
        # refused alike, at the edge, before any function reads the request
        assert answer.status_code == 403, (path, answer.status_code, answer.text)
        assert answer.json() == {"message": "Forbidden"}, (path, answer.text)


def test_no_department_client_can_be_granted_the_ops_scope(stack):
    with pytest.raises(ValueError, match="ops clients only"):
        clients.create(
            "11350100MB00000012",
            ["catalog:write", "ops"],
            table=stack.resolver.refs["ClientsTable"],
        )


def test_a_webhook_shows_in_the_throughput_with_its_latency(stack, acme):
    token = ops_token(stack)
    before = ops(stack, token, "/ops/events?minutes=5")
    assert before.status_code == 200 and before.json()["total"] == 0, before.text
    for n in range(3):
        body = json.dumps({"note": f"tracking update {n}"}).encode()
        assert post_webhook(stack.url, body).status_code == 202

    def counted():
        seen = ops(stack, token, "/ops/events?minutes=5").json()
        return seen if seen["total"] >= 3 else None

    seen = wait_for(counted, timeout=20, what="three archived events")
    assert seen["minutes"] == 5
    assert sum(t["count"] for t in seen["types"]) == seen["total"]
    top = seen["types"][0]
    assert top["count"] >= 1 and top["per_minute"] > 0
    assert 0 <= top["latency_ms_p50"] <= top["latency_ms_p95"] <= top["latency_ms_p99"]


def test_a_window_outside_one_to_sixty_minutes_is_refused_with_the_reason(stack):
    token = ops_token(stack)
    for bad in ("0", "61", "ten", "-5"):
        answer = ops(stack, token, f"/ops/events?minutes={bad}")
        assert answer.status_code == 422, (bad, answer.text)
        assert answer.json()["field"] == "minutes"
        assert "1 to 60" in answer.json()["detail"]


def dead_letter(aws, stack, queue_logical: str) -> str:
    """An archived-to-be event whose first delivery failed, on ``queue_logical``."""
    event = Event.create("platform.heartbeat", {"emitted_by": "ops test"}, source="govbus.test")
    envelope = {
        "version": "0",
        "id": "eb-ops",
        "detail-type": event.type,
        "source": event.source,
        "detail": json.loads(event.model_dump_json()),
    }
    aws["sqs"].send_message(
        QueueUrl=stack.resolver.refs[queue_logical], MessageBody=json.dumps(envelope)
    )
    return event.id


def depth_of(stack, token, name: str) -> int:
    queues = ops(stack, token, "/ops/dlq").json()["queues"]
    return next(q["depth"] for q in queues if q["name"] == name)


def test_a_dead_letter_shows_its_depth_and_an_ops_redrive_puts_it_back(stack, aws):
    token = ops_token(stack)
    name = stack.resolver.refs["EventLogDLQ"].rsplit("/", 1)[-1]
    listed = ops(stack, token, "/ops/dlq").json()["queues"]
    assert name in [q["name"] for q in listed]
    # only this stack's queues, each with where its letters come from
    assert all(q["name"].startswith(f"{stack.stack_name}-") for q in listed)
    assert next(q for q in listed if q["name"] == name)["sources"] == [
        stack.resolver.refs["EventLogQueue"].rsplit("/", 1)[-1]
    ]
    event_id = dead_letter(aws, stack, "EventLogDLQ")
    assert depth_of(stack, token, name) == 1

    moved = ops(stack, token, f"/ops/dlq/{name}/redrive", "POST")
    assert moved.status_code == 200, moved.text
    assert moved.json()["moved"] == 1
    assert depth_of(stack, token, name) == 0
    # back where it failed, it is archived this time
    table = stack.resolver.refs["EventLogTable"]
    wait_for(
        lambda: aws["dynamodb"].get_item(TableName=table, Key={"id": {"S": event_id}}).get("Item"),
        timeout=20,
        what="the redriven event archived",
    )
    audit = aws["dynamodb"].scan(TableName=stack.resolver.refs["AuditTable"])["Items"]
    redriven = [e for e in audit if e["action"]["S"] == "dlq.redriven"]
    assert len(redriven) == 1 and redriven[0]["target"]["S"] == name


def test_redriving_a_queue_that_is_not_this_stacks_dlq_is_404(stack, aws):
    token = ops_token(stack)
    for name in ("nope-dlq", stack.resolver.refs["EventLogQueue"].rsplit("/", 1)[-1]):
        answer = ops(stack, token, f"/ops/dlq/{name}/redrive", "POST")
        assert answer.status_code == 404, (name, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")


def test_another_stacks_queues_are_neither_listed_nor_redriven(stack, aws):
    """A stack whose name starts with this one's (govbus-local-b) is another stack."""
    other = f"{stack.stack_name}-b-dispatch"
    source = aws["sqs"].create_queue(QueueName=other)["QueueUrl"]
    dlq = aws["sqs"].create_queue(QueueName=f"{other}-dlq")["QueueUrl"]
    dlq_arn = aws["sqs"].get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    aws["sqs"].set_queue_attributes(
        QueueUrl=source,
        Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"})
        },
    )
    aws["sqs"].send_message(QueueUrl=dlq, MessageBody="{}")
    try:
        token = ops_token(stack)
        listed = [q["name"] for q in ops(stack, token, "/ops/dlq").json()["queues"]]
        assert listed and f"{other}-dlq" not in listed
        for name in (f"{other}-dlq", "b-dispatch-dlq"):
            answer = ops(stack, token, f"/ops/dlq/{name}/redrive", "POST")
            assert answer.status_code == 404, (name, answer.text)
        attrs = aws["sqs"].get_queue_attributes(
            QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        assert attrs["ApproximateNumberOfMessages"] == "1", "the other stack's letter stays"
    finally:
        aws["sqs"].delete_queue(QueueUrl=source)
        aws["sqs"].delete_queue(QueueUrl=dlq)


def test_a_letter_with_nowhere_to_go_stays_and_the_answer_says_why(stack, aws):
    url = stack.resolver.refs["OutboxDLQ"]  # the stream's give-up notices: no source queue
    aws["sqs"].send_message(QueueUrl=url, MessageBody='{"requestContext": {}}')
    try:
        token = ops_token(stack)
        name = url.rsplit("/", 1)[-1]
        answer = ops(stack, token, f"/ops/dlq/{name}/redrive", "POST")
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert (body["moved"], body["stayed"]) == (0, 1)
        assert "1 letter(s) stayed" in body["reason"] and "sweep publishes them" in body["reason"]
    finally:
        aws["sqs"].purge_queue(QueueUrl=url)


def test_adapters_show_their_health_and_their_shared_circuit(stack, aws, acme):
    token = ops_token(stack)
    acme.set_health("down")
    aws["dynamodb"].put_item(
        TableName=stack.resolver.refs["CircuitTable"],
        Item={
            "partner": {"S": "ems"},
            "state": {"S": "open"},
            "failures": {"N": "5"},
            "open_until": {"N": "9999999999"},
            "last_error": {"S": "PartnerUnavailable: 503"},
        },
    )
    answer = ops(stack, token, "/ops/adapters")
    assert answer.status_code == 200, answer.text
    adapters = {a["adapter"]: a for a in answer.json()["adapters"]}
    assert {"ems", "ca", "acme"} <= set(adapters)
    assert adapters["acme"]["health"] == "down"
    assert adapters["ems"]["circuit"] == "open" and adapters["ems"]["failures"] == 5
    assert adapters["ems"]["last_error"] == "PartnerUnavailable: 503"
    assert adapters["ca"]["circuit"] == "closed" and adapters["ca"]["health"] == "up"
    assert adapters["ems"]["version"] and adapters["ems"]["family"]


def test_cases_are_counted_by_state_without_applicant_data(stack, ca):
    seeded = stack.seed()
    client_id, secret = seeded["ops_client"]
    token = requests.post(
        f"{stack.url}/auth/token",
        json={"client_id": client_id, "client_secret": secret},
        timeout=10,
    ).json()["access_token"]
    citizen = login(stack, ca.issue(CITIZEN, "林小姐")).json()["access_token"]
    created = requests.post(
        f"{stack.url}/applications",
        json={
            "item_code": "11350100MB00000012XK0001",
            "applicant_name": "林小姐",
            "delivery": {"method": "collect"},
        },
        headers=bearer(citizen),
        timeout=20,
    )
    assert created.status_code == 201, created.text
    answer = ops(stack, token, "/ops/cases")
    assert answer.status_code == 200, answer.text
    seen = answer.json()
    assert seen["total"] == 1
    assert seen["by_state"] == {created.json()["state"]: 1}
    assert [c["case_id"] for c in seen["latest"]] == [created.json()["id"]]
    assert CITIZEN not in answer.text and "林小姐" not in answer.text


def test_who_may_not_act_is_refused_before_the_body_or_query_is_read(stack, ca):
    """A caller without the right learns 403, not the rules of the input (422)."""
    citizen = login(stack, ca.issue(CITIZEN, "林小姐")).json()["access_token"]
    reviewer = department_token(stack, ["cases:review"])

    def send(method, path, token, **kwargs):
        return requests.request(
            method, f"{stack.url}{path}", headers=bearer(token), timeout=30, **kwargs
        )

    refused = [
        send("GET", "/applications?mine=true", reviewer),
        send("POST", "/applications", reviewer, json={"item_code": 7}),
        send("POST", "/applications", reviewer, json={}),
        send("POST", "/catalog/items", citizen, json={"name": ""}),
        send("GET", "/subjects/not-a-code/records", reviewer),
        send("GET", "/subjects/11010519491231002X/records", citizen),  # someone else's
    ]
    assert [r.status_code for r in refused] == [403] * 6, [r.text for r in refused]
    assert all(r.headers["content-type"].startswith("application/problem+json") for r in refused)
    # with the right, the same bad input is a 422 that names the field
    bad = send("POST", "/applications", citizen, json={"item_code": 7})
    assert bad.status_code == 422 and "item_code" in bad.text
