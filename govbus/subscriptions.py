"""What a department does with its subscriptions: the logic behind functions/subscriptions."""

from __future__ import annotations

import datetime as _dt
import json
import secrets as _secrets
from typing import Any

from contracts.errors import Conflict, NotFound
from contracts.events import Event
from contracts.subscriptions import (
    EVENT_OWNER,
    REVEAL_SCOPE,
    ROTATION_OVERLAP_SECONDS,
    SCOPE,
    TEST_EVENT,
    CreatedSubscription,
    Delivery,
    DeliveryStatus,
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


def as_granted_now(sub: Subscription) -> Subscription:
    """``sub`` under its owner's grants of this moment (409 unless they still let it send):
    a revoked client's subscriptions are silent, whoever of its agency asks, and
    identifiers are revealed only while the owner still holds ``subjects:read``."""
    grants = outbound.owner_grants(sub)
    if grants is None:
        raise Conflict(
            f"subscription {sub.id} belongs to client {sub.owner}, which was revoked: its "
            "subscriptions are silent; subscribe again with an active client"
        )
    if SCOPE not in grants:
        raise Conflict(
            f"subscription {sub.id} belongs to client {sub.owner}, which no longer holds "
            f"{SCOPE}: its subscriptions are silent"
        )
    return sub.model_copy(update={"reveal_identifiers": REVEAL_SCOPE in grants})


def send_test(sub: Subscription) -> Delivery:
    """A ``subscription.test`` event to this subscription only, attempted at once."""
    sub = as_granted_now(sub)
    event = Event.create(
        TEST_EVENT, SubscriptionTest(subscription_id=sub.id), source=SOURCE, subject=sub.id
    )
    did = store.delivery_id(event.id, sub.id)
    store.create_delivery(did, sub.id, event.id, event.type, outbound.body_for(event, sub))
    outbound.attempt(did, 0)
    return store.get_delivery(did)


def retry(sub: Subscription, did: str) -> Delivery:
    """One more attempt of a failed delivery, now (409 for one already delivered)."""
    delivery = store.get_delivery(did)
    if delivery.subscription_id != sub.id:
        raise NotFound(f"no delivery {did}")
    if delivery.status == DeliveryStatus.delivered:
        raise Conflict(store.ALREADY_DELIVERED.format(did=did))
    as_granted_now(sub)
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
