"""Paging a listing: ``?limit=`` and an opaque, signed ``next`` cursor.

A cursor is the position after the last row of a page (the keys a DynamoDB query starts
after), bound to the listing it came from (for a department's queue: its agency and the
state) and signed with an HMAC under the platform's index key. A cursor that was altered,
made up, or taken from another listing is 422, never a query the caller shaped.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

from contracts.errors import ValidationFailed
from govbus.privacy import pepper

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
_PURPOSE = b"govbus listing cursor v1\x00"  # this key's use kept apart from blind indexes
_MAC_BYTES = 16


def limit_of(value: str | None, default: int = DEFAULT_LIMIT, maximum: int = MAX_LIMIT) -> int:
    """``?limit=``: a whole number from 1 to ``maximum`` (``default`` when absent), else 422."""
    if value is None or value == "":
        return default
    # ASCII digits only: int() also takes " 5", "+5", "1_0" and "٥"
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= maximum:
        raise ValidationFailed(
            f"limit is a whole number from 1 to {maximum} (default {default})", field="limit"
        )
    return int(value)


def _mac(listing: str, body: bytes) -> bytes:
    message = _PURPOSE + listing.encode() + b"\x00" + body
    return hmac.new(pepper(), message, hashlib.sha256).digest()[:_MAC_BYTES]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_cursor(listing: str, position: dict[str, str]) -> str:
    """The opaque ``next`` of a page of ``listing`` that ends at ``position``."""
    body = json.dumps(position, separators=(",", ":"), sort_keys=True).encode()
    return f"{_b64(body)}.{_b64(_mac(listing, body))}"


def decode_cursor(listing: str, cursor: str) -> dict[str, str]:
    """The position a cursor of ``listing`` stands for; 422 for anything else."""
    refused = ValidationFailed(
        "next is not a cursor of this listing: pass the 'next' of the previous page "
        "unchanged, with the same state, or leave it out to start from the first page",
        field="next",
    )
    body_text, dot, mac_text = cursor.partition(".")
    if not dot or len(cursor) > 2_000 or not cursor.isascii():
        raise refused
    try:
        body, mac = _unb64(body_text), _unb64(mac_text)
    except (binascii.Error, ValueError):
        raise refused from None
    if not hmac.compare_digest(mac, _mac(listing, body)):
        raise refused
    position: Any = json.loads(body)  # signed by us: our own JSON
    if not isinstance(position, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in position.items()
    ):
        raise refused
    return position
