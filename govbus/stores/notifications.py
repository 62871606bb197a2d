"""People's notification preferences, what was sent, and per-recipient rate counters.

One table, keyed by ``pk``: ``pref#<subject key>`` (opt-outs), ``sent#<event id>#<kind>``
(a message sent once per event and kind), ``rate#<subject key>#<hour>`` (a counter
that expires with its hour).
"""

from __future__ import annotations

import datetime as _dt
import json

from botocore.exceptions import ClientError

from contracts.notify import NotifyKind
from govbus import settings
from govbus.aws import client


def _table() -> str:
    return settings.table("notifications")


def opted_out(subject_key: str) -> set[NotifyKind]:
    item = (
        client("dynamodb")
        .get_item(TableName=_table(), Key={"pk": {"S": f"pref#{subject_key}"}}, ConsistentRead=True)
        .get("Item")
    )
    if not item:
        return set()
    return {NotifyKind(k) for k in json.loads(item["opted_out"]["S"])}


def set_opted_out(subject_key: str, kinds: set[NotifyKind]) -> None:
    client("dynamodb").put_item(
        TableName=_table(),
        Item={
            "pk": {"S": f"pref#{subject_key}"},
            "opted_out": {"S": json.dumps(sorted(k.value for k in kinds))},
            "updated_at": {"S": _dt.datetime.now(_dt.UTC).isoformat()},
        },
    )


def was_sent(event_id: str, kind: NotifyKind) -> bool:
    item = (
        client("dynamodb")
        .get_item(
            TableName=_table(),
            Key={"pk": {"S": f"sent#{event_id}#{kind.value}"}},
            ConsistentRead=True,
        )
        .get("Item")
    )
    return item is not None


def mark_sent(event_id: str, kind: NotifyKind, message_id: str, outcome: str) -> None:
    client("dynamodb").put_item(
        TableName=_table(),
        Item={
            "pk": {"S": f"sent#{event_id}#{kind.value}"},
            "message_id": {"S": message_id},
            "outcome": {"S": outcome},
            "at": {"S": _dt.datetime.now(_dt.UTC).isoformat()},
            "expires_at": {"N": str(int(_dt.datetime.now(_dt.UTC).timestamp()) + 30 * 86400)},
        },
    )


def take_rate(subject_key: str, limit: int, now: _dt.datetime) -> bool:
    """Count one message to this person this hour; False once ``limit`` is reached."""
    hour = now.strftime("%Y%m%d%H")
    try:
        client("dynamodb").update_item(
            TableName=_table(),
            Key={"pk": {"S": f"rate#{subject_key}#{hour}"}},
            UpdateExpression="ADD sent :one SET expires_at = :exp",
            ConditionExpression="attribute_not_exists(sent) OR sent < :limit",
            ExpressionAttributeValues={
                ":one": {"N": "1"},
                ":limit": {"N": str(limit)},
                ":exp": {"N": str(int(now.timestamp()) + 7200)},
            },
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True
