"""Publishing events to the govbus EventBridge bus.

The envelope travels whole as ``Detail``; ``DetailType`` is the event type and
``Source`` the envelope's source, so rules route on them.
"""

from __future__ import annotations

from collections.abc import Sequence

from contracts.errors import RetryableError
from contracts.events import Event
from govbus import settings
from govbus.aws import client

MAX_ENTRIES_PER_CALL = 10


class PublishFailed(RetryableError):
    """EventBridge refused one or more entries; the whole call should be retried."""


def bus_name() -> str:
    return settings.require(settings.platform(), "event_bus")


def to_entry(event: Event, bus: str) -> dict[str, object]:
    return {
        "EventBusName": bus,
        "Source": event.source,
        "DetailType": event.type,
        "Detail": event.model_dump_json(),
        "Time": event.time,
    }


def publish(events: Sequence[Event]) -> list[str]:
    """Put ``events`` on the bus; returns their ids. Raises :class:`PublishFailed`."""
    bus = bus_name()
    for start in range(0, len(events), MAX_ENTRIES_PER_CALL):
        chunk = events[start : start + MAX_ENTRIES_PER_CALL]
        answer = client("events").put_events(Entries=[to_entry(e, bus) for e in chunk])
        if answer.get("FailedEntryCount"):
            reasons = {
                entry.get("ErrorCode", "?") for entry in answer["Entries"] if entry.get("ErrorCode")
            }
            raise PublishFailed(f"EventBridge refused entries: {', '.join(sorted(reasons))}")
    return [e.id for e in events]


def event_from_detail(detail: dict[str, object]) -> Event:
    """Read an envelope back from an EventBridge event's ``detail``."""
    return Event.model_validate(detail)
