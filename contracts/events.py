"""The event envelope (CloudEvents 1.0 attributes) and the registry of event types.

Every event on the bus is an :class:`Event`. Its ``type`` names a registered data
model; ``Event.create`` validates ``data`` against it so that a malformed event never
reaches the bus. On EventBridge the envelope travels whole as the ``Detail``, with
``DetailType = type`` and ``Source = source`` so rules can route on them.
"""

from __future__ import annotations

import datetime as _dt
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from contracts.base import ContractModel

SPEC_VERSION = "1.0"

M = TypeVar("M", bound=type[BaseModel])

_EVENT_TYPES: dict[str, type[BaseModel]] = {}


def event_type(name: str) -> Callable[[M], M]:
    """Register ``model`` as the data model of event type ``name``."""

    def register(model: M) -> M:
        existing = _EVENT_TYPES.get(name)
        if existing is not None and existing is not model:
            raise ValueError(f"event type {name!r} is already registered to {existing.__name__}")
        _EVENT_TYPES[name] = model
        return model

    return register


def event_types() -> dict[str, type[BaseModel]]:
    """Every registered event type and its data model (a copy)."""
    return dict(_EVENT_TYPES)


def data_model(name: str) -> type[BaseModel]:
    try:
        return _EVENT_TYPES[name]
    except KeyError:
        raise KeyError(f"unknown event type {name!r}") from None


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


class Event(ContractModel):
    """A CloudEvents 1.0 envelope plus the correlation id that ties a flow together."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # ids are bounded: each of them ends up in some table's key (at most 1-2 KB there)
    specversion: str = SPEC_VERSION
    id: str = Field(default_factory=lambda: str(uuid.uuid4()), min_length=1, max_length=128)
    source: str = Field(min_length=1, max_length=256)
    type: str = Field(min_length=1, max_length=128)
    subject: str | None = Field(default=None, max_length=256)
    time: _dt.datetime = Field(default_factory=_now)
    datacontenttype: str = "application/json"
    correlationid: str = Field(
        default_factory=lambda: str(uuid.uuid4()), min_length=1, max_length=128
    )
    data: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def create(
        cls,
        type: str,
        data: BaseModel | dict[str, Any],
        *,
        source: str,
        subject: str | None = None,
        correlation_id: str | None = None,
        id: str | None = None,
    ) -> Event:
        """Build an event, validating ``data`` against the registered model of ``type``."""
        model = data_model(type)
        payload = (
            data
            if isinstance(data, model)
            else model.model_validate(data.model_dump() if isinstance(data, BaseModel) else data)
        )
        extra: dict[str, Any] = {}
        if correlation_id:
            extra["correlationid"] = correlation_id
        if id:
            extra["id"] = id
        return cls(
            source=source,
            type=type,
            subject=subject,
            data=payload.model_dump(mode="json"),
            **extra,
        )

    def payload(self) -> BaseModel:
        """The data, parsed into its registered model."""
        return data_model(self.type).model_validate(self.data)


# --- built-in event types -------------------------------------------------------
# Each family module registers its own; these are the platform's own.


@event_type("platform.heartbeat")
class Heartbeat(ContractModel):
    """Emitted by the scheduled heartbeat: proves the bus routes end to end."""

    emitted_by: str
    note: str = ""
