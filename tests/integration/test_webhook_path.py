"""HTTP -> webhooks handler -> EventBridge -> SQS -> eventlog consumer, over moto server."""

import json

import pytest

from tests.conftest import wait_for
from tests.integration.conftest import archived, post_webhook


def test_a_signed_push_is_accepted_published_routed_and_archived_once(stack, aws, acme):
    body = json.dumps({"note": "tracking update", "subject": "350102199003071234"}).encode()
    first = post_webhook(stack.url, body, msg_id="msg_once")
    assert first.status_code == 202, first.text
    event_ids = first.json()["event_ids"]
    assert len(event_ids) == 1

    # the same delivery again: the original answer, nothing published twice
    again = post_webhook(stack.url, body, msg_id="msg_once")
    assert again.status_code == 202
    assert again.json()["event_ids"] == event_ids

    items = wait_for(lambda: archived(aws, stack), what="the event in the event log")
    assert [i["id"]["S"] for i in items] == event_ids
    envelope = json.loads(items[0]["envelope"]["S"])
    assert envelope["source"] == "govbus.partner.acme"
    assert envelope["correlationid"] == "msg_once"
    assert envelope["data"]["note"] == "tracking update"
    assert items[0]["subject"]["S"] == "3501**********1234", "the archive masks identifiers"


def test_same_delivery_id_with_another_body_is_409_and_not_published(stack, aws, acme):
    assert post_webhook(stack.url, b'{"note": "first"}', msg_id="msg_dup").status_code == 202
    answer = post_webhook(stack.url, b'{"note": "second"}', msg_id="msg_dup")
    assert answer.status_code == 409
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["status"] == 409
    assert "different body" in answer.json()["detail"]
    assert_only_published(stack, aws, ["first"])


def test_a_push_published_again_after_its_answer_was_lost_is_archived_once(stack, aws, acme):
    """The push's receipt is gone (past its window) and the partner sends the push again:
    its events get the same ids, so the event log (and every consumer that goes by the
    event id) takes it once."""
    body = b'{"note": "answer lost"}'
    first = post_webhook(stack.url, body, msg_id="msg_answer_lost")
    assert first.status_code == 202, first.text
    wait_for(lambda: archived(aws, stack), what="the push in the event log")
    table = stack.resolver.refs["IdempotencyTable"]
    records = aws["dynamodb"].scan(TableName=table)["Items"]
    assert records, "the delivery's receipt"
    for record in records:  # as if it had never been saved
        aws["dynamodb"].delete_item(TableName=table, Key={"id": record["id"]})

    again = post_webhook(stack.url, body, msg_id="msg_answer_lost")
    assert again.status_code == 202, again.text
    assert again.json()["event_ids"] == first.json()["event_ids"]
    assert_only_published(stack, aws, ["answer lost"])


def test_a_push_delivered_again_is_published_again_and_archived_once(stack, aws, acme):
    body = b'{"note": "delivered twice"}'
    first = post_webhook(stack.url, body, msg_id="msg_twice")
    again = post_webhook(stack.url, body, msg_id="msg_twice")
    assert first.status_code == again.status_code == 202, again.text
    assert again.json() == first.json()
    assert_only_published(stack, aws, ["delivered twice"])


def test_a_push_whose_events_the_bus_refused_is_published_by_the_partners_retry(stack, aws, acme):
    """The receipt is written before PutEvents: a push answered 503 is not lost, and its
    retry (same delivery id, same body) publishes it, once."""
    bus = stack.resolver.refs["EventBus"]
    aws["events"].delete_event_bus(Name=bus)
    body = b'{"note": "bus was down"}'
    refused = post_webhook(stack.url, body, msg_id="msg_bus_down")
    assert refused.status_code == 503, refused.text
    assert refused.headers["content-type"] == "application/problem+json"

    stack.provision()  # the bus and its rules are back
    again = post_webhook(stack.url, body, msg_id="msg_bus_down")
    assert again.status_code == 202, again.text
    assert len(again.json()["event_ids"]) == 1
    assert_only_published(stack, aws, ["bus was down"])


def test_the_same_push_delivered_twice_at_once_is_accepted_twice_and_archived_once(
    stack, aws, acme
):
    from concurrent.futures import ThreadPoolExecutor

    body = b'{"note": "at once"}'
    with ThreadPoolExecutor(2) as pool:
        answers = list(
            pool.map(lambda _: post_webhook(stack.url, body, msg_id="msg_at_once"), range(2))
        )
    assert [a.status_code for a in answers] == [202, 202], [a.text for a in answers]
    assert answers[0].json()["event_ids"] == answers[1].json()["event_ids"]
    assert_only_published(stack, aws, ["at once"])


def test_a_receipt_past_its_window_no_longer_holds_the_delivery_id(stack, aws, acme):
    """DynamoDB removes expired items late: a receipt past its expiry counts as gone."""
    import hashlib
    import time

    from govbus.pushes import receipt_key

    aws["dynamodb"].put_item(
        TableName=stack.resolver.refs["IdempotencyTable"],
        Item={
            "id": {"S": receipt_key("acme", "msg_expired")},
            "body_sha256": {"S": hashlib.sha256(b"an old body").hexdigest()},
            "event_ids": {"L": [{"S": "old-event"}]},
            "expiration": {"N": str(int(time.time()) - 60)},
        },
    )
    answer = post_webhook(stack.url, b'{"note": "a new body"}', msg_id="msg_expired")
    assert answer.status_code == 202, answer.text
    assert answer.json()["event_ids"] != ["old-event"]
    assert_only_published(stack, aws, ["a new body"])


def test_the_same_body_under_another_delivery_id_is_another_event(stack, aws, acme):
    body = b'{"note": "twice on purpose"}'
    one = post_webhook(stack.url, body, msg_id="msg_first_of_two")
    two = post_webhook(stack.url, body, msg_id="msg_second_of_two")
    assert one.status_code == two.status_code == 202
    assert one.json()["event_ids"] != two.json()["event_ids"]
    assert_only_published(stack, aws, ["twice on purpose", "twice on purpose"])


def assert_only_published(stack, aws, notes):
    """Publish a marker after the refusals and wait for it: moto delivers in order, so once
    the marker is archived, anything a refused request had published would be too."""
    assert post_webhook(stack.url, b'{"note": "marker"}').status_code == 202
    items = wait_for(
        lambda: (lambda got: got if any("marker" in i["envelope"]["S"] for i in got) else None)(
            archived(aws, stack)
        ),
        what="the marker event",
        # past a long poll begun before the stack was reset (up to 20 s)
        timeout=60,
    )
    seen = sorted(json.loads(i["envelope"]["S"])["data"]["note"] for i in items)
    assert seen == sorted([*notes, "marker"])


@pytest.mark.parametrize(
    ("case", "status", "slug"),
    [
        ("bad signature", 401, "invalid-signature"),
        ("no signature", 401, "invalid-signature"),
        ("stale timestamp", 401, "stale-timestamp"),
        ("not json", 400, "invalid-request"),
        ("missing field", 400, "invalid-request"),
        ("too large", 413, "payload-too-large"),
    ],
)
def test_refused_pushes_get_problem_json_and_publish_nothing(stack, aws, acme, case, status, slug):
    import time

    body = b'{"note": "refused"}'
    kwargs = {}
    if case == "bad signature":
        kwargs["secret"] = "whsec_c29tZW9uZSBlbHNlJ3Mgc2VjcmV0"
    elif case == "no signature":
        kwargs["headers"] = {"webhook-signature": ""}
    elif case == "stale timestamp":
        kwargs["timestamp"] = int(time.time()) - 600
    elif case == "not json":
        body = b"note=refused"
    elif case == "missing field":
        body = b'{"text": "refused"}'
    elif case == "too large":
        body = b'{"note": "' + b"x" * (300 * 1024) + b'"}'
    answer = post_webhook(stack.url, body, **kwargs)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["type"].endswith(slug)
    assert problem["status"] == status and problem["detail"]
    if case == "missing field":
        assert problem["field"] == "note"
    if status == 401:  # a signature failure is security-relevant: it is in the audit chain
        audited = aws["dynamodb"].scan(TableName="govbus-local-audit")["Items"]
        assert [(a["action"]["S"], a["actor"]["S"]) for a in audited] == [
            ("webhook.refused", "partner:acme")
        ]
    assert_only_published(stack, aws, [])


def test_an_unknown_partner_is_404_problem_json(stack, acme):
    import requests

    answer = requests.post(f"{stack.url}/webhooks/nobody", data=b"{}", timeout=10)
    assert answer.status_code == 404
    assert answer.json()["type"].endswith("unknown-partner")


def test_a_partner_without_a_stored_secret_gets_503_and_nothing_is_published(stack, aws, acme):
    aws["secretsmanager"].delete_secret(
        SecretId="govbus/dev/webhooks/acme", ForceDeleteWithoutRecovery=True
    )
    stack.clear_caches()  # the function's five-minute secret cache
    answer = post_webhook(stack.url, b'{"note": "no secret"}')
    assert answer.status_code == 503
    assert "no push secret is configured" in answer.json()["detail"]
    # ops stores the secret; the marker then proves the refused push published nothing
    from tests.integration.conftest import ACME_SECRET

    aws["secretsmanager"].create_secret(
        Name="govbus/dev/webhooks/acme", SecretString=json.dumps({"secret": ACME_SECRET})
    )
    stack.clear_caches()
    assert_only_published(stack, aws, [])


def test_rotating_a_push_secret_keeps_the_old_one_until_dropped(stack, aws, acme, capsys):
    from govbus_dev.cli import main as govbus
    from tests.integration.conftest import ACME_SECRET

    assert govbus(["webhooks", "rotate", "acme", "--stack", stack.stack_name]) == 0
    new = next(
        line.split()[-1]
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("new secret")
    )
    stack.clear_caches()
    assert post_webhook(stack.url, b'{"note": "old"}', secret=ACME_SECRET).status_code == 202
    assert post_webhook(stack.url, b'{"note": "new"}', secret=new).status_code == 202
    assert govbus(["webhooks", "drop-previous", "acme", "--stack", stack.stack_name]) == 0
    stack.clear_caches()
    assert post_webhook(stack.url, b'{"note": "old again"}', secret=ACME_SECRET).status_code == 401
    audited = aws["dynamodb"].scan(TableName="govbus-local-audit")["Items"]
    rotations = sorted(
        a["detail"]["S"] for a in audited if a["action"]["S"] == "adapter.secret_rotated"
    )
    assert rotations == [
        "new push secret; the previous one stays valid",
        "previous push secret dropped",
    ]
