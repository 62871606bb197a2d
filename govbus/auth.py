"""Tokens and callers: who is asking, and what they may see.

Tokens are short-lived JWTs (HS256) signed with ``govbus/<stage>/auth/signing-key``
(``secret`` and, during a rotation, ``previous_secret``). Citizens and enterprises get
the scope ``self`` from a certificate login; departments' systems get the scopes
granted to their client, per service (X-Road style).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import os
import time
import uuid
from typing import TYPE_CHECKING, Any

from contracts.errors import Forbidden, Unauthenticated
from contracts.signatures import active_secrets
from govbus.aws import get_secret_json, stage

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from govbus.routing import HttpResolver

ISSUER = "govbus"
AUDIENCE = "govbus-api"
TOKEN_SECONDS = 15 * 60
SELF = "self"
OPS = "ops"
# tokens issued to API clients (client credentials), not to people
CLIENT_KINDS = frozenset({"department", OPS})


def _signing_keys() -> list[str]:
    return active_secrets(get_secret_json(f"govbus/{stage()}/auth/signing-key"))


# A JWT is only base64: a citizen's or enterprise's identity code in ``sub`` would be
# readable by anyone holding the token (a proxy log, a browser extension). Their ``sub``
# is sealed (AES-256-GCM, key derived from the signing key); only the authorizer opens it.
SEALED_PREFIX = "sealed:"
_SUBJECT_KEY_LABEL = b"govbus token subject v1|"


def _subject_cipher(signing_key: str) -> AESGCM:
    # cryptography and PyJWT load when a token is made or read, not at every cold start
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(hashlib.sha256(_SUBJECT_KEY_LABEL + signing_key.encode()).digest())


def seal_subject(subject: str, signing_key: str) -> str:
    nonce = os.urandom(12)
    sealed = _subject_cipher(signing_key).encrypt(nonce, subject.encode(), AUDIENCE.encode())
    return SEALED_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")


def open_subject(sub: str, signing_key: str) -> str:
    if not sub.startswith(SEALED_PREFIX):
        return sub
    from cryptography.exceptions import InvalidTag

    blob = sub[len(SEALED_PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(blob + "=" * (-len(blob) % 4))
        return _subject_cipher(signing_key).decrypt(raw[:12], raw[12:], AUDIENCE.encode()).decode()
    except (ValueError, InvalidTag):
        raise Unauthenticated("the token is not valid") from None


def issue_token(
    subject: str,
    kind: str,
    scopes: list[str],
    agency: str | None = None,
    lifetime: int = TOKEN_SECONDS,
) -> tuple[str, int]:
    now = int(time.time())
    key = _signing_keys()[0]
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        # a client id is no one's personal identifier; every other subject is sealed
        "sub": subject if kind in CLIENT_KINDS else seal_subject(subject, key),
        "kind": kind,
        "scopes": scopes,
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "jti": str(uuid.uuid4()),
    }
    if agency:
        claims["agency"] = agency
    import jwt

    return jwt.encode(claims, key, algorithm="HS256"), lifetime


def read_token(token: str) -> dict[str, Any]:
    """Verify signature, issuer, audience and expiry; any failure is Unauthenticated.

    The returned claims carry the subject opened (server side only).
    """
    import jwt

    last: Exception | None = None
    for key in _signing_keys():
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=["HS256"],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "sub", "iat"]},
            )
            claims["sub"] = open_subject(str(claims["sub"]), key)
            return claims
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the token has expired; log in again") from None
        except jwt.InvalidTokenError as exc:
            last = exc
    raise Unauthenticated("the token is not valid") from last


@dataclasses.dataclass(frozen=True)
class Caller:
    subject: str  # citizen ID, credit code, or client id
    kind: str  # citizen | organisation | department
    scopes: frozenset[str]
    agency: str | None = None

    @property
    def is_department(self) -> bool:
        return self.kind == "department"

    @property
    def is_ops(self) -> bool:
        """An operators' client: kind ``ops`` holding the ``ops`` scope."""
        return self.kind == OPS and OPS in self.scopes

    def may(self, scope: str) -> bool:
        return scope in self.scopes

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise Forbidden(f"this requires the scope {scope!r}, which the caller was not granted")

    def is_self(self, code: str) -> bool:
        return not self.is_department and self.may(SELF) and self.subject == code.strip().upper()


def caller(app: HttpResolver) -> Caller:
    """The caller the authorizer vouched for (payload 2.0 ``authorizer.lambda`` context)."""
    context = app.current_event.request_context.authorizer.get_lambda or {}
    if not context.get("sub"):
        raise Unauthenticated("this route needs a bearer token")
    return Caller(
        subject=context["sub"],
        kind=context.get("kind", ""),
        scopes=frozenset(str(context.get("scopes", "")).split()),
        agency=context.get("agency") or None,
    )
