"""Operations on dead-letter queues: what is there and why, and putting it back.

A message's failure reason, event type and masked subject come from the attributes
the dispatcher attaches; a message the queue's redrive policy moved (a crash) shows
"(moved by SQS after maxReceiveCount)".
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
from collections.abc import Callable, Iterable
from typing import Any

from contracts.masking import mask_text
from govbus.aws import client

DIAGNOSTIC_ATTRIBUTES = (
    "failure_reason",
    "failed_at",
    "attempts",
    "event_type",
    "subject",
    "event_id",
)


@dataclasses.dataclass
class DeadLetter:
    message_id: str
    age_seconds: float
    reason: str
    event_type: str
    subject: str
    receipt_handle: str
    body: str
    # EventBridge's own dead letters name the rule target they did not reach
    target_arn: str = ""


def dead_letter_queues(prefix: str = "") -> list[dict[str, Any]]:
    """Every queue that some other queue dead-letters into, with its depth.

    ``prefix``: only queues whose names start with it (one stack's, in a shared account).
    """
    sqs = client("sqs")
    urls = sqs.list_queues(**({"QueueNamePrefix": prefix} if prefix else {})).get("QueueUrls", [])
    found = []
    for url in urls:
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        sources = sqs.list_dead_letter_source_queues(QueueUrl=url).get("queueUrls", [])
        if not sources and not url.endswith("-dlq"):
            continue
        found.append(
            {
                "name": url.rsplit("/", 1)[-1],
                "url": url,
                "count": int(attrs.get("ApproximateNumberOfMessages", 0)),
                "sources": [s.rsplit("/", 1)[-1] for s in sources],
            }
        )
    return found


#: why a letter stays in its DLQ after a redrive (the CLI and the ops API say it)
STAYED_REASON = (
    "they name no queue to go back to: the outbox DLQ holds the stream's give-up "
    "notices (the rows stay pending and the sweep publishes them), and a bus letter "
    "whose rule target is gone has nowhere to go; see docs/operations.md"
)


def named_queues(names: Iterable[str]) -> list[dict[str, Any]]:
    """The dead-letter queues of these exact names, with depth, as ``dead_letter_queues``
    describes them (a name that does not exist is left out)."""
    sqs = client("sqs")
    found = []
    for name in names:
        try:
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        except sqs.exceptions.QueueDoesNotExist:
            continue
        sources = sqs.list_dead_letter_source_queues(QueueUrl=url).get("queueUrls", [])
        found.append(
            {
                "name": name,
                "url": url,
                "count": depth(url),
                "sources": [s.rsplit("/", 1)[-1] for s in sources],
            }
        )
    return found


def resolve_queue(name: str) -> str:
    """A queue URL from a name, a name without the stack prefix, or a URL."""
    if name.startswith(("http://", "https://")):
        return name
    for queue in dead_letter_queues():
        if (
            queue["name"] == name
            or queue["name"].endswith(f"-{name}")
            or queue["name"].endswith(f"-{name}-dlq")
        ):
            return queue["url"]
    raise LookupError(f"no dead-letter queue named {name!r}")


def _describe(message: dict[str, Any], now: float) -> DeadLetter:
    attrs = {
        k: v.get("StringValue", "") for k, v in (message.get("MessageAttributes") or {}).items()
    }
    sent = int(message.get("Attributes", {}).get("SentTimestamp", now * 1000)) / 1000
    event_type, subject = attrs.get("event_type", ""), attrs.get("subject", "")
    reason = attrs.get("failure_reason") or (
        f"EventBridge: {attrs['ERROR_CODE']} {attrs.get('ERROR_MESSAGE', '')}".strip()
        if attrs.get("ERROR_CODE")
        else "(moved by SQS after maxReceiveCount)"
    )
    if not event_type:
        try:
            body = json.loads(message["Body"])
            batch = body.get("DDBStreamBatchInfo")
            if batch:  # an event source mapping's on-failure notice (the outbox stream)
                event_type = f"(stream batch of {batch.get('batchSize', '?')})"
                reason = (
                    f"{body.get('requestContext', {}).get('condition', 'failed')}; the rows "
                    "stay pending and the publisher's sweep publishes them"
                )
            else:
                detail = body.get("detail", {})
                event_type, subject = detail.get("type", "?"), detail.get("subject") or ""
        except (ValueError, AttributeError):
            event_type = "(unreadable)"
    return DeadLetter(
        message_id=message["MessageId"],
        age_seconds=max(0.0, now - sent),
        reason=reason,
        event_type=event_type,
        subject=mask_text(subject) if subject else "-",
        receipt_handle=message["ReceiptHandle"],
        body=message["Body"],
        target_arn=attrs.get("TARGET_ARN", ""),
    )


def peek(queue_url: str, limit: int = 100, hold_seconds: int = 0) -> list[DeadLetter]:
    """Read up to ``limit`` messages; ``hold_seconds`` keeps them invisible meanwhile."""
    sqs = client("sqs")
    now = _dt.datetime.now(_dt.UTC).timestamp()
    seen: dict[str, DeadLetter] = {}
    while len(seen) < limit:
        batch = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=max(hold_seconds, 1),
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        fresh = [m for m in batch if m["MessageId"] not in seen]
        if not fresh:
            break
        for message in fresh:
            seen[message["MessageId"]] = _describe(message, now)
    if not hold_seconds:
        for letter in seen.values():  # make them visible again at once
            sqs.change_message_visibility(
                QueueUrl=queue_url, ReceiptHandle=letter.receipt_handle, VisibilityTimeout=0
            )
    return list(seen.values())


def depth(queue_url: str) -> int:
    """How many letters wait in a queue (approximate, as SQS counts them)."""
    attrs = client("sqs").get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attrs.get("ApproximateNumberOfMessages", 0))


def redrive(
    queue_url: str,
    ids: Iterable[str] | None = None,
    on_letter: Callable[[], None] | None = None,
    stayed: list[str] | None = None,
) -> list[str]:
    """Move messages (all, or those ``ids``) back to their source queue; returns moved ids.

    ``on_letter`` is called once per letter looked at (a progress bar's step). A letter
    that names no queue to go back to (the outbox DLQ's stream notices, a bus letter
    whose target is gone) stays where it is; its id goes into ``stayed``.

    The diagnostic attributes are dropped, so a message that fails again gets a fresh
    reason. The consumers are idempotent on the event id, so a redriven command that
    had in fact succeeded is not carried out twice.
    """
    sqs = client("sqs")
    sources = sqs.list_dead_letter_source_queues(QueueUrl=queue_url).get("queueUrls", [])
    if len(sources) > 1:
        raise LookupError(f"cannot tell where to redrive: {len(sources)} source queues")
    wanted = set(ids) if ids else None
    moved = []
    for letter in peek(queue_url, limit=10_000, hold_seconds=60):
        # a consumer's DLQ goes back to its one source queue; the bus's DLQ (no source
        # queue) sends each letter to the rule target EventBridge could not reach
        destination = sources[0] if sources else _queue_url_of(letter.target_arn)
        if on_letter is not None:
            on_letter()
        if (wanted is not None and letter.message_id not in wanted) or not destination:
            sqs.change_message_visibility(
                QueueUrl=queue_url, ReceiptHandle=letter.receipt_handle, VisibilityTimeout=0
            )
            if not destination and stayed is not None:
                stayed.append(letter.message_id)
            continue
        sqs.send_message(QueueUrl=destination, MessageBody=letter.body)
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=letter.receipt_handle)
        moved.append(letter.message_id)
    return moved


def _queue_url_of(arn: str) -> str:
    """The URL of the SQS queue ``arn`` names; "" when it is no queue (or gone)."""
    if not arn.startswith("arn:") or ":sqs:" not in arn:
        return ""
    try:
        return client("sqs").get_queue_url(QueueName=arn.rsplit(":", 1)[-1])["QueueUrl"]
    except client("sqs").exceptions.QueueDoesNotExist:
        return ""


def format_age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"
