"""What every adapter shares with the host: its identity, health, inbound requests,
its simulator handle, and the context of a call."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Protocol, runtime_checkable

from pydantic import ConfigDict, Field

from contracts.base import ContractModel


class AdapterFamily(StrEnum):
    delivery = "delivery"  # EMS and other couriers
    payment = "payment"  # non-tax payment platform
    citizen_card = "citizen_card"  # multi-card platform
    province = "province"  # provincial online hall
    authentication = "authentication"  # CA
    telemetry = "telemetry"  # IoT sensor feeds (MQTT)
    notify = "notify"  # SMS and other channels to people
    other = "other"


class WebhookAck(ContractModel):
    """How the bus answers a partner's accepted push, when the partner wants its own answer.

    Some partners count a push as delivered only on an exact answer (the non-tax platform:
    HTTP 200 with the body ``success``) and push again otherwise. Refusals are always
    problem+json; this is only the answer to an accepted (or repeated) push.
    """

    model_config = ConfigDict(frozen=True)

    status: int = Field(default=200, ge=200, le=299)
    content_type: str = Field(default="text/plain; charset=utf-8", max_length=100)
    body: str = Field(default="success", max_length=200)


class WebhookKey(StrEnum):
    """What a partner's stored push secret holds, so tools rotate it the right way."""

    shared_secret = "shared_secret"  # noqa: S105 - a kind's name; a secret both sides hold (HMAC, MD5 digest): govbus makes it
    public_key = "public_key"  # the partner's PEM public key: only the partner can make a new one


class AdapterInfo(ContractModel):
    """Who an adapter is. ``name`` is how the host addresses it (``/webhooks/{name}``)."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{1,39}$")
    family: AdapterFamily
    title: str
    version: str = "0.0.0"
    # the Secrets Manager name that holds its credentials (a JSON object)
    secret_name: str | None = None
    # the answer to an accepted push; None: 202 with the accepted event ids as JSON
    webhook_ack: WebhookAck | None = None
    # what verifies its pushes: `govbus webhooks rotate` makes a new shared secret, but
    # stages a public key only from the partner's own PEM
    webhook_key: WebhookKey = WebhookKey.shared_secret


class Health(StrEnum):
    up = "up"
    degraded = "degraded"
    down = "down"


class PingResult(ContractModel):
    """The answer of ``govbus_ping``: cheap, cacheable, never raises."""

    adapter: str
    status: Health
    latency_ms: float | None = None
    detail: str = ""


class InboundRequest(ContractModel):
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


class CallContext(ContractModel):
    """Handed to every outbound hook: for logs and for the partner's idempotency key."""

    model_config = ConfigDict(frozen=True)

    correlation_id: str
    idempotency_key: str
    timeout_seconds: float = 10.0


class Faults(ContractModel):
    """Fault injection every simulator understands, settable at run time."""

    latency_ms: int = Field(default=0, ge=0)
    error_rate: float = Field(default=0.0, ge=0.0, le=1.0)  # partner answers 5xx
    timeout_rate: float = Field(default=0.0, ge=0.0, le=1.0)  # partner never answers in time
    malformed_rate: float = Field(default=0.0, ge=0.0, le=1.0)  # 200 with a body it cannot mean
    down: bool = False  # refuses connections' work entirely, and ping says so
    duplicate_pushes: bool = False  # every push is sent twice
    out_of_order: bool = False  # pushes of one batch are shuffled


@runtime_checkable
class Simulator(Protocol):
    """A partner simulator: speaks the partner's real wire protocol on loopback.

    ``secrets`` are the credentials the partner issued, keyed by the Secrets Manager
    name (``{stage}`` is replaced by the host) under which the host must store them,
    as ops would when a partner hands over its keys. ``push_url`` is where the partner
    pushes its callbacks (the bus's ``/webhooks/{name}``), set by the host.
    """

    url: str
    push_url: str | None

    def start(self) -> str:
        """Bind a free loopback port, serve in the background, return the base URL."""
        ...

    def stop(self) -> None: ...

    def secrets(self) -> dict[str, str]: ...

    def set_faults(self, faults: Faults) -> None: ...

    def sample_push(self) -> tuple[dict[str, str], bytes]:
        """A correctly signed push, as the partner would send it (for partners that push)."""
        ...


SecretGetter = Callable[[str], str]
