"""Events out over the local stack: a department's system subscribes a receiver on
loopback, and receives signed Standard Webhooks requests whose bodies are CloudEvents."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from cloudevents.v1.http import from_json
from standardwebhooks.webhooks import Webhook

from contracts.cases import CaseTransitioned
from contracts.events import Event
from tests.conftest import wait_for
from tests.integration.conftest import bearer, department_token, put_event
from tests.integration.test_cases import apply, case_of, post, upload

MARKET = "11350100MB00000012"  # the case's agency in the seed data
POLICE = "11350100MB00000025"


class Receiver:
    """A department's webhook endpoint: records every request, answers as told."""

    def __init__(self) -> None:
        self.answer = 204
        self.delay = 0.0
        self.requests: list[dict] = []  # every request, with what it was answered
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                arrived = time.monotonic()
                status = receiver.answer
                with receiver._lock:
                    receiver.requests.append(
                        {
                            "headers": {k.lower(): v for k, v in self.headers.items()},
                            "body": body,
                            "status": status,
                            "arrived": arrived,
                        }
                    )
                if receiver.delay:
                    time.sleep(receiver.delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/govbus"

    def accepted(self) -> list[dict]:
        with self._lock:
            return [r for r in self.requests if 200 <= r["status"] < 300]

    def events(self) -> list[dict]:
        return [json.loads(r["body"]) for r in self.accepted()]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers():
    made: list[Receiver] = []

    def make() -> Receiver:
        made.append(Receiver())
        return made[-1]

    yield make
    for r in made:
        r.stop()


def subscribe(stack, token, url, event_types=("case.*",)) -> dict:
    answer = requests.post(
        f"{stack.url}/subscriptions",
        headers=bearer(token),
        json={"url": url, "event_types": list(event_types), "description": "审批系统"},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def case_event(agency: str, case_id: str = "FZ-TEST-1", applicant: str = "350102199003071234"):
    return Event.create(
        "case.transitioned",
        CaseTransitioned(
            case_id=case_id,
            item_code=agency + "XK0001",
            agency=agency,
            action="accept",
            from_state="pre_reviewed",
            to_state="accepted",
            applicant_key="k" * 64,
            reason=f"申请人 {applicant} 材料齐全",
        ),
        source="govbus.applications",
        subject=case_id,
    )


def verified(request: dict, secret: str) -> dict:
    """What an outside verifier makes of a delivery: the reference Standard Webhooks
    library checks the signature, the CloudEvents SDK parses the body."""
    Webhook(secret).verify(request["body"], request["headers"])
    event = from_json(request["body"])
    assert event["specversion"] == "1.0"
    return json.loads(request["body"])


@pytest.fixture
def seeded(stack):
    return stack.seed()


def test_a_case_lifecycle_reaches_the_subscriber_once_each_signed_as_cloudevents(
    stack, aws, ca, seeded, receivers
):
    from tests.integration.conftest import CITIZEN, login

    market, police = receivers(), receivers()
    market_token = department_token(stack, ["subscriptions:manage"], agency=MARKET)
    sub = subscribe(stack, market_token, market.url)
    assert sub["secret"].startswith("whsec_") and sub["event_types"] == ["case.*"]
    assert (
        "secret"
        not in requests.get(
            f"{stack.url}/subscriptions/{sub['id']}", headers=bearer(market_token), timeout=10
        ).json()
    ), "the secret is shown once"
    subscribe(stack, department_token(stack, ["subscriptions:manage"], agency=POLICE), police.url)

    citizen = login(stack, ca.issue(CITIZEN, "林小姐")).json()["access_token"]
    market.answer = 503  # the department's system is down while the case starts
    created = apply(stack, citizen)
    upload(created["uploads"][0])
    assert post(stack, citizen, f"/applications/{created['id']}/submit").status_code == 200
    wait_for(lambda: len(market.requests) >= 2, what="attempts at the failing receiver")
    market.answer = 204  # it recovers; the retries deliver what it missed

    clerk = department_token(stack, ["cases:review"], agency=MARKET)
    assert post(stack, clerk, f"/applications/{created['id']}/actions", {"action": "accept"}).ok
    assert post(stack, clerk, f"/applications/{created['id']}/actions", {"action": "approve"}).ok
    wait_for(
        lambda: case_of(stack, citizen, created["id"])["state"] == "licence_issued",
        what="the e-licence to be issued",
    )

    def archived_case_events() -> set[str]:
        items = aws["dynamodb"].scan(TableName=stack.resolver.refs["EventLogTable"])["Items"]
        return {
            i["id"]["S"]
            for i in items
            if i["type"]["S"].startswith("case.")
            and json.loads(i["envelope"]["S"])["data"].get("case_id") == created["id"]
        }

    def all_arrived() -> set[str]:
        archived = archived_case_events()
        arrived = {e["id"] for e in market.events()}
        return archived if len(archived) >= 5 and arrived == archived else set()

    # every case event the archive holds, the subscriber holds too (retries included)
    expected = wait_for(all_arrived, timeout=30, what="every case event at the subscriber")
    delivered = market.events()
    ids = [e["id"] for e in delivered]
    assert len(ids) == len(set(ids)), "each event is delivered once"
    assert set(ids) == expected
    for request in market.accepted():
        body = verified(request, sub["secret"])
        assert body["type"] == "case.transitioned" and body["data"]["agency"] == MARKET
    assert any(r["status"] == 503 for r in market.requests), "some attempts failed first"

    deliveries = requests.get(
        f"{stack.url}/subscriptions/{sub['id']}/deliveries",
        headers=bearer(market_token),
        timeout=10,
    ).json()["deliveries"]
    retried = [d for d in deliveries if len(d["attempts"]) > 1]
    assert retried and all(d["status"] == "delivered" for d in deliveries)
    assert retried[0]["attempts"][0]["status_code"] == 503

    assert police.requests == [], "another agency's events never reach a subscriber"


def test_test_event_arrives_within_seconds_and_rotation_keeps_both_secrets(stack, receivers):
    receiver = receivers()
    token = department_token(stack, ["subscriptions:manage"], agency=MARKET)
    sub = subscribe(stack, token, receiver.url)

    sent = requests.post(
        f"{stack.url}/subscriptions/{sub['id']}/test", headers=bearer(token), timeout=10
    )
    assert sent.status_code == 201, sent.text
    assert sent.json()["status"] == "delivered"
    first = wait_for(lambda: receiver.accepted(), timeout=5, what="the test event")[0]
    assert verified(first, sub["secret"])["type"] == "subscription.test"
    assert first["headers"]["webhook-id"] == sent.json()["id"]

    rotated = requests.post(
        f"{stack.url}/subscriptions/{sub['id']}/rotate-secret", headers=bearer(token), timeout=10
    )
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    assert new_secret != sub["secret"]
    requests.post(f"{stack.url}/subscriptions/{sub['id']}/test", headers=bearer(token), timeout=10)
    after = wait_for(lambda: receiver.accepted()[1:], timeout=5, what="the second test event")[0]
    assert len(after["headers"]["webhook-signature"].split(" ")) == 2
    verified(after, new_secret)
    verified(after, sub["secret"])  # the old secret still signs within the window
    with pytest.raises(Exception, match="signature"):
        Webhook("whsec_" + "QUJD" * 8).verify(after["body"], after["headers"])


def test_urls_must_be_public_https(stack):
    token = department_token(stack, ["subscriptions:manage"], agency=MARKET)
    for url, reason in [
        ("https://10.0.0.5/hook", "private"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("https://[::ffff:192.168.1.10]/hook", "private"),
        ("http://8.8.8.8/hook", "https"),
        ("ftp://127.0.0.1/hook", "https"),
    ]:
        answer = requests.post(
            f"{stack.url}/subscriptions",
            headers=bearer(token),
            json={"url": url, "event_types": ["case.*"]},
            timeout=10,
        )
        assert answer.status_code == 422, (url, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert reason in answer.json()["detail"], answer.json()


def test_a_dev_stack_allows_loopback_webhooks_but_not_into_its_own_aws_endpoint(stack):
    """Seen: a subscription to the local stack's own AWS endpoint (loopback, allowed on a
    dev stack) posted every event into the emulator, which then stalled the stack."""
    token = department_token(stack, ["subscriptions:manage"], agency=MARKET)
    answer = requests.post(
        f"{stack.url}/subscriptions",
        headers=bearer(token),
        json={"url": f"{stack.endpoint}/", "event_types": ["case.*"]},
        timeout=10,
    )
    assert answer.status_code == 422, answer.text
    assert "the platform's own" in answer.json()["detail"]


def test_a_subscription_needs_the_scope_and_known_event_types(stack):
    no_scope = department_token(stack, ["cases:review"], agency=MARKET)
    body = {"url": "https://8.8.8.8/hook", "event_types": ["case.*"]}
    assert (
        requests.post(
            f"{stack.url}/subscriptions", headers=bearer(no_scope), json=body, timeout=10
        ).status_code
        == 403
    )
    token = department_token(stack, ["subscriptions:manage"], agency=MARKET)
    answer = requests.post(
        f"{stack.url}/subscriptions",
        headers=bearer(token),
        json={**body, "event_types": ["account.*"]},
        timeout=10,
    )
    assert answer.status_code == 422 and "account.*" in answer.json()["detail"]


def test_a_slow_endpoint_delays_no_other_subscriber_and_410_disables(stack, aws, receivers):
    slow, fast = receivers(), receivers()
    slow.delay = 2.5
    token = department_token(stack, ["subscriptions:manage"], agency=MARKET)
    subscribe(stack, token, slow.url)
    subscribe(stack, token, fast.url)
    put_event(aws, stack, case_event(MARKET))
    wait_for(lambda: slow.requests and fast.requests, what="both receivers reached")
    assert abs(slow.requests[0]["arrived"] - fast.requests[0]["arrived"]) < 1.5

    gone, watcher = receivers(), receivers()
    gone.answer = 410
    sub = subscribe(stack, token, gone.url)
    subscribe(stack, token, watcher.url, event_types=("subscription.disabled",))
    put_event(aws, stack, case_event(MARKET, "FZ-TEST-2"))

    def status():
        return requests.get(
            f"{stack.url}/subscriptions/{sub['id']}", headers=bearer(token), timeout=10
        ).json()

    disabled = wait_for(lambda: (s := status())["status"] == "disabled" and s, what="disabling")
    assert "410" in disabled["disabled_reason"]
    assert len(gone.requests) == 1, "a 410 is not retried"
    told = wait_for(lambda: watcher.events(), what="the owner told through another subscription")
    assert [e["type"] for e in told] == ["subscription.disabled"]
    assert told[0]["data"]["subscription_id"] == sub["id"] and "410" in told[0]["data"]["reason"]


def test_identifiers_are_masked_unless_the_client_may_read_them(stack, aws, receivers):
    plain, entitled = receivers(), receivers()
    subscribe(stack, department_token(stack, ["subscriptions:manage"], agency=MARKET), plain.url)
    subscribe(
        stack,
        department_token(stack, ["subscriptions:manage", "subjects:read"], agency=MARKET),
        entitled.url,
    )
    put_event(aws, stack, case_event(MARKET))
    masked = wait_for(lambda: plain.events(), what="the masked delivery")[0]
    clear = wait_for(lambda: entitled.events(), what="the unmasked delivery")[0]
    assert "350102199003071234" not in json.dumps(masked)
    assert "3501**********1234" in masked["data"]["reason"]
    assert masked["data"]["agency"] == MARKET, "the subscriber's own agency stays readable"
    assert "350102199003071234" in clear["data"]["reason"]


def test_exhausted_retries_fail_then_a_manual_retry_and_a_replay_deliver(stack, aws, receivers):
    receiver = receivers()
    receiver.answer = 500
    token = department_token(stack, ["subscriptions:manage"], agency=MARKET)
    sub = subscribe(stack, token, receiver.url)
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    put_event(aws, stack, case_event(MARKET))
    url = f"{stack.url}/subscriptions/{sub['id']}/deliveries"

    failed = wait_for(
        lambda: [
            d
            for d in requests.get(url, headers=bearer(token), timeout=10).json()["deliveries"]
            if d["status"] == "failed"
        ],
        timeout=30,
        what="the delivery to fail after its last retry",
    )[0]
    assert len(failed["attempts"]) == 8, "the first attempt and seven retries"
    assert all(a["status_code"] == 500 for a in failed["attempts"])

    receiver.answer = 200
    retried = requests.post(f"{url}/{failed['id']}/retry", headers=bearer(token), timeout=10)
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "delivered"
    assert len(receiver.accepted()) == 1

    # the event log archives the event; a replay of the range sends it again
    wait_for(
        lambda: aws["dynamodb"].scan(TableName=stack.resolver.refs["EventLogTable"])["Items"],
        what="the event in the archive",
    )
    replay = requests.post(
        f"{stack.url}/subscriptions/{sub['id']}/replay",
        headers=bearer(token),
        json={
            "since": before.isoformat(),
            "until": (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)).isoformat(),
        },
        timeout=10,
    )
    assert replay.status_code == 202, replay.text
    assert replay.json()["deliveries"] == 1
    wait_for(lambda: len(receiver.accepted()) == 2, what="the replayed delivery")
    first, again = receiver.events()
    assert (
        first["id"] == again["id"] and first["data"]["agency"] == MARKET == again["data"]["agency"]
    )
    assert (
        receiver.accepted()[0]["headers"]["webhook-id"]
        != receiver.accepted()[1]["headers"]["webhook-id"]
    )


def test_a_subscription_failing_for_five_days_is_disabled_and_its_owner_told(stack, aws, receivers):
    receiver = receivers()
    receiver.answer = 500
    token = department_token(stack, ["subscriptions:manage"], agency=MARKET)
    sub = subscribe(stack, token, receiver.url)
    # it has been failing for six days already (as if its last success was that long ago)
    six_days_ago = (dt.datetime.now(dt.UTC) - dt.timedelta(days=6)).isoformat()
    aws["dynamodb"].update_item(
        TableName=stack.resolver.refs["SubscriptionsTable"],
        Key={"id": {"S": sub["id"]}},
        UpdateExpression="SET failing_since = :t",
        ExpressionAttributeValues={":t": {"S": six_days_ago}},
    )
    put_event(aws, stack, case_event(MARKET))

    def read():
        return requests.get(
            f"{stack.url}/subscriptions/{sub['id']}", headers=bearer(token), timeout=10
        ).json()

    disabled = wait_for(lambda: (s := read())["status"] == "disabled" and s, what="disabling")
    assert "failed since" in disabled["disabled_reason"]
    told = wait_for(
        lambda: [
            json.loads(i["envelope"]["S"])
            for i in aws["dynamodb"].scan(TableName=stack.resolver.refs["EventLogTable"])["Items"]
            if i["type"]["S"] == "subscription.disabled"
        ],
        what="the subscription.disabled event",
    )
    assert told[0]["data"]["subscription_id"] == sub["id"]
    deliveries = wait_for(
        lambda: [
            d
            for d in requests.get(
                f"{stack.url}/subscriptions/{sub['id']}/deliveries",
                headers=bearer(token),
                timeout=10,
            ).json()["deliveries"]
            if d["status"] == "cancelled"
        ],
        what="the pending retry to be cancelled",
    )
    assert len(deliveries[0]["attempts"]) == 1, "no retries once disabled"


def test_the_sweep_makes_an_attempt_that_was_lost(stack, aws, receivers):
    receiver = receivers()
    token = department_token(stack, ["subscriptions:manage"], agency=MARKET)
    sub = subscribe(stack, token, receiver.url)
    # a delivery written by the fan-out, whose process died before attempting it
    due = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)).isoformat()
    aws["dynamodb"].put_item(
        TableName=stack.resolver.refs["DeliveriesTable"],
        Item={
            "id": {"S": "msg_lost"},
            "subscription_id": {"S": sub["id"]},
            "event_id": {"S": "evt-lost"},
            "event_type": {"S": "case.transitioned"},
            "status": {"S": "pending"},
            "created_at": {"S": due},
            "body": {"S": '{"specversion":"1.0","id":"evt-lost","type":"case.transitioned"}'},
            "attempt_count": {"N": "0"},
            "attempts": {"S": "[]"},
            "retry_bucket": {"S": "retry"},
            "next_attempt_at": {"S": due},
        },
    )
    sweep = next(s for s in stack.schedules if s.name == "DeliveriesFunction-RetrySweep")
    assert sweep.fire() == {"attempted": 1}
    assert [r["headers"]["webhook-id"] for r in receiver.accepted()] == ["msg_lost"]
    assert sweep.fire() == {"attempted": 0}, "a delivered row is not attempted again"


def test_a_delivery_and_the_body_it_kept_expire_after_the_retention(stack, aws, receivers):
    receiver = receivers()
    token = department_token(stack, ["subscriptions:manage"], agency=MARKET)
    sub = subscribe(stack, token, receiver.url)
    sent = requests.post(
        f"{stack.url}/subscriptions/{sub['id']}/test", headers=bearer(token), timeout=10
    )
    assert sent.status_code == 201, sent.text
    table = stack.resolver.refs["DeliveriesTable"]
    row = aws["dynamodb"].get_item(TableName=table, Key={"id": {"S": sent.json()["id"]}})["Item"]
    assert "body" in row, "the sent body is kept for a manual retry"
    # DynamoDB deletes the row (and the body) about 30 days after it was written
    days = (int(row["expires_at"]["N"]) - time.time()) / 86400
    assert 29.9 < days <= 30, days
    ttl = aws["dynamodb"].describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    assert ttl["TimeToLiveStatus"] == "ENABLED" and ttl["AttributeName"] == "expires_at"


def test_a_revoked_clients_subscriptions_fall_silent(stack, aws, receivers):
    import base64
    import contextlib
    import io

    from govbus_dev.cli import main as govbus

    kept, revoked = receivers(), receivers()
    keeper = department_token(stack, ["subscriptions:manage"], agency=MARKET)
    leaver = department_token(stack, ["subscriptions:manage"], agency=MARKET)
    subscribe(stack, keeper, kept.url)
    subscribe(stack, leaver, revoked.url)
    claims = json.loads(base64.urlsafe_b64decode(leaver.split(".")[1] + "=="))
    with contextlib.redirect_stdout(io.StringIO()):
        assert govbus(["clients", "revoke", claims["sub"], "--stack", stack.stack_name]) == 0

    put_event(aws, stack, case_event(MARKET))
    # both subscriptions are judged in one fan-out: once one has it, the other never will
    wait_for(lambda: kept.accepted(), what="the active client's delivery")
    assert revoked.requests == []


HOLDER = "350102199003071234"


def licence_requested(agency: str, case_id: str = "FZ-TEST-LR"):
    from contracts.cases import LicenceRequested

    return Event.create(
        "licence.requested",
        LicenceRequested(
            case_id=case_id,
            issuer=agency,
            type_code="SPJYXKZ",
            holder_code=HOLDER,
            holder_name="林小红",
        ),
        source="govbus.applications",
        subject=case_id,
    )


def client_id(token: str) -> str:
    import base64

    return json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))["sub"]


def revoke(stack, token: str) -> None:
    import contextlib
    import io

    from govbus_dev.cli import main as govbus

    with contextlib.redirect_stdout(io.StringIO()):
        assert govbus(["clients", "revoke", client_id(token), "--stack", stack.stack_name]) == 0


def deliveries_of(stack, token, sid) -> list[dict]:
    answer = requests.get(
        f"{stack.url}/subscriptions/{sid}/deliveries", headers=bearer(token), timeout=10
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["deliveries"]


def fail_delivery(stack, aws, did: str) -> None:
    """As if the delivery's retries had run out: failed, kept for a manual retry."""
    aws["dynamodb"].update_item(
        TableName=stack.resolver.refs["DeliveriesTable"],
        Key={"id": {"S": did}},
        UpdateExpression="SET #s = :failed",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":failed": {"S": "failed"}},
    )


def test_a_revoked_clients_subscription_sends_no_test_and_no_retry(stack, aws, receivers):
    """Seen: after `govbus clients revoke X`, another client of the agency made X's
    subscription send a test delivery, and a retry re-sent a raw holder_code to X."""
    receiver = receivers()
    leaver = department_token(stack, ["subscriptions:manage", "subjects:read"], agency=MARKET)
    colleague = department_token(stack, ["subscriptions:manage"], agency=MARKET)
    sub = subscribe(stack, leaver, receiver.url, event_types=("licence.requested",))
    put_event(aws, stack, licence_requested(MARKET))
    sent = wait_for(lambda: receiver.events(), what="the licence request at the receiver")[0]
    assert sent["data"]["holder_code"] == HOLDER, "the client held subjects:read then"
    delivered = deliveries_of(stack, colleague, sub["id"])[0]

    revoke(stack, leaver)
    before = len(receiver.requests)
    test = requests.post(
        f"{stack.url}/subscriptions/{sub['id']}/test", headers=bearer(colleague), timeout=10
    )
    assert test.status_code == 409, test.text
    assert test.headers["content-type"].startswith("application/problem+json")
    assert "revoked" in test.json()["detail"]

    fail_delivery(stack, aws, delivered["id"])
    retried = requests.post(
        f"{stack.url}/subscriptions/{sub['id']}/deliveries/{delivered['id']}/retry",
        headers=bearer(colleague),
        timeout=10,
    )
    assert retried.status_code == 409, retried.text
    assert "revoked" in retried.json()["detail"]
    time.sleep(1)
    assert len(receiver.requests) == before, "nothing more reaches a revoked client's endpoint"


def test_a_retry_renders_the_body_under_the_owners_grants_of_that_moment(stack, aws, receivers):
    receiver = receivers()
    receiver.answer = 500
    owner = department_token(stack, ["subscriptions:manage", "subjects:read"], agency=MARKET)
    sub = subscribe(stack, owner, receiver.url, event_types=("licence.requested",))
    put_event(aws, stack, licence_requested(MARKET, "FZ-TEST-LR2"))
    wait_for(lambda: receiver.requests, what="the first (failing) attempt")
    assert HOLDER in receiver.requests[0]["body"].decode()
    did = deliveries_of(stack, owner, sub["id"])[0]["id"]
    # an operator takes subjects:read from the client; it keeps subscriptions:manage
    aws["dynamodb"].update_item(
        TableName=stack.resolver.refs["ClientsTable"],
        Key={"client_id": {"S": client_id(owner)}},
        UpdateExpression="SET scopes = :s",
        ExpressionAttributeValues={":s": {"SS": ["subscriptions:manage"]}},
    )
    fail_delivery(stack, aws, did)
    receiver.answer = 204
    retried = requests.post(
        f"{stack.url}/subscriptions/{sub['id']}/deliveries/{did}/retry",
        headers=bearer(owner),
        timeout=10,
    )
    assert retried.status_code == 200, retried.text
    body = verified(receiver.accepted()[-1], sub["secret"])
    assert HOLDER not in json.dumps(body, ensure_ascii=False)
    assert body["data"]["holder_code"] == "3501**********1234"
    assert body["data"]["holder_name"] == "林**"


def test_retrying_a_delivered_delivery_is_a_conflict(stack, aws, receivers):
    receiver = receivers()
    token = department_token(stack, ["subscriptions:manage"], agency=MARKET)
    sub = subscribe(stack, token, receiver.url)
    sent = requests.post(
        f"{stack.url}/subscriptions/{sub['id']}/test", headers=bearer(token), timeout=10
    )
    assert sent.status_code == 201 and sent.json()["status"] == "delivered", sent.text
    retried = requests.post(
        f"{stack.url}/subscriptions/{sub['id']}/deliveries/{sent.json()['id']}/retry",
        headers=bearer(token),
        timeout=10,
    )
    assert retried.status_code == 409, retried.text
    assert retried.headers["content-type"].startswith("application/problem+json")
    assert "already delivered" in retried.json()["detail"]
    time.sleep(1)
    assert len(receiver.requests) == 1, "the delivery is not sent again"


def test_an_applicants_name_is_masked_unless_the_client_may_read_it(stack, aws, receivers):
    plain, entitled = receivers(), receivers()
    types = ("licence.requested",)
    plain_token = department_token(stack, ["subscriptions:manage"], agency=MARKET)
    subscribe(stack, plain_token, plain.url, event_types=types)
    subscribe(
        stack,
        department_token(stack, ["subscriptions:manage", "subjects:read"], agency=MARKET),
        entitled.url,
        event_types=types,
    )
    put_event(aws, stack, licence_requested(MARKET, "FZ-TEST-LR3"))
    masked = wait_for(lambda: plain.events(), what="the masked delivery")[0]
    clear = wait_for(lambda: entitled.events(), what="the unmasked delivery")[0]
    assert masked["data"]["holder_name"] == "林**"
    assert "林小红" not in json.dumps(masked, ensure_ascii=False)
    assert masked["data"]["holder_code"] == "3501**********1234"
    assert clear["data"]["holder_name"] == "林小红" and clear["data"]["holder_code"] == HOLDER


def test_no_subscription_reaches_a_port_the_dev_stack_serves(stack):
    """Seen: a department subscribed http://127.0.0.1:<nontax>/_sim/cancel-pending, and its
    test delivery dropped the simulator's held notifications. Every simulator, the MQTT
    broker, the emulator and the gateway are the stack's own, by address or by name."""
    import urllib.parse

    token = department_token(stack, ["subscriptions:manage"], agency=MARKET)
    urls = [stack.endpoint, stack.url]
    for simulator in stack.simulators.values():
        urls += [simulator.url, getattr(simulator, "broker_url", "")]
    ports = {urllib.parse.urlsplit(u).port for u in urls if u}
    assert stack.simulators["nontax"].url and len(ports) > 3
    for port in sorted(p for p in ports if p):
        for host in ("127.0.0.1", "localhost"):
            answer = requests.post(
                f"{stack.url}/subscriptions",
                headers=bearer(token),
                json={
                    "url": f"http://{host}:{port}/_sim/cancel-pending",
                    "event_types": ["case.*"],
                },
                timeout=10,
            )
            assert answer.status_code == 422, (host, port, answer.text)
            assert "the platform's own" in answer.json()["detail"]
