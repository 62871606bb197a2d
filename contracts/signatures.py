"""Signature helpers an adapter may use: Standard Webhooks 1.0, verified over raw bytes.

Signed content is ``{webhook-id}.{webhook-timestamp}.{raw body}``; the signature
header holds space-separated ``v1,<base64 HMAC-SHA256>`` entries (several during a
secret rotation). Secrets are ``whsec_<base64>`` or raw strings.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping

from contracts.errors import SignatureInvalid, StaleTimestamp

TOLERANCE_SECONDS = 5 * 60


def active_secrets(document: Mapping[str, object]) -> list[str]:
    """Every active secret in a stored secret document.

    Accepts ``{"secrets": [...]}`` and ``{"secret": ..., "previous_secret": ...}`` (the
    shape a generated secret and a rotation naturally take).
    """
    found: list[object] = list(document.get("secrets") or [])  # type: ignore[call-overload]
    found += [document.get("secret"), document.get("previous_secret")]
    return [s for s in found if isinstance(s, str) and s]


def _key(secret: str) -> bytes:
    if secret.startswith("whsec_"):
        return base64.b64decode(secret[len("whsec_") :])
    return secret.encode()


def standard_webhook_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def standard_webhook_headers(
    secret: str, msg_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The three headers a sender attaches (used by simulators and govbus's own sends)."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard_webhook_signature(secret, msg_id, timestamp, body),
    }


def verify_standard_webhook(
    headers: Mapping[str, str],
    body: bytes,
    secrets: Iterable[str],
    now: float,
    tolerance: int = TOLERANCE_SECONDS,
) -> str:
    """Verify a Standard Webhooks delivery; return its ``webhook-id``.

    Raises :class:`SignatureInvalid` for a missing or wrong signature and
    :class:`StaleTimestamp` for a timestamp more than ``tolerance`` seconds off.
    """
    msg_id = headers.get("webhook-id", "")
    raw_ts = headers.get("webhook-timestamp", "")
    header = headers.get("webhook-signature", "")
    if not msg_id or not raw_ts or not header:
        raise SignatureInvalid("missing webhook-id, webhook-timestamp or webhook-signature header")
    try:
        timestamp = int(raw_ts)
    except ValueError:
        raise SignatureInvalid("webhook-timestamp is not unix seconds") from None
    if abs(now - timestamp) > tolerance:
        raise StaleTimestamp(
            f"webhook-timestamp is {int(abs(now - timestamp))} s off; at most {tolerance} s allowed"
        )
    offered = [part for part in header.split(" ") if part.startswith("v1,")]
    for secret in secrets:
        expected = standard_webhook_signature(secret, msg_id, timestamp, body).encode()
        for candidate in offered:
            if hmac.compare_digest(expected, candidate.encode()):
                return msg_id
    raise SignatureInvalid("no webhook-signature entry matches an active secret")
