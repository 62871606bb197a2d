"""Events out: departments' subscriptions to the bus over Standard Webhooks.

A department's system subscribes a URL to event types (``case.*``, ``licence.issued``);
govbus sends each matching event as a Standard Webhooks 1.0 request whose body is the
event's CloudEvents 1.0 JSON. A department only ever receives events about its own
agency's items, cases and licences, plus public catalogue events: :data:`EVENT_OWNER`
says, per event type, which data field names the owning agency. An event type absent
from it is never sent to a department (accounts, appointments and shipments are about
a person, not an agency).
"""

from __future__ import annotations

import datetime as _dt
import re
from enum import StrEnum
from typing import Any

from pydantic import ConfigDict, Field, field_validator

from contracts import (  # noqa: F401 - registers the types named below
    cases,
    hotline,
    licences,
    telemetry,
)
from contracts.base import ContractModel
from contracts.constrained import bounded_text
from contracts.events import Event, event_type, event_types
from contracts.masking import mask_name, mask_text

SCOPE = "subscriptions:manage"
# a client that also holds this scope receives identity codes, phones and names unmasked
REVEAL_SCOPE = "subjects:read"
# data fields holding a person's name: masked like an ID number (林**) without the scope
NAME_FIELDS: frozenset[str] = frozenset({"holder_name"})

# event type -> the data field that names the agency owning the event (its credit code)
EVENT_OWNER: dict[str, str] = {
    "case.transitioned": "agency",  # 办件状态变更
    "case.overdue": "agency",  # 办件超期
    "licence.requested": "issuer",  # 证照签发请求
    "licence.issued": "issuer",  # 证照签发
    "licence.revoked": "issuer",  # 证照注销
    "hotline.filed": "agency",  # 12345 派单: a ticket assigned to the agency
    "hotline.escalated": "agency",  # 12345 督办
    "hotline.answered": "agency",  # 12345 答复
    "city.alert": "agency",  # 城市运行告警: a sensor reading crossed its threshold
    # the owner hears of a disabled subscription through its agency's other ones
    "subscription.disabled": "agency",
}
# prefixes of public events any department may receive (the catalogue is public)
PUBLIC_PREFIXES: tuple[str, ...] = ("catalog.", "disclosure.")
# sent only to the subscription it was made for, never fanned out
TEST_EVENT = "subscription.test"

# Standard Webhooks: the retry schedule after the first attempt (seconds)
DEFAULT_RETRY_SCHEDULE: tuple[int, ...] = (5, 300, 1800, 7200, 18000, 36000, 36000)
DISABLE_AFTER_SECONDS = 5 * 24 * 3600  # failing this long disables a subscription
ROTATION_OVERLAP_SECONDS = 24 * 3600  # the old secret keeps signing this long

_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\.\*)?$")


class SubscriptionStatus(StrEnum):
    active = "active"
    disabled = "disabled"


class DeliveryStatus(StrEnum):
    pending = "pending"  # waiting for its next attempt
    delivered = "delivered"  # a 2xx was received
    failed = "failed"  # the schedule ran out (or 410): kept for manual retry
    cancelled = "cancelled"  # its subscription was deleted or disabled


def is_subscribable(type_name: str) -> bool:
    return type_name in EVENT_OWNER or type_name.startswith(PUBLIC_PREFIXES)


def pattern_matches(pattern: str, type_name: str) -> bool:
    """``case.*`` matches ``case.transitioned``; ``*`` matches everything; else exact."""
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        return type_name.startswith(pattern[:-1])
    return pattern == type_name


def owning_agency(event: Event) -> str | None:
    """The agency an event is about, from the field :data:`EVENT_OWNER` names."""
    field = EVENT_OWNER.get(event.type)
    if field is None:
        return None
    value = event.data.get(field)
    return str(value) if value else None


def visible_to(event: Event, agency: str) -> bool:
    """May a subscription of ``agency`` receive ``event``?"""
    if event.type.startswith(PUBLIC_PREFIXES):
        return True
    owner = owning_agency(event)
    return owner is not None and owner == agency


def _mask(value: Any, keep: str | None) -> Any:
    if isinstance(value, str):
        return value if keep is not None and value == keep else mask_text(value)
    if isinstance(value, dict):
        return {
            k: mask_name(v) if k in NAME_FIELDS and isinstance(v, str) else _mask(v, keep)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_mask(v, keep) for v in value]
    return value


def masked_body(body: dict[str, Any], agency: str | None = None) -> dict[str, Any]:
    """A CloudEvents JSON ``body`` with the personal data in ``data`` and ``subject``
    masked; masking a body already masked changes nothing."""
    body = dict(body)
    if isinstance(body.get("data"), dict | list | str):
        body["data"] = _mask(body["data"], agency)
    if body.get("subject"):
        body["subject"] = _mask(body["subject"], agency)
    return body


def outgoing_body(event: Event, *, reveal: bool, agency: str | None = None) -> dict[str, Any]:
    """The CloudEvents 1.0 JSON a subscriber receives.

    Identity codes, phone numbers and names (:data:`NAME_FIELDS`) in ``data`` and
    ``subject`` are masked unless ``reveal``; the subscriber's own ``agency`` code is
    left as it is.
    """
    body = event.model_dump(mode="json")
    return body if reveal else masked_body(body, agency)


class SubscriptionRequest(ContractModel):
    """``POST /subscriptions``."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=8, max_length=2000)
    event_types: list[str] = Field(min_length=1, max_length=50)
    description: bounded_text(500) = ""

    @field_validator("url")
    @classmethod
    def _one_token(cls, url: str) -> str:
        # a URL carries spaces and control characters percent-encoded; a raw CR LF could
        # split the request a sender writes
        if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
            raise ValueError("the URL holds a space or a control character: percent-encode it")
        return url

    @field_validator("event_types")
    @classmethod
    def _known(cls, patterns: list[str]) -> list[str]:
        known = [t for t in event_types() if is_subscribable(t)]
        for pattern in patterns:
            if pattern != "*" and not _PATTERN.match(pattern):
                raise ValueError(
                    f"{pattern!r} is not an event type or a prefix pattern like 'case.*'"
                )
            if not any(pattern_matches(pattern, t) for t in known):
                raise ValueError(
                    f"{pattern!r} matches no event type a department can subscribe to "
                    f"(subscribable: {', '.join(sorted(known))})"
                )
        return sorted(set(patterns))


class Subscription(ContractModel):
    """A subscription as its owner sees it (never with its secrets)."""

    id: str
    url: str
    event_types: list[str]
    description: str = ""
    agency: str
    owner: str  # the department client that made it
    status: SubscriptionStatus = SubscriptionStatus.active
    disabled_reason: str | None = None
    reveal_identifiers: bool = False
    created_at: _dt.datetime
    failing_since: _dt.datetime | None = None
    last_success_at: _dt.datetime | None = None

    def wants(self, type_name: str) -> bool:
        return any(pattern_matches(p, type_name) for p in self.event_types)


class CreatedSubscription(Subscription):
    """The answer to ``POST /subscriptions`` and ``rotate-secret``: the secret, once."""

    secret: str


class Attempt(ContractModel):
    at: _dt.datetime
    status_code: int | None = None
    latency_ms: float | None = None
    error: str | None = None


class Delivery(ContractModel):
    id: str
    subscription_id: str
    event_id: str
    event_type: str
    status: DeliveryStatus
    created_at: _dt.datetime
    next_attempt_at: _dt.datetime | None = None
    attempts: list[Attempt] = Field(default_factory=list)


class ReplayRequest(ContractModel):
    model_config = ConfigDict(extra="forbid")

    since: _dt.datetime
    until: _dt.datetime

    @field_validator("until")
    @classmethod
    def _ordered(cls, until: _dt.datetime, info: Any) -> _dt.datetime:
        since = info.data.get("since")
        if since is not None and until <= since:
            raise ValueError("until must be after since")
        if since is not None and until - since > _dt.timedelta(days=7):
            raise ValueError("replay at most 7 days at a time")
        return until


@event_type("subscription.test")
class SubscriptionTest(ContractModel):
    """Sent by ``POST /subscriptions/{id}/test`` to that subscription only."""

    subscription_id: str
    note: str = "govbus test event"


@event_type("subscription.disabled")
class SubscriptionDisabled(ContractModel):
    """A subscription was disabled (410 Gone, or failing for days): its owner is told."""

    subscription_id: str
    agency: str
    owner: str
    url: str
    reason: str
