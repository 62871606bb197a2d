"""Tokens and callers: who is asking, and what they may see.

Tokens are short-lived JWTs (HS256) signed with ``govbus/<stage>/auth/signing-key``
(``secret`` and, during a rotation, ``previous_secret``). Citizens and enterprises get
the scope ``self`` from a certificate login; departments' systems get the scopes
granted to their client, per service (X-Road style).
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from typing import Any

import jwt
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver

from contracts.errors import Forbidden, Unauthenticated
from contracts.signatures import active_secrets
from govbus.aws import get_secret_json, stage

ISSUER = "govbus"
AUDIENCE = "govbus-api"
TOKEN_SECONDS = 15 * 60
SELF = "self"


def _signing_keys() -> list[str]:
    return active_secrets(get_secret_json(f"govbus/{stage()}/auth/signing-key"))


def issue_token(
    subject: str,
    kind: str,
    scopes: list[str],
    agency: str | None = None,
    lifetime: int = TOKEN_SECONDS,
) -> tuple[str, int]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": subject,
        "kind": kind,
        "scopes": scopes,
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "jti": str(uuid.uuid4()),
    }
    if agency:
        claims["agency"] = agency
    return jwt.encode(claims, _signing_keys()[0], algorithm="HS256"), lifetime


def read_token(token: str) -> dict[str, Any]:
    """Verify signature, issuer, audience and expiry; any failure is Unauthenticated."""
    last: Exception | None = None
    for key in _signing_keys():
        try:
            return jwt.decode(
                token,
                key,
                algorithms=["HS256"],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "sub", "iat"]},
            )
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

    def may(self, scope: str) -> bool:
        return scope in self.scopes

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise Forbidden(f"this requires the scope {scope!r}, which the caller was not granted")

    def is_self(self, code: str) -> bool:
        return not self.is_department and self.may(SELF) and self.subject == code.strip().upper()


def caller(app: ApiGatewayResolver) -> Caller:
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
