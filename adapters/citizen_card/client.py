"""The multi-card platform's HTTP client: an OAuth2 client-credentials token cached until
it expires (refreshed once on a 401), answers mapped to contracts' errors."""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from typing import Any
from urllib.parse import urlencode

import urllib3

from adapters.citizen_card import wire
from adapters.citizen_card.config import CitizenCardConfig
from contracts.errors import (
    CardUnusable,
    Conflict,
    InsufficientBalance,
    NotFound,
    PartnerError,
    PartnerTimeout,
    PartnerUnavailable,
)

log = logging.getLogger("adapters.citizen_card")

REFUSALS: dict[str, type[Exception]] = {
    wire.CARD_NOT_FOUND: NotFound,
    wire.PAYMENT_NOT_FOUND: NotFound,
    wire.CONFLICT: Conflict,
    wire.REFUND_EXCEEDS: Conflict,
    wire.CARD_LOST: CardUnusable,
    wire.CARD_FROZEN: CardUnusable,
    wire.CARD_CANCELLED: CardUnusable,
    wire.INSUFFICIENT_BALANCE: InsufficientBalance,
}


class _TokenRejected(Exception):
    pass


class CitizenCardClient:
    def __init__(self, config: CitizenCardConfig, client_id: str, client_secret: str) -> None:
        self.config = config
        self.base = str(config.endpoint).rstrip("/")
        self._basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
        self._token: tuple[str, float] | None = None  # (access token, monotonic expiry)
        self._token_lock = threading.Lock()
        self.tokens_fetched = 0
        self._http = urllib3.PoolManager(
            timeout=urllib3.Timeout(
                connect=min(2.0, config.timeout_seconds), read=config.timeout_seconds
            ),
            retries=False,  # the dispatcher owns retries, with backoff and a breaker
        )

    def _send(
        self, path: str, body: bytes, headers: dict[str, str], timeout: float
    ) -> urllib3.BaseHTTPResponse:
        try:
            return self._http.request(
                "POST",
                f"{self.base}{path}",
                body=body,
                headers=headers,
                timeout=urllib3.Timeout(connect=2.0, read=timeout),
            )
        except urllib3.exceptions.TimeoutError as exc:
            raise PartnerTimeout(
                f"the citizen card platform did not answer {path} in time"
            ) from exc
        except urllib3.exceptions.HTTPError as exc:
            raise PartnerUnavailable(
                f"the citizen card platform is unreachable for {path}: {type(exc).__name__}"
            ) from exc

    def token(self, timeout: float, *, refresh: bool = False) -> str:
        """The cached access token, fetched again when expired or when ``refresh``."""
        with self._token_lock:
            now = time.monotonic()
            if not refresh and self._token and now < self._token[1]:
                return self._token[0]
            answer = self._send(
                "/oauth/token",
                urlencode({"grant_type": "client_credentials"}).encode(),
                {
                    "Authorization": f"Basic {self._basic}",
                    "Content-Type": "application/x-www-form-urlencoded",
                },
                timeout,
            )
            if answer.status >= 500:
                raise PartnerUnavailable(
                    f"the card platform's token endpoint answered {answer.status}"
                )
            try:
                doc = json.loads(answer.data)
            except ValueError as exc:
                raise PartnerUnavailable("the card platform sent a malformed token answer") from exc
            if answer.status in (400, 401) or not isinstance(doc, dict) or "error" in doc:
                error = doc.get("error", "") if isinstance(doc, dict) else ""
                raise PartnerError(
                    f"the citizen card platform refused our client credentials ({error})",
                    partner="citizen_card",
                    code=str(error),
                )
            try:
                token, lifetime = str(doc["access_token"]), float(doc["expires_in"])
            except (KeyError, TypeError, ValueError) as exc:
                raise PartnerUnavailable("the card platform's token answer lacks a token") from exc
            # renew a little before the platform's expiry, so no call carries a dying token
            skew = min(30.0, lifetime / 10)
            self._token = (token, now + lifetime - skew)
            self.tokens_fetched += 1
            return token

    def call(
        self,
        operation: str,
        payload: dict[str, Any],
        *,
        correlation_id: str = "",
        timeout: float | None = None,
    ) -> dict[str, Any]:
        timeout = timeout or self.config.timeout_seconds
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        started = time.perf_counter()
        log.info("citizen_card -> %s", operation, extra={"correlation_id": correlation_id})
        try:
            answer = self._authorised(operation, body, correlation_id, timeout, refresh=False)
        except _TokenRejected:
            # the platform may revoke or expire a token early: fetch a new one, once
            try:
                answer = self._authorised(operation, body, correlation_id, timeout, refresh=True)
            except _TokenRejected as exc:
                raise PartnerError(
                    "the citizen card platform refused a freshly issued token",
                    partner="citizen_card",
                    code="invalid_token",
                ) from exc
        log.info(
            "citizen_card <- %s %s in %.0f ms",
            operation,
            answer.status,
            (time.perf_counter() - started) * 1000,
            extra={"correlation_id": correlation_id},
        )
        if answer.status >= 500:
            raise PartnerUnavailable(
                f"the citizen card platform answered {answer.status} to {operation}"
            )
        try:
            doc = json.loads(answer.data)
            code = str(doc["code"])
        except (ValueError, KeyError, TypeError) as exc:
            raise PartnerUnavailable(
                f"the citizen card platform sent a malformed answer to {operation}"
            ) from exc
        if code != wire.OK:
            msg = f"the citizen card platform refused {operation}: {doc.get('msg', '')} ({code})"
            error = REFUSALS.get(code)
            if error is CardUnusable or error is InsufficientBalance:
                raise error(msg, partner="citizen_card", code=code)
            if error is not None:
                raise error(msg)
            raise PartnerError(msg, partner="citizen_card", code=code)
        data = doc.get("data")
        if not isinstance(data, dict):
            raise PartnerUnavailable(f"the citizen card platform sent no data for {operation}")
        return data

    def _authorised(
        self, operation: str, body: bytes, correlation_id: str, timeout: float, *, refresh: bool
    ) -> urllib3.BaseHTTPResponse:
        token = self.token(timeout, refresh=refresh)
        answer = self._send(
            f"/api/v1/{operation}",
            body,
            {
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json; charset=utf-8",
                "X-Request-Id": correlation_id,
            },
            timeout,
        )
        if answer.status == 401:
            raise _TokenRejected
        return answer


_PING_POOL = urllib3.PoolManager(retries=False)


def ping_endpoint(endpoint: str) -> bool:
    try:
        answer = _PING_POOL.request(
            "GET",
            f"{endpoint.rstrip('/')}/api/ping",
            timeout=urllib3.Timeout(connect=1.0, read=1.0),
        )
    except urllib3.exceptions.HTTPError:
        return False
    return answer.status == 200
