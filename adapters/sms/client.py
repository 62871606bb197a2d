"""The SMS gateway's HTTP client: signs requests, maps answers and failures to contracts."""

from __future__ import annotations

import json
import logging
import secrets as _secrets
import time
from typing import Any

import urllib3

from adapters.sms import wire
from adapters.sms.config import SmsConfig
from contracts.errors import PartnerError, PartnerTimeout, PartnerUnavailable
from contracts.masking import mask_text

log = logging.getLogger("adapters.sms")


class SmsClient:
    def __init__(self, config: SmsConfig, app_id: str, secret: str) -> None:
        self.config = config
        self.base = str(config.endpoint).rstrip("/")
        self._app_id = app_id
        self._secret = secret
        self._http = urllib3.PoolManager(retries=False)  # the caller owns retries

    def call(
        self, path: str, payload: dict[str, Any], *, correlation_id: str = "", timeout: float
    ) -> dict[str, Any]:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        timestamp, nonce = str(int(time.time())), _secrets.token_hex(12)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-Sms-AppId": self._app_id,
            "X-Sms-Timestamp": timestamp,
            "X-Sms-Nonce": nonce,
            "X-Sms-Signature": wire.sign(self._secret, "POST", path, timestamp, nonce, body),
            "X-Request-Id": correlation_id,
        }
        started = time.perf_counter()
        # the payload holds a phone number: never log it unmasked
        log.info("sms -> %s %s", path, mask_text(str(payload.get("mobile", ""))))
        try:
            answer = self._http.request(
                "POST",
                self.base + path,
                body=body,
                headers=headers,
                timeout=urllib3.Timeout(connect=min(2.0, timeout), read=timeout),
            )
        except urllib3.exceptions.TimeoutError as exc:
            raise PartnerTimeout(f"the SMS gateway did not answer {path} in time") from exc
        except urllib3.exceptions.HTTPError as exc:
            raise PartnerUnavailable(
                f"the SMS gateway is unreachable: {type(exc).__name__}"
            ) from exc
        log.info(
            "sms <- %s %s in %.0f ms", path, answer.status, (time.perf_counter() - started) * 1000
        )
        if answer.status >= 500:
            raise PartnerUnavailable(f"the SMS gateway answered {answer.status} to {path}")
        try:
            doc = json.loads(answer.data)
            code = str(doc["code"])
        except (ValueError, KeyError, TypeError) as exc:
            raise PartnerUnavailable(f"the SMS gateway sent a malformed answer to {path}") from exc
        if code != wire.OK:
            raise PartnerError(
                f"the SMS gateway refused {path}: {mask_text(str(doc.get('msg', '')))} ({code})",
                partner="sms",
                code=code,
            )
        data = doc.get("data")
        if not isinstance(data, dict):
            raise PartnerUnavailable(f"the SMS gateway sent no data for {path}")
        return data


_PING_POOL = urllib3.PoolManager(retries=False)


def ping_endpoint(endpoint: str) -> bool:
    try:
        answer = _PING_POOL.request(
            "GET",
            endpoint.rstrip("/") + wire.PING_PATH,
            timeout=urllib3.Timeout(connect=1.0, read=1.0),
        )
    except urllib3.exceptions.HTTPError:
        return False
    return answer.status == 200
