"""The SMS gateway's wire format, kept inside the adapter.

Requests are JSON ``POST``s to ``/v2/sms/send`` and ``/v2/sms/status``, signed with
the app's secret: ``X-Sms-Signature = hex(HMAC-SHA256(secret, canonical))`` where
``canonical = METHOD \\n PATH \\n X-Sms-Timestamp \\n X-Sms-Nonce \\n raw body``; the
gateway refuses a timestamp more than 300 s off and a nonce it has seen. Answers are
``{"code": "0", "msg": "...", "data": {...}}``; ``code`` other than ``"0"`` is a
refusal. Message states: ``ACCEPTED`` (queued), ``DELIVRD`` (handset receipt),
``UNDELIV`` (undeliverable), as SMPP delivery receipts name them.
"""

from __future__ import annotations

import hashlib
import hmac

from contracts.notify import NotifyStatus

OK = "0"
SEND_PATH = "/v2/sms/send"
STATUS_PATH = "/v2/sms/status"
PING_PATH = "/v2/ping"
TOLERANCE_SECONDS = 300

STATES: dict[str, NotifyStatus] = {
    "ACCEPTED": NotifyStatus.accepted,
    "DELIVRD": NotifyStatus.delivered,
    "UNDELIV": NotifyStatus.failed,
}


def canonical(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    return f"{method}\n{path}\n{timestamp}\n{nonce}\n".encode() + body


def sign(secret: str, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    return hmac.new(
        secret.encode(), canonical(method, path, timestamp, nonce, body), hashlib.sha256
    ).hexdigest()


def signature_matches(
    secret: str, method: str, path: str, timestamp: str, nonce: str, body: bytes, offered: str
) -> bool:
    expected = sign(secret, method, path, timestamp, nonce, body)
    return hmac.compare_digest(expected.encode(), offered.encode())
