"""A partner's push, accepted once: one conditional write, then its events on the bus.

The webhook's idempotency in one DynamoDB write (Powertools' idempotency utility took
two on the accepted path: an ``INPROGRESS`` put, then a ``COMPLETED`` update):

1. ``PutItem`` of the delivery's receipt ``{id, body_sha256, event_ids, expiration}``,
   on condition that no live receipt has the id (``ReturnValuesOnConditionCheckFailure
   = ALL_OLD`` hands back the one that does, in the same call);
2. a new receipt, or one of the same body (a partner's retry): the events are put on
   the bus, the same ids each time, and the answer is the receipt's event ids (``202``);
3. a receipt of another body under the delivery id: :class:`DeliveryIdReused` (``409``),
   and nothing is published.

Publishing after the write, and again on every delivery of the same body, is safe
because a push's event ids are derived from it (``uuid5`` of partner, delivery id, body
digest and index, see ``functions/webhooks``) and every consumer, the event log first,
takes an event id once. So nothing is lost where the receipt is written and the events
are not: a PutEvents failure (``503``, the partner retries) or the function cut off
between the two; the partner's retry publishes them. Two deliveries of the same push at
once both publish and both get the ``202``: no "in progress" state is needed.

A receipt lives ``WINDOW_SECONDS`` (the table's TTL attribute ``expiration``; a receipt
past it that DynamoDB has not yet removed counts as gone).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence

from botocore.exceptions import ClientError

from contracts.errors import Conflict
from contracts.events import Event
from govbus.bus import PublishFailed, publish
from govbus.idempotency import put_unless_live
from govbus.observability import logger

WINDOW_SECONDS = 24 * 3600


class DeliveryIdReused(Conflict):
    """The delivery id was received before with another body."""


def receipt_key(partner: str, delivery_id: str) -> str:
    """The receipt's id: the partner by name, the delivery id by digest (a partner's
    delivery id may carry anything, an identity code included)."""
    digest = hashlib.sha256(f"{partner}\n{delivery_id}".encode()).hexdigest()
    return f"webhook#{partner}#{digest}"


def accept(partner: str, delivery_id: str, body_sha256: str, events: Sequence[Event]) -> list[str]:
    """Record the push once and put its events on the bus; the event ids to answer with.

    Raises :class:`DeliveryIdReused` for another body under a delivery id already
    received (nothing published) and ``PublishFailed`` when EventBridge cannot take the
    events (the receipt stays: the partner's retry publishes them).
    """
    event_ids = [e.id for e in events]
    first, answer = _record(receipt_key(partner, delivery_id), body_sha256, event_ids)
    try:
        publish(events)
    except ClientError as exc:  # EventBridge unreachable or refusing the call: retry later
        raise PublishFailed(f"EventBridge did not take the events: {exc}") from exc
    logger.info(
        "webhook accepted" if first else "webhook delivered again; its events published again",
        extra={"partner": partner, "delivery_id": delivery_id, "event_ids": answer},
    )
    return answer


def _record(key: str, body_sha256: str, event_ids: list[str]) -> tuple[bool, list[str]]:
    """Write the receipt if none is live; (written, the receipt's event ids)."""
    now = int(time.time())
    held = put_unless_live(
        {
            "id": {"S": key},
            "body_sha256": {"S": body_sha256},
            "event_ids": {"L": [{"S": i} for i in event_ids]},
            "expiration": {"N": str(now + WINDOW_SECONDS)},
        },
        "attribute_not_exists(id) OR expiration < :now",
        {":now": {"N": str(now)}},
    )
    if held is None:
        return True, event_ids
    if held.get("body_sha256", {}).get("S") != body_sha256:
        raise DeliveryIdReused("the delivery id was received with a different body")
    return False, [i["S"] for i in held["event_ids"]["L"]]
