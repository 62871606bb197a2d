"""Personal data at rest: blind index keys and KMS envelope encryption.

* :func:`subject_key` turns a citizen ID or credit code into a stable, non-reversible
  key (HMAC-SHA256 under a secret pepper), so tables are keyed without the raw code.
* :func:`seal` / :func:`unseal` encrypt personal fields with a fresh AES-256-GCM data
  key per record, the data key itself encrypted by KMS under an encryption context
  that binds the ciphertext to its record: a sealed blob copied onto another record
  does not decrypt.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from typing import Any

from govbus import settings
from govbus.aws import client, get_secret_json, stage

SEAL_VERSION = 1


def pepper() -> bytes:
    """The platform's index key: blind indexes here, and listing cursors' signatures
    (govbus/paging.py, each use kept apart by what it signs)."""
    doc = get_secret_json(f"govbus/{stage()}/platform/index-key")
    return doc["secret"].encode()


def subject_key(code: str) -> str:
    """The blind index of a subject's one code (upper-cased first, as stored)."""
    return hmac.new(pepper(), str(code).strip().upper().encode(), hashlib.sha256).hexdigest()


def _aesgcm(key: bytes) -> Any:
    # cryptography loads when personal data is first sealed or opened, not at import
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(key)


def _context_bytes(context: dict[str, str]) -> bytes:
    return json.dumps(context, sort_keys=True, separators=(",", ":")).encode()


def seal(fields: dict[str, Any], context: dict[str, str]) -> str:
    """Encrypt ``fields``; ``context`` (non-secret, e.g. the record key) must match to open."""
    key = client("kms").generate_data_key(
        KeyId=settings.require(settings.platform(), "personal_data_key_id"),
        KeySpec="AES_256",
        EncryptionContext=context,
    )
    nonce = os.urandom(12)
    plaintext = json.dumps(fields, ensure_ascii=False).encode()
    ciphertext = _aesgcm(key["Plaintext"]).encrypt(nonce, plaintext, _context_bytes(context))
    return json.dumps(
        {
            "v": SEAL_VERSION,
            "key": base64.b64encode(key["CiphertextBlob"]).decode(),
            "nonce": base64.b64encode(nonce).decode(),
            "data": base64.b64encode(ciphertext).decode(),
        }
    )


def unseal(blob: str, context: dict[str, str]) -> dict[str, Any]:
    doc = json.loads(blob)
    if doc.get("v") != SEAL_VERSION:
        raise ValueError(f"unknown sealed format {doc.get('v')!r}")
    key = client("kms").decrypt(
        CiphertextBlob=base64.b64decode(doc["key"]), EncryptionContext=context
    )["Plaintext"]
    plaintext = _aesgcm(key).decrypt(
        base64.b64decode(doc["nonce"]), base64.b64decode(doc["data"]), _context_bytes(context)
    )
    return json.loads(plaintext)
