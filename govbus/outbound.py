"""Events out: the SSRF guard, the Standard Webhooks sender, and one delivery attempt.

The guard (:func:`check_destination`) runs when a URL is subscribed and again at every
send: the host is resolved, every address must be public, and the request connects to
the address that was checked (never re-resolving), so a DNS answer that changes
between the check and the send reaches nothing private. Redirects are not followed
(a 3xx is a failed attempt). ``SUBSCRIPTIONS_ALLOW_LOOPBACK`` (development only: the
local stack's test settings set it) additionally admits plain-http loopback URLs, except
on ``SUBSCRIPTIONS_RESERVED_PORTS``: every port the local stack itself serves (its AWS
endpoint, gateway, simulators, MQTT broker), which the stack passes to its functions; a
deployed stack sets none.
"""

from __future__ import annotations

import datetime as _dt
import functools
import ipaddress
import json
import socket
import time
import urllib.parse
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import urllib3

from contracts.errors import ValidationFailed
from contracts.events import Event
from contracts.masking import mask_text
from contracts.signatures import standard_webhook_signature
from contracts.subscriptions import (
    DEFAULT_RETRY_SCHEDULE,
    DISABLE_AFTER_SECONDS,
    PUBLIC_PREFIXES,
    REVEAL_SCOPE,
    SCOPE,
    Attempt,
    DeliveryStatus,
    Subscription,
    SubscriptionDisabled,
    SubscriptionStatus,
    is_subscribable,
    masked_body,
    outgoing_body,
    owning_agency,
    visible_to,
)
from govbus import settings as platform_settings
from govbus.aws import client
from govbus.bus import publish
from govbus.observability import logger
from govbus.stores import clients
from govbus.stores import subscriptions as store

SOURCE = "govbus.deliveries"
MAX_SQS_DELAY_SECONDS = 900
MAX_PARALLEL_SENDS = 8


class UnsafeDestination(ValidationFailed):
    """A webhook URL that is not https or does not resolve only to public addresses."""


@dataclass(frozen=True)
class OutboundSettings:
    retry_schedule: tuple[int, ...] = DEFAULT_RETRY_SCHEDULE
    timeout_seconds: float = 10.0
    allow_loopback: bool = False
    reserved_ports: frozenset[int] = frozenset()
    disable_after_seconds: int = DISABLE_AFTER_SECONDS
    attempts_queue_url: str = ""


@functools.cache
def settings() -> OutboundSettings:
    """Read once per process (cold start)."""
    raw = platform_settings.tuning().delivery_retry_schedule
    schedule = tuple(int(x) for x in raw.split(",") if x.strip()) or DEFAULT_RETRY_SCHEDULE
    return OutboundSettings(
        retry_schedule=schedule,
        timeout_seconds=float(platform_settings.tuning().delivery_timeout_seconds or 10),
        allow_loopback=platform_settings.tuning().subscriptions_allow_loopback.lower() == "true",
        reserved_ports=frozenset(
            int(p)
            for p in platform_settings.tuning().subscriptions_reserved_ports.split(",")
            if p.strip().isdigit()
        ),
        disable_after_seconds=int(
            platform_settings.tuning().subscription_disable_after_seconds or DISABLE_AFTER_SECONDS
        ),
        attempts_queue_url=platform_settings.tuning().delivery_attempts_queue_url,
    )


# --- the SSRF guard ---------------------------------------------------------------------


def _refusal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    for test, what in (
        (address.is_unspecified, "an unspecified"),
        (address.is_loopback, "a loopback"),
        (address.is_link_local, "a link-local"),
        (address.is_multicast, "a multicast"),
        (address.is_private, "a private"),
        (address.is_reserved, "a reserved"),
        (not address.is_global, "a non-public"),
    ):
        if test:
            return what
    return None


def _resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise UnsafeDestination(f"the host {host!r} does not resolve", field="url") from None
    return sorted({str(info[4][0]).split("%")[0] for info in infos})


@dataclass(frozen=True)
class Destination:
    scheme: str
    host: str
    port: int
    target: str  # path and query
    address: str  # the checked address the request connects to


def check_destination(url: str, allow_loopback: bool | None = None) -> Destination:
    """Resolve ``url`` and refuse it unless every address is public (see module doc)."""
    allow = settings().allow_loopback if allow_loopback is None else allow_loopback
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeDestination("the url cannot be read", field="url") from None
    if parts.scheme not in ("https", "http"):
        raise UnsafeDestination("the url must use https", field="url")
    if parts.username or parts.password:
        raise UnsafeDestination("the url must not carry credentials", field="url")
    host = parts.hostname or ""
    if not host:
        raise UnsafeDestination("the url has no host", field="url")
    port = port or (443 if parts.scheme == "https" else 80)
    addresses = _resolve(host, port)
    if not addresses:
        raise UnsafeDestination(f"the host {host!r} does not resolve", field="url")
    all_loopback = True
    reserved = settings().reserved_ports
    for raw in addresses:
        address = ipaddress.ip_address(raw)
        refusal = _refusal(address)
        loopback = address.is_loopback or bool(
            isinstance(address, ipaddress.IPv6Address)
            and address.ipv4_mapped
            and address.ipv4_mapped.is_loopback
        )
        all_loopback = all_loopback and loopback
        if refusal and not (allow and loopback):
            raise UnsafeDestination(
                f"the host {host!r} resolves to {refusal} address; "
                "webhooks go only to public addresses",
                field="url",
            )
        # every address the name resolves to: one public answer beside 127.0.0.1 must
        # not carry a webhook into the platform's own port
        if loopback and port in reserved:
            raise UnsafeDestination(
                f"port {port} on this machine is the platform's own (its AWS endpoint, "
                "gateway, a partner simulator or the MQTT broker): a webhook there would "
                "post into the platform itself",
                field="url",
            )
    if parts.scheme != "https" and not (allow and all_loopback):
        raise UnsafeDestination("the url must use https", field="url")
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return Destination(parts.scheme, host, port, target, addresses[0])


# --- sending ----------------------------------------------------------------------------


def sign(secrets: Iterable[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Standard Webhooks headers, one ``v1,`` entry per active secret (rotation)."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            standard_webhook_signature(s, msg_id, timestamp, body) for s in secrets
        ),
    }


def send(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Attempt:
    """One POST to a checked address; never raises, the outcome is the attempt."""
    at = _dt.datetime.now(_dt.UTC)
    started = time.perf_counter()
    try:
        dest = check_destination(url)
    except UnsafeDestination as exc:
        return Attempt(at=at, error=f"refused: {exc}")
    host = f"[{dest.host}]" if ":" in dest.host else dest.host  # an IPv6 literal
    host_header = host if dest.port in (80, 443) else f"{host}:{dest.port}"
    request_headers = {
        **headers,
        "Host": host_header,
        "Content-Type": "application/json",
        "User-Agent": "govbus-webhooks/1.0",
    }
    pool_timeout = urllib3.Timeout(connect=min(3.0, timeout), read=timeout)
    pool: urllib3.HTTPConnectionPool
    if dest.scheme == "https":
        # connect to the checked address; verify the certificate against the host name
        pool = urllib3.HTTPSConnectionPool(
            dest.address,
            dest.port,
            timeout=pool_timeout,
            retries=False,
            cert_reqs="CERT_REQUIRED",
            server_hostname=dest.host,
            assert_hostname=dest.host,
        )
    else:
        pool = urllib3.HTTPConnectionPool(
            dest.address, dest.port, timeout=pool_timeout, retries=False
        )
    try:
        answer = pool.urlopen(
            "POST",
            dest.target,
            body=body,
            headers=request_headers,
            redirect=False,
            retries=False,
            preload_content=False,
        )
        answer.read(4096, decode_content=False)  # a little of the answer, never all of it
        answer.release_conn()
        status, error = answer.status, None
        if not 200 <= status < 300:
            error = f"answered {status}"
    except urllib3.exceptions.NewConnectionError as exc:
        # a ConnectTimeoutError to urllib3 (its subclass), but nothing timed out: refused
        status, error = None, f"could not connect: {type(exc).__name__}"
    except urllib3.exceptions.TimeoutError:
        status, error = None, f"no answer within {timeout:g} s"
    except urllib3.exceptions.HTTPError as exc:
        status, error = None, f"could not connect: {type(exc).__name__}"
    finally:
        pool.close()
    return Attempt(
        at=at,
        status_code=status,
        latency_ms=round((time.perf_counter() - started) * 1000, 1),
        error=error,
    )


# --- one attempt of one delivery -----------------------------------------------------------


def _notify_disabled(sub: Subscription, reason: str) -> None:
    if not store.disable(sub.id, reason):
        return
    logger.warning("subscription disabled", extra={"subscription_id": sub.id, "reason": reason})
    publish(
        [
            Event.create(
                "subscription.disabled",
                SubscriptionDisabled(
                    subscription_id=sub.id,
                    agency=sub.agency,
                    owner=sub.owner,
                    url=sub.url,
                    reason=reason,
                ),
                source=SOURCE,
                subject=sub.id,
            )
        ]
    )


def enqueue_attempt(did: str, attempt: int, delay_seconds: int = 0) -> None:
    queue = settings().attempts_queue_url
    if not queue:
        return  # no queue (a unit run): the retry sweep picks it up
    client("sqs").send_message(
        QueueUrl=queue,
        MessageBody=json.dumps({"delivery_id": did, "attempt": attempt}),
        DelaySeconds=max(0, min(delay_seconds, MAX_SQS_DELAY_SECONDS)),
    )


def attempt(did: str, number: int) -> Attempt | None:
    """Make attempt ``number`` of delivery ``did`` (skipped if stale or taken)."""
    config = settings()
    if not store.claim(did, number, lease_seconds=config.timeout_seconds + 30):
        return None
    row = store.delivery_row(did)
    if row is None:
        return None
    sid = row["subscription_id"]["S"]
    try:
        sub = store.get_subscription(sid)
    except Exception:
        sub = None
    if sub is None or sub.status != SubscriptionStatus.active:
        store.set_status(did, DeliveryStatus.cancelled)
        return None
    # the owner's grants at this send, not those the delivery was written under: a
    # revoked client's deliveries fall silent, and one that lost subjects:read since
    # gets its identifiers masked
    grants = owner_grants(sub)
    if grants is None or SCOPE not in grants:
        store.set_status(did, DeliveryStatus.cancelled)
        logger.info(
            "delivery cancelled: the subscription's owner may no longer receive it",
            extra={"delivery_id": did, "subscription_id": sid, "owner": sub.owner},
        )
        return None
    body = body_now(row["body"]["S"], sub, reveal=REVEAL_SCOPE in grants)
    headers = sign(store.signing_secrets(sid), did, int(time.time()), body)
    outcome = send(sub.url, body, headers, config.timeout_seconds)
    log = {
        "delivery_id": did,
        "subscription_id": sid,
        "attempt": number + 1,
        "status_code": outcome.status_code,
        "latency_ms": outcome.latency_ms,
    }
    now = _dt.datetime.now(_dt.UTC)
    if outcome.error is None:
        store.record_attempt(did, number, outcome, DeliveryStatus.delivered)
        store.succeeded(sid, now)
        logger.info("webhook delivered", extra=log)
        return outcome
    logger.info("webhook attempt failed", extra={**log, "error": outcome.error})
    if outcome.status_code == 410:
        store.record_attempt(did, number, outcome, DeliveryStatus.failed)
        _notify_disabled(sub, "the endpoint answered 410 Gone")
        return outcome
    made = number + 1
    if made <= len(config.retry_schedule):
        delay = config.retry_schedule[made - 1]
        store.record_attempt(
            did, number, outcome, DeliveryStatus.pending, now + _dt.timedelta(seconds=delay)
        )
        if delay <= MAX_SQS_DELAY_SECONDS:
            enqueue_attempt(did, made, delay)  # longer waits: the retry sweep
    else:
        store.record_attempt(did, number, outcome, DeliveryStatus.failed)
    since = store.failing(sid, now)
    if (now - since).total_seconds() >= config.disable_after_seconds:
        _notify_disabled(sub, f"deliveries have failed since {since.isoformat(timespec='seconds')}")
    return outcome


def attempt_all(pending: Sequence[tuple[str, int]]) -> None:
    """Attempts in parallel: a slow endpoint holds up no other subscriber's delivery."""
    if len(pending) <= 1:
        for did, number in pending:
            _attempt_logged(did, number)
        return
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_SENDS, len(pending))) as pool:
        for future in [pool.submit(_attempt_logged, did, number) for did, number in pending]:
            future.result()


def _attempt_logged(did: str, number: int) -> None:
    try:
        attempt(did, number)
    except Exception:
        # the row stays pending and due: the retry sweep makes this attempt later
        logger.exception("delivery attempt failed to run", extra={"delivery_id": did})


# --- fan-out -----------------------------------------------------------------------------


def _encoded(doc: object) -> bytes:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def body_for(event: Event, sub: Subscription) -> bytes:
    return _encoded(outgoing_body(event, reveal=sub.reveal_identifiers, agency=sub.agency))


def owner_grants(sub: Subscription) -> frozenset[str] | None:
    """The scopes the subscription's owner holds now; None once it is revoked."""
    return clients.active_scopes(sub.owner)


def body_now(stored: str, sub: Subscription, *, reveal: bool) -> bytes:
    """The body to send now: the stored one, masked unless the owner may read
    identifiers at this moment (a body stored masked stays masked)."""
    if reveal:
        return stored.encode()
    try:
        doc = json.loads(stored)
    except ValueError:
        return _mask_raw(stored)
    if not isinstance(doc, dict):
        return _mask_raw(stored)
    masked = masked_body(doc, sub.agency)
    return stored.encode() if masked == doc else _encoded(masked)


def _mask_raw(stored: str) -> bytes:
    return mask_text(stored).encode()


def matching_subscriptions(event: Event) -> list[Subscription]:
    """Active subscriptions that want ``event`` and may see it."""
    if not is_subscribable(event.type):
        return []
    if event.type.startswith(PUBLIC_PREFIXES):
        candidates = store.every_active()
    else:
        owner = owning_agency(event)
        candidates = store.by_agency(owner) if owner else []
    wanted = [
        s
        for s in candidates
        if s.status == SubscriptionStatus.active
        and s.wants(event.type)
        and visible_to(event, s.agency)
    ]
    # the owner's grant as it is now: a revoked client's subscriptions fall silent, and
    # identifiers are revealed only while it still holds the scope to read them
    grants = {owner: clients.active_scopes(owner) for owner in {s.owner for s in wanted}}
    return [
        s.model_copy(update={"reveal_identifiers": REVEAL_SCOPE in grant})
        for s in wanted
        if (grant := grants[s.owner]) is not None and SCOPE in grant
    ]


def fan_out(
    event: Event, *, salt: str = "", only: Subscription | None = None
) -> list[tuple[str, int]]:
    """Write one delivery per matching subscription, once; returns those to attempt now.

    ``salt`` makes a replay's deliveries new ones; ``only`` limits it to one subscription.
    """
    subs = matching_subscriptions(event)
    if only is not None:
        subs = [s for s in subs if s.id == only.id]
    pending = []
    for sub in subs:
        did = store.delivery_id(event.id, sub.id, salt)
        if store.create_delivery(did, sub.id, event.id, event.type, body_for(event, sub)):
            pending.append((did, 0))
        elif store.never_attempted(did):
            pending.append((did, 0))  # the event came again before its first attempt: now
    return pending


def sweep(now: _dt.datetime | None = None) -> int:
    """Attempt every delivery whose next attempt is due (long waits, lost attempts)."""
    due = store.due_for_retry(now or _dt.datetime.now(_dt.UTC))
    attempt_all(due)
    return len(due)
