"""The non-tax payment platform's wire format, kept inside the adapter.

Shared by the client and the simulator (and documented in docs/adapters/nontax.md).

**Requests we send** (``/api/v1/...``): JSON bodies (UTF-8), answers
``{"code": "0000", "msg": "...", "data": {...}}``; ``code != "0000"`` is a refusal.
Each request carries ``X-App-Id``, ``X-Timestamp`` (unix seconds), ``X-Nonce`` and
``X-Signature = base64(HMAC-SHA256(app_secret, canonical))`` where ``canonical`` is

    METHOD \\n PATH?QUERY \\n X-Timestamp \\n X-Nonce \\n hex(SHA-256(body))

The platform refuses a timestamp more than 5 minutes off, or a nonce seen in that time.

**Notifications the platform sends** (``POST`` to our notify URL):
``application/x-www-form-urlencoded`` fields, signed by the platform with RSA
SHA256withRSA (PKCS#1 v1.5) over the ``key=value`` pairs (values as decoded) sorted by
key, ``&``-joined, ``sign`` and ``sign_type`` excluded and empty values excluded; the
base64 signature is in ``sign``, ``sign_type=RSA2``. Verified with the platform's
public key. The platform expects HTTP 200 with the body ``success``; anything else
is retried on its schedule with the same ``notify_id`` and the same bytes.

**The daily statement** (``GET /api/v1/statements/{YYYY-MM-DD}``, signed like any
request): ``text/csv; charset=utf-8``, chunked; a header line, one line per settled
payment, and a trailer ``#END,<line count>,<sum of amount_fen>``.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import hmac
from collections.abc import Mapping
from functools import lru_cache

from contracts.payments import PaymentChannel, PaymentState

OK = "0000"
CST = _dt.timezone(_dt.timedelta(hours=8))
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"  # platform times are Beijing time, no zone
REQUEST_TOLERANCE_SECONDS = 5 * 60

# the platform's own names for states and channels
ORDER_STATES: dict[str, PaymentState] = {
    "WAIT_PAY": PaymentState.pending,
    "PAID": PaymentState.paid,
    "CLOSED": PaymentState.closed,
    "REFUNDED": PaymentState.refunded,
    "PART_REFUNDED": PaymentState.partially_refunded,
}
ORDER_STATE_OF = {state: code for code, state in ORDER_STATES.items()}
CHANNELS: dict[str, PaymentChannel] = {
    "UNIONPAY": PaymentChannel.bank_card,
    "WALLET": PaymentChannel.mobile_wallet,
    "CITIZEN_CARD": PaymentChannel.citizen_card,
}
CHANNEL_OF = {channel: code for code, channel in CHANNELS.items()}

# refusal codes the client maps to domain errors
NOT_FOUND = "4004"
CONFLICT = "4009"
BAD_SIGNATURE = "4001"

STATEMENT_HEADER = (
    "order_no",
    "payment_code",
    "trade_no",
    "amount_fen",
    "channel",
    "paid_time",
    "receipt_no",
)
STATEMENT_TRAILER = "#END"


def platform_time(moment: _dt.datetime) -> str:
    return moment.astimezone(CST).strftime(TIME_FORMAT)


def parse_platform_time(text: str) -> _dt.datetime:
    """``YYYY-MM-DD HH:MM:SS`` in Beijing time, as the moment in UTC (the one representation
    of time in govbus's events and answers); anything else is ``ValueError``."""
    if len(text) != 19 or text[10] != " ":
        raise ValueError(f"not a platform time: {text[:40]!r}")
    return _dt.datetime.fromisoformat(text).replace(tzinfo=CST).astimezone(_dt.UTC)


# a payment notification's fields: the contract's name (PaymentNotified) -> the platform's
NOTIFY_FIELDS = {
    "order_no": "order_no",
    "payment_code": "payment_code",
    "amount_fen": "amount_fen",
    "channel": "channel",
    "paid_at": "paid_time",
    "receipt_no": "receipt_no",
    "platform_txn_id": "trade_no",
    "notify_id": "notify_id",
}


# --- request signatures (HMAC, our app secret) ----------------------------------------


def request_canonical(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return f"{method.upper()}\n{path}\n{timestamp}\n{nonce}\n{digest}".encode()


def sign_request(
    secret: str, method: str, path: str, timestamp: str, nonce: str, body: bytes
) -> str:
    canonical = request_canonical(method, path, timestamp, nonce, body)
    return base64.b64encode(hmac.new(secret.encode(), canonical, hashlib.sha256).digest()).decode()


def request_signature_matches(
    secret: str, method: str, path: str, timestamp: str, nonce: str, body: bytes, offered: str
) -> bool:
    expected = sign_request(secret, method, path, timestamp, nonce, body)
    return hmac.compare_digest(expected.encode(), (offered or "").encode())


# --- notification signatures (RSA, the platform's key) -------------------------------


def notify_sign_content(fields: Mapping[str, str]) -> bytes:
    """The bytes the platform signs: sorted ``key=value`` pairs, ``&``-joined."""
    pairs = sorted((k, v) for k, v in fields.items() if k not in ("sign", "sign_type") and v != "")
    return "&".join(f"{k}={v}" for k, v in pairs).encode("utf-8")


def sign_notification(fields: Mapping[str, str], private_key_pem: bytes) -> str:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    key = serialization.load_pem_private_key(private_key_pem, password=None)
    signature = key.sign(  # type: ignore[union-attr, call-arg]
        notify_sign_content(fields), padding.PKCS1v15(), hashes.SHA256()
    )
    return base64.b64encode(signature).decode()


@lru_cache(maxsize=8)
def _public_key(pem: str):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = serialization.load_pem_public_key(pem.encode())
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("the platform's notification key must be an RSA public key")
    return key


def notification_signature_matches(fields: Mapping[str, str], public_key_pem: str) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    try:
        signature = base64.b64decode(fields.get("sign", ""), validate=True)
        key = _public_key(public_key_pem)
    except ValueError:
        return False
    if not signature:
        return False
    try:
        key.verify(signature, notify_sign_content(fields), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True
