"""The EMS HTTP client: signs requests, maps answers and failures to contracts."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import urllib3

from adapters.ems import wire
from adapters.ems.config import EmsConfig
from contracts.errors import PartnerError, PartnerTimeout, PartnerUnavailable

log = logging.getLogger("adapters.ems")


class EmsClient:
    def __init__(self, config: EmsConfig, app_key: str, secret: str) -> None:
        self.config = config
        self.base = str(config.endpoint).rstrip("/")
        self._app_key = app_key
        self._secret = secret
        self._http = urllib3.PoolManager(
            timeout=urllib3.Timeout(
                connect=min(2.0, config.timeout_seconds), read=config.timeout_seconds
            ),
            retries=False,  # the dispatcher owns retries, with backoff and a breaker
        )

    def call(
        self,
        method: str,
        payload: dict[str, Any],
        *,
        correlation_id: str = "",
        timeout: float | None = None,
    ) -> dict[str, Any]:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-App-Key": self._app_key,
            "X-Signature": wire.sign(body, self._secret),
            "X-Request-Id": correlation_id,
        }
        started = time.perf_counter()
        log.info("ems -> %s", method, extra={"correlation_id": correlation_id})
        try:
            answer = self._http.request(
                "POST",
                f"{self.base}/api/{method}",
                body=body,
                headers=headers,
                timeout=urllib3.Timeout(connect=2.0, read=timeout or self.config.timeout_seconds),
            )
        except urllib3.exceptions.TimeoutError as exc:
            raise PartnerTimeout(f"EMS did not answer {method} in time") from exc
        except urllib3.exceptions.HTTPError as exc:
            raise PartnerUnavailable(f"EMS unreachable for {method}: {type(exc).__name__}") from exc
        elapsed = (time.perf_counter() - started) * 1000
        log.info(
            "ems <- %s %s in %.0f ms",
            method,
            answer.status,
            elapsed,
            extra={"correlation_id": correlation_id},
        )
        if answer.status >= 500:
            raise PartnerUnavailable(f"EMS answered {answer.status} to {method}")
        try:
            doc = json.loads(answer.data)
            success = doc["success"]
            code = str(doc["code"])
        except (ValueError, KeyError, TypeError) as exc:
            raise PartnerUnavailable(f"EMS sent a malformed answer to {method}") from exc
        if answer.status >= 400 or success is not True:
            raise PartnerError(
                f"EMS refused {method}: {doc.get('msg', '')} ({code})", partner="ems", code=code
            )
        data = doc.get("data")
        if not isinstance(data, dict):
            raise PartnerUnavailable(f"EMS sent no data for {method}")
        return data


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
