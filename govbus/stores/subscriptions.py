"""Subscriptions (their signing secrets sealed with KMS) and their deliveries.

A delivery is one (event, subscription) pair: its id is derived from both, so writing
it twice is a no-op (idempotent fan-out), and it keeps the exact body sent, every
attempt, and when the next one is due. ``retry_bucket`` is a sparse attribute carried only by
deliveries waiting for a retry, so the retry sweep reads just those. A delivery keeps the
body it sent (which may carry identifiers the subscriber is allowed to read) for
``DELIVERY_RETENTION_DAYS``: ``expires_at`` is the table's TTL attribute, so DynamoDB
deletes it afterwards and a subscriber's copy of personal data is not kept forever.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import json
import os
import secrets as _secrets
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from contracts.errors import Conflict, NotFound
from contracts.subscriptions import (
    Attempt,
    Delivery,
    DeliveryStatus,
    Subscription,
    SubscriptionStatus,
)
from govbus import settings
from govbus.aws import client
from govbus.privacy import seal, unseal

DELIVERY_RETENTION_DAYS = 30
EXPIRY_ATTRIBUTE = "expires_at"


def _subscriptions() -> str:
    return settings.table("subscriptions")


def _deliveries() -> str:
    return settings.table("deliveries")


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


def new_secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(24)).decode()


def new_subscription_id() -> str:
    return "sub_" + _secrets.token_hex(10)


def delivery_id(event_id: str, subscription_id: str, salt: str = "") -> str:
    digest = hashlib.sha256(f"{event_id}|{subscription_id}|{salt}".encode()).hexdigest()
    return "msg_" + digest[:32]


def _is_conditional(exc: ClientError) -> bool:
    return exc.response["Error"]["Code"] in (
        "ConditionalCheckFailedException",
        "TransactionCanceledException",
    )


# --- subscriptions ------------------------------------------------------------------


def _seal_secrets(subscription_id: str, entries: list[dict[str, Any]]) -> str:
    return seal({"secrets": entries}, {"subscription_id": subscription_id})


def _subscription(item: dict[str, Any]) -> Subscription:
    def opt(name: str) -> str | None:
        return item[name]["S"] if name in item else None

    return Subscription(
        id=item["id"]["S"],
        url=item["url"]["S"],
        event_types=json.loads(item["event_types"]["S"]),
        description=item.get("description", {}).get("S", ""),
        agency=item["agency"]["S"],
        owner=item["owner"]["S"],
        status=SubscriptionStatus(item["status"]["S"]),
        disabled_reason=opt("disabled_reason"),
        reveal_identifiers=item.get("reveal", {}).get("BOOL", False),
        created_at=item["created_at"]["S"],
        failing_since=opt("failing_since"),
        last_success_at=opt("last_success_at"),
    )


def create_subscription(
    *,
    url: str,
    event_types: list[str],
    description: str,
    agency: str,
    owner: str,
    reveal: bool,
) -> tuple[Subscription, str]:
    """Store a new subscription; returns it and its signing secret (shown once)."""
    sid = new_subscription_id()
    secret = new_secret()
    client("dynamodb").put_item(
        TableName=_subscriptions(),
        Item={
            "id": {"S": sid},
            "url": {"S": url},
            "event_types": {"S": json.dumps(event_types)},
            "description": {"S": description},
            "agency": {"S": agency},
            "owner": {"S": owner},
            "status": {"S": SubscriptionStatus.active.value},
            "reveal": {"BOOL": reveal},
            "created_at": {"S": _now().isoformat()},
            "sealed": {"S": _seal_secrets(sid, [{"secret": secret, "until": None}])},
        },
        ConditionExpression="attribute_not_exists(id)",
    )
    return get_subscription(sid), secret


def _item(sid: str) -> dict[str, Any]:
    item = (
        client("dynamodb")
        .get_item(TableName=_subscriptions(), Key={"id": {"S": sid}}, ConsistentRead=True)
        .get("Item")
    )
    if not item:
        raise NotFound(f"no subscription {sid}")
    return item


def get_subscription(sid: str) -> Subscription:
    return _subscription(_item(sid))


def signing_secrets(sid: str, now: _dt.datetime | None = None) -> list[str]:
    """Every secret that signs right now: the current one, and the previous one for
    the rotation window."""
    entries = unseal(_item(sid)["sealed"]["S"], {"subscription_id": sid})["secrets"]
    return [e["secret"] for e in live_entries(entries, now or _now())]


def live_entries(entries: list[dict[str, Any]], now: _dt.datetime) -> list[dict[str, Any]]:
    """The secrets still signing at ``now``: the current one (no ``until``) and any
    previous one whose overlap window has not ended."""
    return [
        e for e in entries if e.get("until") is None or _dt.datetime.fromisoformat(e["until"]) > now
    ]


def rotate_secret(sid: str, overlap_seconds: int) -> str:
    """A new current secret; the old one keeps signing for ``overlap_seconds``."""
    item = _item(sid)
    now = _now()
    entries = unseal(item["sealed"]["S"], {"subscription_id": sid})["secrets"]
    until = (now + _dt.timedelta(seconds=overlap_seconds)).isoformat()
    kept = [
        {"secret": e["secret"], "until": e.get("until") or until}
        for e in live_entries(entries, now)
    ]
    secret = new_secret()
    try:
        client("dynamodb").update_item(
            TableName=_subscriptions(),
            Key={"id": {"S": sid}},
            UpdateExpression="SET sealed = :new",
            ConditionExpression="sealed = :old",  # a concurrent rotation loses, not merges
            ExpressionAttributeValues={
                ":new": {"S": _seal_secrets(sid, [{"secret": secret, "until": None}, *kept])},
                ":old": item["sealed"],
            },
        )
    except ClientError as exc:
        if _is_conditional(exc):
            from contracts.errors import Conflict

            raise Conflict("the secret was rotated concurrently; read it again") from None
        raise
    return secret


def by_agency(agency: str) -> list[Subscription]:
    return [_subscription(i) for i in _query_all(_subscriptions(), "by-agency", "agency", agency)]


def every_active() -> list[Subscription]:
    found: list[Subscription] = []
    kwargs: dict[str, Any] = {"TableName": _subscriptions()}
    while True:
        answer = client("dynamodb").scan(**kwargs)
        found += [_subscription(i) for i in answer.get("Items", [])]
        if "LastEvaluatedKey" not in answer:
            break
        kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
    return [s for s in found if s.status == SubscriptionStatus.active]


def delete_subscription(sid: str) -> None:
    client("dynamodb").delete_item(TableName=_subscriptions(), Key={"id": {"S": sid}})


def disable(sid: str, reason: str) -> bool:
    """Disable once; True if this call disabled it."""
    try:
        client("dynamodb").update_item(
            TableName=_subscriptions(),
            Key={"id": {"S": sid}},
            UpdateExpression="SET #s = :off, disabled_reason = :why",
            ConditionExpression="#s = :on",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":off": {"S": SubscriptionStatus.disabled.value},
                ":on": {"S": SubscriptionStatus.active.value},
                ":why": {"S": reason},
            },
        )
    except ClientError as exc:
        if _is_conditional(exc):
            return False
        raise
    return True


def succeeded(sid: str, at: _dt.datetime) -> None:
    _update_if_exists(sid, "SET last_success_at = :at REMOVE failing_since", {":at": at})


def failing(sid: str, at: _dt.datetime) -> _dt.datetime:
    """Note a failure; returns since when the subscription has been failing."""
    try:
        client("dynamodb").update_item(
            TableName=_subscriptions(),
            Key={"id": {"S": sid}},
            UpdateExpression="SET failing_since = if_not_exists(failing_since, :at)",
            ConditionExpression="attribute_exists(id)",
            ExpressionAttributeValues={":at": {"S": at.isoformat()}},
        )
    except ClientError as exc:
        if not _is_conditional(exc):
            raise
        return at
    return get_subscription(sid).failing_since or at


def _update_if_exists(sid: str, expression: str, values: dict[str, _dt.datetime]) -> None:
    try:
        client("dynamodb").update_item(
            TableName=_subscriptions(),
            Key={"id": {"S": sid}},
            UpdateExpression=expression,
            ConditionExpression="attribute_exists(id)",
            ExpressionAttributeValues={k: {"S": v.isoformat()} for k, v in values.items()},
        )
    except ClientError as exc:
        if not _is_conditional(exc):
            raise


def _query_all(table: str, index: str, key: str, value: str) -> Iterator[dict[str, Any]]:
    kwargs: dict[str, Any] = {
        "TableName": table,
        "IndexName": index,
        "KeyConditionExpression": "#k = :v",
        "ExpressionAttributeNames": {"#k": key},
        "ExpressionAttributeValues": {":v": {"S": value}},
    }
    while True:
        answer = client("dynamodb").query(**kwargs)
        yield from answer.get("Items", [])
        if "LastEvaluatedKey" not in answer:
            return
        kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


# --- deliveries -------------------------------------------------------------------------


def _delivery(item: dict[str, Any]) -> Delivery:
    return Delivery(
        id=item["id"]["S"],
        subscription_id=item["subscription_id"]["S"],
        event_id=item["event_id"]["S"],
        event_type=item["event_type"]["S"],
        status=DeliveryStatus(item["status"]["S"]),
        created_at=item["created_at"]["S"],
        next_attempt_at=item["next_attempt_at"]["S"] if "next_attempt_at" in item else None,
        attempts=[Attempt.model_validate(a) for a in json.loads(item["attempts"]["S"])],
    )


def create_delivery(
    did: str, subscription_id: str, event_id: str, event_type: str, body: bytes
) -> bool:
    """Write a pending delivery once; False when it already exists."""
    try:
        client("dynamodb").put_item(
            TableName=_deliveries(),
            Item={
                "id": {"S": did},
                "subscription_id": {"S": subscription_id},
                "event_id": {"S": event_id},
                "event_type": {"S": event_type},
                "status": {"S": DeliveryStatus.pending.value},
                "created_at": {"S": _now().isoformat()},
                "body": {"S": body.decode()},
                "attempt_count": {"N": "0"},
                "attempts": {"S": "[]"},
                # due at once: if the first attempt is lost, the retry sweep makes it
                "retry_bucket": {"S": "retry"},
                "next_attempt_at": {"S": _now().isoformat()},
                EXPIRY_ATTRIBUTE: {"N": str(_expiry())},
            },
            ConditionExpression="attribute_not_exists(id)",
        )
    except ClientError as exc:
        if _is_conditional(exc):
            return False
        raise
    return True


def _expiry() -> int:
    """When DynamoDB may delete a delivery and the body it kept (epoch seconds)."""
    return int((_now() + _dt.timedelta(days=DELIVERY_RETENTION_DAYS)).timestamp())


def delivery_row(did: str) -> dict[str, Any] | None:
    return (
        client("dynamodb")
        .get_item(TableName=_deliveries(), Key={"id": {"S": did}}, ConsistentRead=True)
        .get("Item")
    )


def never_attempted(did: str) -> bool:
    row = delivery_row(did)
    return bool(
        row
        and row["status"]["S"] == DeliveryStatus.pending.value
        and row["attempt_count"]["N"] == "0"
    )


def get_delivery(did: str) -> Delivery:
    item = delivery_row(did)
    if not item:
        raise NotFound(f"no delivery {did}")
    return _delivery(item)


def deliveries_of(subscription_id: str) -> list[Delivery]:
    rows = _query_all(_deliveries(), "by-subscription", "subscription_id", subscription_id)
    return sorted((_delivery(i) for i in rows), key=lambda d: d.created_at)


def claim(did: str, attempt: int, lease_seconds: float) -> bool:
    """Take attempt number ``attempt`` of a pending delivery; one taker at a time."""
    now = _now().timestamp()
    try:
        client("dynamodb").update_item(
            TableName=_deliveries(),
            Key={"id": {"S": did}},
            UpdateExpression="SET claim_until = :until",
            ConditionExpression="#s = :pending AND attempt_count = :n "
            "AND (attribute_not_exists(claim_until) OR claim_until < :now)",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":until": {"N": str(now + lease_seconds)},
                ":pending": {"S": DeliveryStatus.pending.value},
                ":n": {"N": str(attempt)},
                ":now": {"N": str(now)},
            },
        )
    except ClientError as exc:
        if _is_conditional(exc):
            return False
        raise
    return True


def record_attempt(
    did: str,
    attempt: int,
    outcome: Attempt,
    status: DeliveryStatus,
    next_attempt_at: _dt.datetime | None = None,
) -> None:
    """Append the attempt and move the delivery on, if nobody else did meanwhile."""
    row = delivery_row(did)
    if row is None:
        return
    attempts = [*json.loads(row["attempts"]["S"]), outcome.model_dump(mode="json")]
    values: dict[str, Any] = {
        ":n": {"N": str(attempt)},
        ":next": {"N": str(attempt + 1)},
        ":attempts": {"S": json.dumps(attempts, ensure_ascii=False)},
        ":status": {"S": status.value},
    }
    expression = "SET attempt_count = :next, attempts = :attempts, #s = :status"
    if next_attempt_at is not None:
        expression += ", next_attempt_at = :at, retry_bucket = :due REMOVE claim_until"
        values[":at"] = {"S": next_attempt_at.isoformat()}
        values[":due"] = {"S": "retry"}
    else:
        expression += " REMOVE claim_until, retry_bucket, next_attempt_at"
    try:
        client("dynamodb").update_item(
            TableName=_deliveries(),
            Key={"id": {"S": did}},
            UpdateExpression=expression,
            ConditionExpression="attempt_count = :n",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues=values,
        )
    except ClientError as exc:
        if not _is_conditional(exc):
            raise


def set_status(did: str, status: DeliveryStatus) -> None:
    client("dynamodb").update_item(
        TableName=_deliveries(),
        Key={"id": {"S": did}},
        UpdateExpression="SET #s = :s REMOVE retry_bucket, next_attempt_at, claim_until",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": status.value}},
    )


def due_for_retry(now: _dt.datetime, limit: int = 100) -> list[tuple[str, int]]:
    """Deliveries whose next attempt is due: (id, attempt number)."""
    answer = client("dynamodb").query(
        TableName=_deliveries(),
        IndexName="by-due",
        KeyConditionExpression="retry_bucket = :d AND next_attempt_at <= :now",
        ExpressionAttributeValues={":d": {"S": "retry"}, ":now": {"S": now.isoformat()}},
        Limit=limit,
    )
    found = []
    for key in answer.get("Items", []):
        row = delivery_row(key["id"]["S"])
        if row and row["status"]["S"] == DeliveryStatus.pending.value:
            found.append((row["id"]["S"], int(row["attempt_count"]["N"])))
    return found


def reopen(did: str) -> int:
    """Make a delivery pending again for a manual retry; returns its attempt number.

    A delivery already delivered is never reopened (:class:`Conflict`): a retry is for
    one that failed, and would send it again under the same ``webhook-id``."""
    try:
        answer = client("dynamodb").update_item(
            TableName=_deliveries(),
            Key={"id": {"S": did}},
            UpdateExpression="SET #s = :pending REMOVE claim_until, retry_bucket, next_attempt_at",
            ConditionExpression="attribute_exists(id) AND #s <> :delivered",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":pending": {"S": DeliveryStatus.pending.value},
                ":delivered": {"S": DeliveryStatus.delivered.value},
            },
            ReturnValues="ALL_NEW",
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        if delivery_row(did) is None:
            raise NotFound(f"no delivery {did}") from None
        raise Conflict(ALREADY_DELIVERED.format(did=did)) from None
    return int(answer["Attributes"]["attempt_count"]["N"])


ALREADY_DELIVERED = (
    "delivery {did} was already delivered (your endpoint answered 2xx): a retry is for a "
    "failed delivery; to send an event again, replay its time range"
)
