"""Every adapter hook, in one module.

The host (``govbus.plugins``) addresses one adapter at a time by its registered name,
so a hook implementation serves only its own partner and never needs to check whether
a call is meant for it. Hooks only ever gain arguments; none is ever renamed.

An adapter implements the hooks of its family plus ``govbus_adapter_info``,
``govbus_adapter_configure`` and ``govbus_ping``; it may implement the two webhook
hooks when its partner pushes to the bus, and ``govbus_simulator`` to ship a
simulator for local runs and the conformance suite.

Errors: a hook raises the exceptions of :mod:`contracts.errors`, never its
transport's own (``raise PartnerUnavailable(...) from exc``). Retryable conditions
(timeouts, 5xx, malformed answers) are :class:`contracts.errors.RetryableError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pluggy

from contracts.adapters import (
    AdapterInfo,
    CallContext,
    InboundRequest,
    PingResult,
    SecretGetter,
    Simulator,
)
from contracts.auth import CertificateIdentity, DetachedSignature, LoginChallenge
from contracts.delivery import TrackingUpdate, Waybill, WaybillRequest
from contracts.events import Event
from contracts.notify import NotifyMessage, NotifyReceipt
from contracts.payments import (
    CardPayment,
    CitizenCard,
    PaymentOrder,
    PaymentOrderRequest,
    StatementLine,
)
from contracts.province import ProvinceCaseForward, ProvinceCaseReceipt

PROJECT = "govbus"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# ==============================================================================
# Lifecycle: registration, configuration, health
# ==============================================================================


@hookspec(firstresult=True)
def govbus_adapter_info() -> AdapterInfo:
    """Say who this adapter is.

    Called by the host once, when the plugin is registered, to learn its name and
    family. Must return an :class:`AdapterInfo`; its ``name`` must equal the entry
    point name the adapter is registered under.
    """


@hookspec
def govbus_adapter_configure(settings: Mapping[str, str], get_secret: SecretGetter) -> None:
    """Receive configuration before the first call.

    Called by the host at cold start with the adapter's settings (environment
    variables ``GOVBUS_<NAME>_<KEY>``, lower-cased keys without the prefix) and a
    function that reads a secret by name (Secrets Manager). An adapter builds its
    client lazily; this hook only stores what it is given. Returns nothing.
    """


@hookspec(firstresult=True)
def govbus_ping() -> PingResult:
    """Report the partner's health, cheaply.

    Called by ``GET /health`` and by the conformance suite. Must return a
    :class:`PingResult` and never raise: a partner that cannot be reached is
    ``status=down`` with a ``detail``. Implementations should cache the answer
    for a few seconds (X-Road: health checks are cached and cheap).
    """


@hookspec(firstresult=True)
def govbus_simulator() -> Simulator:
    """Return a new, unstarted simulator of the partner.

    Called by the local stack (``govbus dev``) and the conformance suite. The
    simulator speaks the partner's real wire protocol on loopback and binds port 0.
    """


# ==============================================================================
# Inbound webhooks: the partner calls the bus
# ==============================================================================


@hookspec(firstresult=True)
def govbus_webhook_verify(request: InboundRequest, secrets: list[str]) -> str:
    """Verify a partner's push over its raw bytes; return its delivery id.

    Called by the ``webhooks`` function before anything is parsed or published.
    ``secrets`` holds every currently active secret (several during rotation).
    Must compare in constant time, reject a timestamp outside the window with
    :class:`StaleTimestamp`, a bad or missing signature with
    :class:`SignatureInvalid`, and return the partner's delivery id (the key of
    idempotency and replay protection).
    """


@hookspec(firstresult=True)
def govbus_webhook_parse(request: InboundRequest) -> list[Event]:
    """Turn a verified push into contract events.

    Called by the ``webhooks`` function after ``govbus_webhook_verify`` succeeded.
    Must return one or more :class:`Event` (never an empty list for a valid body) or
    raise :class:`InvalidRequest` / :class:`ValidationFailed` naming the field.
    """


# ==============================================================================
# Delivery (EMS and other couriers)
# ==============================================================================


@hookspec(firstresult=True)
def govbus_delivery_create_waybill(request: WaybillRequest, ctx: CallContext) -> Waybill:
    """Create a waybill for a case's result. Idempotent on ``ctx.idempotency_key``."""


@hookspec(firstresult=True)
def govbus_delivery_cancel_waybill(waybill_no: str, ctx: CallContext) -> Waybill:
    """Cancel a waybill not yet picked up; :class:`PartnerError` when too late."""


@hookspec(firstresult=True)
def govbus_delivery_track(waybill_no: str, ctx: CallContext) -> list[TrackingUpdate]:
    """Return the tracking history of a waybill, oldest first."""


# ==============================================================================
# Payment (non-tax payment platform)
# ==============================================================================


@hookspec(firstresult=True)
def govbus_payment_create_order(request: PaymentOrderRequest, ctx: CallContext) -> PaymentOrder:
    """Create a payment order for a case's fee. Idempotent on ``ctx.idempotency_key``."""


@hookspec(firstresult=True)
def govbus_payment_query_order(order_no: str, ctx: CallContext) -> PaymentOrder:
    """Return the current state of an order."""


@hookspec(firstresult=True)
def govbus_payment_statement(day: str, ctx: CallContext) -> list[StatementLine]:
    """Return the settlement statement of ``day`` (``YYYY-MM-DD``) for reconciliation."""


# ==============================================================================
# Citizen card (multi-card platform)
# ==============================================================================


@hookspec(firstresult=True)
def govbus_card_lookup(holder_code: str, ctx: CallContext) -> CitizenCard:
    """Return the citizen card bound to a citizen ID; :class:`NotFound` if none."""


@hookspec(firstresult=True)
def govbus_card_pay(payment: CardPayment, ctx: CallContext) -> dict[str, Any]:
    """Charge a citizen card; returns the platform's receipt fields."""


# ==============================================================================
# Province (provincial online hall, SOAP)
# ==============================================================================


@hookspec(firstresult=True)
def govbus_province_forward_case(
    forward: ProvinceCaseForward, ctx: CallContext
) -> ProvinceCaseReceipt:
    """Forward a cross-level case to the provincial hall."""


@hookspec(firstresult=True)
def govbus_province_query_case(province_case_no: str, ctx: CallContext) -> ProvinceCaseReceipt:
    """Query a forwarded case's status at the provincial hall."""


# ==============================================================================
# Authentication (CA)
# ==============================================================================


@hookspec(firstresult=True)
def govbus_ca_verify_certificate(certificate_pem: str, ctx: CallContext) -> CertificateIdentity:
    """Verify a certificate's chain, validity, key usage and revocation status.

    Returns the identity it carries (with the identity code's check digit verified);
    raises :class:`Unauthenticated` with the reason otherwise.
    """


@hookspec(firstresult=True)
def govbus_ca_verify_signature(signed: DetachedSignature, ctx: CallContext) -> CertificateIdentity:
    """Verify a detached signature over a document; returns the signer's identity.

    Called at certificate login (the document is the server's nonce), for electronically
    signed application materials, and to verify an e-licence's seal. The certificate is
    verified as by ``govbus_ca_verify_certificate``; a signature that does not match the
    document is :class:`SignatureInvalid`.
    """


@hookspec(firstresult=True)
def govbus_ca_challenge(ctx: CallContext) -> LoginChallenge:
    """Issue a server nonce for a challenge-response certificate login.

    Called by the ``auth`` function on ``POST /auth/challenge``; the host stores the
    nonce and consumes it once at login. Must be unguessable and carry its expiry.
    """


@hookspec(firstresult=True)
def govbus_ca_seal(document: bytes, agency: str, ctx: CallContext) -> DetachedSignature:
    """Apply an agency's electronic seal (电子印章) to a document, by the CA's seal service.

    Called by the ``licences`` function when it issues an e-licence: the agency's
    seal key never leaves the CA. Must return the detached signature together with the
    seal certificate chain (its subject carries the agency's credit code), so that
    ``govbus_ca_verify_signature`` can verify it later; :class:`PartnerError` when the
    CA holds no seal for the agency.
    """


# ==============================================================================
# Notifications to people (SMS and other channels)
# ==============================================================================


@hookspec(firstresult=True)
def govbus_notify_send(message: NotifyMessage, ctx: CallContext) -> NotifyReceipt:
    """Send one message to one person through the gateway.

    Called by the ``notifications`` function once per (event, kind) after opt-outs and
    the per-recipient rate limit are applied; ``ctx.idempotency_key`` is stable for
    that message, so a gateway that de-duplicates on it never sends twice. Must return
    the gateway's :class:`NotifyReceipt` (``accepted`` at least);
    :class:`RetryableError` for timeouts and 5xx, :class:`PartnerError` when the
    gateway refuses the message (a number it cannot reach). Never log ``message.to``
    unmasked.
    """


@hookspec(firstresult=True)
def govbus_notify_status(message_id: str, ctx: CallContext) -> NotifyReceipt:
    """Read a sent message's delivery receipt.

    Called by operators' tools and the conformance suite with the ``message_id`` that
    ``govbus_notify_send`` returned. Must return its current :class:`NotifyReceipt`;
    :class:`NotFound` for an id the gateway does not know.
    """
