"""What a department does with its subscriptions: the logic behind functions/subscriptions."""

from __future__ import annotations

import datetime as _dt
import json
import secrets as _secrets
from typing import Any

from contracts.errors import NotFound
from contracts.events import Event
from contracts.subscriptions import (
    EVENT_OWNER,
    ROTATION_OVERLAP_SECONDS,
    TEST_EVENT,
    CreatedSubscription,
    Delivery,
    ReplayRequest,
    Subscription,
    SubscriptionRequest,
    SubscriptionTest,
)
from govbus import outbound, settings
from govbus.auth import Caller
from govbus.aws import client
from govbus.stores import subscriptions as store

SOURCE = "govbus.subscriptions"
MAX_REPLAY_EVENTS = 1000


def subscribe(request: SubscriptionRequest, who: Caller, *, reveal: bool) -> CreatedSubscription:
    outbound.check_destination(request.url)  # 422 before anything is stored
    sub, secret = store.create_subscription(
        url=request.url,
        event_types=request.event_types,
        description=request.description,
        agency=who.agency or "",
        owner=who.subject,
        reveal=reveal,
    )
    return CreatedSubscription(**sub.model_dump(), secret=secret)


def rotate(sub: Subscription) -> str:
    return store.rotate_secret(sub.id, ROTATION_OVERLAP_SECONDS)


def send_test(sub: Subscription) -> Delivery:
    """A ``subscription.test`` event to this subscription only, attempted at once."""
    event = Event.create(
        TEST_EVENT, SubscriptionTest(subscription_id=sub.id), source=SOURCE, subject=sub.id
    )
    did = store.delivery_id(event.id, sub.id)
    store.create_delivery(did, sub.id, event.id, event.type, outbound.body_for(event, sub))
    outbound.attempt(did, 0)
    return store.get_delivery(did)


def retry(sid: str, did: str) -> Delivery:
    delivery = store.get_delivery(did)
    if delivery.subscription_id != sid:
        raise NotFound(f"no delivery {did}")
    outbound.attempt(did, store.reopen(did))
    return store.get_delivery(did)


def _archived(since: _dt.datetime, until: _dt.datetime) -> list[Event]:
    """Events the event log archived in [since, until), oldest first.

    The archive keeps identity codes masked, so a replay carries them masked even to
    a client entitled to see them; the owning agency is restored from ``owner``.
    """
    found: list[Event] = []
    kwargs: dict[str, Any] = {
        "TableName": settings.table("event_log"),
        "FilterExpression": "#t >= :a AND #t < :b",
        "ExpressionAttributeNames": {"#t": "time"},
        "ExpressionAttributeValues": {
            ":a": {"S": since.astimezone(_dt.UTC).isoformat()},
            ":b": {"S": until.astimezone(_dt.UTC).isoformat()},
        },
    }
    while len(found) <= MAX_REPLAY_EVENTS:
        answer = client("dynamodb").scan(**kwargs)
        for item in answer.get("Items", []):
            doc = json.loads(item["envelope"]["S"])
            owner_field = EVENT_OWNER.get(doc.get("type", ""))
            if owner_field and "owner" in item:
                doc.setdefault("data", {})[owner_field] = item["owner"]["S"]
            found.append(Event.model_validate(doc))
        if "LastEvaluatedKey" not in answer:
            break
        kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
    return sorted(found, key=lambda e: e.time)[:MAX_REPLAY_EVENTS]


def replay(sub: Subscription, request: ReplayRequest) -> dict[str, Any]:
    """New deliveries of the archived events this subscription matches, queued now."""
    replay_id = "rpl_" + _secrets.token_hex(8)
    queued = 0
    for event in _archived(request.since, request.until):
        for did, number in outbound.fan_out(event, salt=replay_id, only=sub):
            outbound.enqueue_attempt(did, number)
            queued += 1
    return {"replay_id": replay_id, "deliveries": queued}
