"""What every adapter shares with the host: its identity, health, inbound requests,
its simulator handle, and the context of a call."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field


class AdapterFamily(StrEnum):
    delivery = "delivery"  # EMS and other couriers
    payment = "payment"  # non-tax payment platform
    citizen_card = "citizen_card"  # multi-card platform
    province = "province"  # provincial online hall
    authentication = "authentication"  # CA
    other = "other"


class AdapterInfo(BaseModel):
    """Who an adapter is. ``name`` is how the host addresses it (``/webhooks/{name}``)."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{1,39}$")
    family: AdapterFamily
    title: str
    version: str = "0.0.0"
    # the Secrets Manager name that holds its credentials (a JSON object)
    secret_name: str | None = None


class Health(StrEnum):
    up = "up"
    degraded = "degraded"
    down = "down"


class PingResult(BaseModel):
    """The answer of ``govbus_ping``: cheap, cacheable, never raises."""

    adapter: str
    status: Health
    latency_ms: float | None = None
    detail: str = ""


class InboundRequest(BaseModel):
    """A partner's HTTP call as the adapter sees it: raw bytes, never re-serialised.

    Header names are lower-case.
    """

    model_config = ConfigDict(frozen=True)

    partner: str
    method: str = "POST"
    path: str = "/"
    headers: Mapping[str, str] = Field(default_factory=dict)
    body: bytes = b""
    received_at: float = Field(description="unix seconds at the gateway")


class CallContext(BaseModel):
    """Handed to every outbound hook: for logs and for the partner's idempotency key."""

    model_config = ConfigDict(frozen=True)

    correlation_id: str
    idempotency_key: str
    timeout_seconds: float = 10.0


@runtime_checkable
class Simulator(Protocol):
    """A partner simulator: speaks the partner's real wire protocol on loopback."""

    url: str

    def start(self) -> str:
        """Bind a free loopback port, serve in the background, return the base URL."""
        ...

    def stop(self) -> None: ...


SecretGetter = Callable[[str], str]
