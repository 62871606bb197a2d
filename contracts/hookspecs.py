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

from collections.abc import Iterator, Mapping
from datetime import date
from typing import TYPE_CHECKING

import pluggy

# The annotations below stay strings (``from __future__ import annotations``): pluggy
# reads only the parameter names, so the hook specifications need none of the contract
# models at run time. Importing them here would build every family's pydantic models in
# every function that loads the plugin manager (~25 ms of each cold start).
if TYPE_CHECKING:
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
    from contracts.identity import CitizenId
    from contracts.notify import NotifyMessage, NotifyReceipt
    from contracts.payments import (
        CardPayment,
        CardReceipt,
        CardRefund,
        CardRefundReceipt,
        CitizenCard,
        PaymentOrder,
        PaymentOrderRequest,
        RefundRequest,
        RefundResult,
        StatementLine,
    )
    from contracts.province import ProvinceCaseForward, ProvinceCaseReceipt, ProvinceItem
    from contracts.telemetry import Reading

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

    Called by the host when it loads the adapter (a function loads an adapter the
    first time it addresses it) with the adapter's settings (environment
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
# Payment (non-tax payment platform, 非税收入支付平台)
# ==============================================================================


@hookspec(firstresult=True)
def govbus_payment_create_order(request: PaymentOrderRequest, ctx: CallContext) -> PaymentOrder:
    """Create a payment order for a case's fee or a biller's bill.

    Called by the ``payments`` function's bus consumer when a fee or bill is due (the
    call is retried by redelivery until it succeeds). Must return the order in state ``pending`` with the platform's 20-digit
    payment code (缴款码) and, where the platform has one, the URL the payer pays at.
    Idempotent on ``request.order_no``: creating the same order again returns the
    existing one; the same order number with another amount or payer is
    :class:`Conflict`. A refusal is :class:`PartnerError`.
    """


@hookspec(firstresult=True)
def govbus_payment_query_order(order_no: str, ctx: CallContext) -> PaymentOrder:
    """Return the platform's current view of an order.

    Called by the ``payments`` function when a notification is late or doubtful (the
    platform is the authority on whether an order is paid), and by reconciliation.
    :class:`NotFound` when the platform knows no such order.
    """


@hookspec(firstresult=True)
def govbus_payment_close_order(order_no: str, ctx: CallContext) -> PaymentOrder:
    """Close an unpaid order so that it can no longer be paid (case withdrawn, bill void).

    Called by the ``payments`` function. Returns the order in state ``closed``; closing
    a closed order returns it again. An order already paid cannot be closed:
    :class:`Conflict` (refund it instead).
    """


@hookspec(firstresult=True)
def govbus_payment_refund(request: RefundRequest, ctx: CallContext) -> RefundResult:
    """Refund all or part of a paid order (e.g. a rejection after payment).

    Called by the ``payments`` function. Idempotent on ``request.refund_no``: the same
    refund again returns the original result and refunds nothing more. Refunding more
    than was paid, or an unpaid order, is :class:`Conflict`.
    """


@hookspec(firstresult=True)
def govbus_payment_statement(day: date, ctx: CallContext) -> Iterator[StatementLine]:
    """Stream the platform's settlement statement (对账单) of ``day`` for reconciliation.

    Called by the ``reconcile`` function once a day. Must return an iterator that
    yields one :class:`StatementLine` per settled payment as the statement is read
    (a generator over the partner's streamed response), never a list: a statement
    can hold millions of lines and memory must stay flat. The iterator raises
    :class:`PartnerUnavailable` if the statement ends short of its own trailer (a
    truncated download must not pass for a complete one), after yielding what it read.
    """


# ==============================================================================
# Citizen card (multi-card platform, 市民卡)
# ==============================================================================


@hookspec(firstresult=True)
def govbus_card_lookup(holder_code: CitizenId, ctx: CallContext) -> CitizenCard:
    """Return the citizen card held by a citizen, with its status.

    Called by the ``payments`` function before offering the citizen-card channel, and
    by the card check a person waits for. Returns the card whatever its status (active,
    frozen, lost, cancelled); :class:`NotFound` when the citizen holds no card.
    """


@hookspec(firstresult=True)
def govbus_card_pay(payment: CardPayment, ctx: CallContext) -> CardReceipt:
    """Charge a citizen card's account.

    Called by the ``payments`` function when a citizen pays a fee or bill by card.
    Idempotent on ``payment.reference``: paying again with the same reference charges
    once and returns the original receipt; the same reference with another amount is
    :class:`Conflict`. A lost, frozen or cancelled card is :class:`CardUnusable`; too
    small a balance is :class:`InsufficientBalance`; both are refusals (not retried).
    """


@hookspec(firstresult=True)
def govbus_card_refund(refund: CardRefund, ctx: CallContext) -> CardRefundReceipt:
    """Give back all or part of a card payment, found by its reference.

    Called by the ``payments`` function (a rejection after payment). Idempotent on
    ``refund.refund_reference``; refunding more than was paid is :class:`Conflict`,
    an unknown reference :class:`NotFound`.
    """


@hookspec(firstresult=True)
def govbus_card_statement(day: date, ctx: CallContext) -> Iterator[StatementLine]:
    """Stream the card platform's statement of the card payments it settled on ``day``.

    Called by the ``reconcile`` function once a day, beside the non-tax platform's
    statement: card payments never pass through that platform. Must return an
    iterator yielding one :class:`StatementLine` per payment (``order_no`` is the
    payment's reference, ``channel`` is ``citizen_card``), read page by page, never a
    list. A payment refunded since is still listed with the amount it charged.
    """


# ==============================================================================
# Province (provincial online hall, SOAP)
# ==============================================================================


@hookspec(firstresult=True)
def govbus_province_forward_case(
    forward: ProvinceCaseForward, ctx: CallContext
) -> ProvinceCaseReceipt:
    """Forward a cross-level case to the provincial hall.

    Called by the dispatcher for a ``province.forward_requested`` command. Must return
    the hall's receipt (its case number and status). The hall answers a repeated
    submission of one city case with the same case number, so a retry after a timeout
    forwards nothing twice. Raises :class:`ValidationFailed` for a case the hall cannot
    take as it is (an attachment over the hall's size limit), :class:`PartnerError`
    (with the hall's fault code) for the hall's refusal, :class:`RetryableError`
    otherwise.
    """


@hookspec(firstresult=True)
def govbus_province_query_case(province_case_no: str, ctx: CallContext) -> ProvinceCaseReceipt:
    """Query a forwarded case's status at the provincial hall.

    Called by ``province_sync`` to catch changes whose push never arrived. Must return
    the current receipt; :class:`NotFound` when the hall has no such case.
    """


@hookspec(firstresult=True)
def govbus_province_withdraw_case(
    province_case_no: str, reason: str, ctx: CallContext
) -> ProvinceCaseReceipt:
    """Withdraw a forwarded case at the provincial hall (the citizen withdrew it).

    Called by the dispatcher for a ``province.withdraw_requested`` command (a case at
    the province was withdrawn in the city).
    Must return the receipt with status ``withdrawn``; withdrawing an already
    withdrawn case answers the same receipt. :class:`PartnerError` when the province
    has already decided, :class:`NotFound` when it has no such case.
    """


@hookspec(firstresult=True)
def govbus_province_list_items(ctx: CallContext) -> list[ProvinceItem]:
    """Return the province's catalogue items (code, name, time limit, agency).

    Called by catalogue alignment (``govbus province align``) to find city items
    whose code, name or time limit disagree with the province's.
    """


# ==============================================================================
# Authentication (CA)
# ==============================================================================


@hookspec(firstresult=True)
def govbus_ca_verify_certificate(certificate_pem: str, ctx: CallContext) -> CertificateIdentity:
    """Verify a certificate's chain, validity, key usage and revocation status.

    The revocation status is the CA's answer now (an OCSP-like status query), not only a
    cached revocation list: a certificate revoked a moment ago is refused at once. Fail
    closed: when the status cannot be asked, raise :class:`PartnerUnavailable` (retryable),
    never accept on a cached list. Returns the identity it carries (with the identity
    code's check digit verified); raises :class:`Unauthenticated` with the reason otherwise.
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


# ==============================================================================
# Telemetry: devices' readings (smart city, MQTT)
# ==============================================================================


@hookspec(firstresult=True)
def govbus_telemetry_decode(topic: str, payload: bytes) -> Reading:
    """Turn one device message into a :class:`Reading`.

    Called by ``functions/telemetry`` for each message the topic rule (or, locally, the
    broker's forwarder) delivered, with the MQTT topic (``city/<domain>/<device>/
    telemetry``) and the raw payload bytes. Must return a valid ``Reading`` of the
    topic's domain and device, or raise :class:`contracts.errors.InvalidRequest` for a
    payload it cannot read and :class:`contracts.errors.ValidationFailed` for values
    outside the domain's bounds (the caller counts and drops such messages).
    """
