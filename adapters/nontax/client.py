"""The non-tax platform's HTTP client: signs requests, maps answers to contracts' errors,
and reads the daily statement as a stream."""

from __future__ import annotations

import csv
import io
import json
import logging
import secrets
import time
from collections.abc import Iterator
from typing import Any

import urllib3

from adapters.nontax import wire
from adapters.nontax.config import NontaxConfig
from contracts.errors import (
    Conflict,
    NotFound,
    PartnerError,
    PartnerTimeout,
    PartnerUnavailable,
)
from contracts.payments import fen_of_text

log = logging.getLogger("adapters.nontax")


class NontaxClient:
    def __init__(self, config: NontaxConfig, app_id: str, app_secret: str) -> None:
        self.config = config
        self.base = str(config.endpoint).rstrip("/")
        self._app_id = app_id
        self._secret = app_secret
        self._http = urllib3.PoolManager(
            timeout=urllib3.Timeout(
                connect=min(2.0, config.timeout_seconds), read=config.timeout_seconds
            ),
            retries=False,  # the dispatcher owns retries, with backoff and a breaker
        )

    def _headers(self, method: str, path: str, body: bytes, correlation_id: str) -> dict[str, str]:
        timestamp = str(int(time.time()))
        nonce = secrets.token_hex(16)
        return {
            "Content-Type": "application/json; charset=utf-8",
            "X-App-Id": self._app_id,
            "X-Timestamp": timestamp,
            "X-Nonce": nonce,
            "X-Signature": wire.sign_request(self._secret, method, path, timestamp, nonce, body),
            "X-Request-Id": correlation_id,
        }

    def _request(
        self,
        method: str,
        path: str,
        body: bytes,
        *,
        correlation_id: str,
        read_timeout: float,
        stream: bool = False,
    ) -> urllib3.BaseHTTPResponse:
        try:
            return self._http.request(
                method,
                f"{self.base}{path}",
                body=body or None,
                headers=self._headers(method, path, body, correlation_id),
                timeout=urllib3.Timeout(connect=2.0, read=read_timeout),
                preload_content=not stream,
            )
        except urllib3.exceptions.TimeoutError as exc:
            raise PartnerTimeout(f"the non-tax platform did not answer {path} in time") from exc
        except urllib3.exceptions.HTTPError as exc:
            raise PartnerUnavailable(
                f"the non-tax platform is unreachable for {path}: {type(exc).__name__}"
            ) from exc

    def call(
        self,
        operation: str,
        payload: dict[str, Any],
        *,
        correlation_id: str = "",
        timeout: float | None = None,
    ) -> dict[str, Any]:
        path = f"/api/v1/{operation}"
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        started = time.perf_counter()
        log.info("nontax -> %s", operation, extra={"correlation_id": correlation_id})
        answer = self._request(
            "POST",
            path,
            body,
            correlation_id=correlation_id,
            read_timeout=timeout or self.config.timeout_seconds,
        )
        log.info(
            "nontax <- %s %s in %.0f ms",
            operation,
            answer.status,
            (time.perf_counter() - started) * 1000,
            extra={"correlation_id": correlation_id},
        )
        if answer.status >= 500:
            raise PartnerUnavailable(
                f"the non-tax platform answered {answer.status} to {operation}"
            )
        try:
            doc = json.loads(answer.data)
            code = str(doc["code"])
        except (ValueError, KeyError, TypeError) as exc:
            raise PartnerUnavailable(
                f"the non-tax platform sent a malformed answer to {operation}"
            ) from exc
        if code != wire.OK:
            msg = f"the non-tax platform refused {operation}: {doc.get('msg', '')} ({code})"
            if code == wire.NOT_FOUND:
                raise NotFound(msg)
            if code == wire.CONFLICT:
                raise Conflict(msg)
            raise PartnerError(msg, partner="nontax", code=code)
        data = doc.get("data")
        if not isinstance(data, dict):
            raise PartnerUnavailable(f"the non-tax platform sent no data for {operation}")
        return data

    def statement_rows(self, day: str, *, correlation_id: str = "") -> Iterator[dict[str, str]]:
        """Yield the statement's rows as they arrive; memory stays flat whatever its size.

        The response is read line by line off the (chunked) body; the trailer's count and
        sum are checked at the end, so a truncated download raises instead of passing
        for a complete statement.
        """
        path = f"/api/v1/statements/{day}"
        log.info("nontax -> statement %s", day, extra={"correlation_id": correlation_id})
        answer = self._request(
            "GET",
            path,
            b"",
            correlation_id=correlation_id,
            read_timeout=self.config.statement_read_timeout_seconds,
            stream=True,
        )
        complete = False
        try:
            if answer.status >= 500:
                raise PartnerUnavailable(f"the non-tax platform answered {answer.status} to {path}")
            if answer.status != 200 or "text/csv" not in answer.headers.get("content-type", ""):
                self._refusal(answer, path)
            answer.auto_close = False  # the text wrapper below closes it
            text = io.TextIOWrapper(answer, encoding="utf-8", newline="")  # type: ignore[arg-type]
            yield from self._parse(csv.reader(text), day)
            complete = True
            log.info(
                "nontax <- statement %s complete", day, extra={"correlation_id": correlation_id}
            )
        except urllib3.exceptions.TimeoutError as exc:
            raise PartnerTimeout(f"the statement of {day} stopped arriving") from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise PartnerUnavailable(
                f"the statement of {day} broke off: {type(exc).__name__}"
            ) from exc
        finally:
            if complete:
                answer.drain_conn()  # the body's closing chunk, so the connection is reusable
                answer.release_conn()
            else:  # abandoned or broken mid-body: the connection cannot be reused
                answer.close()

    @staticmethod
    def _refusal(answer: urllib3.BaseHTTPResponse, path: str) -> None:
        try:
            doc = json.loads(answer.read())
            code, msg = str(doc["code"]), str(doc.get("msg", ""))
        except (ValueError, KeyError, TypeError) as exc:
            raise PartnerUnavailable(f"the non-tax platform sent no statement for {path}") from exc
        if code == wire.NOT_FOUND:
            raise NotFound(f"the non-tax platform has no statement: {msg}")
        raise PartnerError(
            f"the non-tax platform refused {path}: {msg} ({code})", partner="nontax", code=code
        )

    @staticmethod
    def _parse(reader: Iterator[list[str]], day: str) -> Iterator[dict[str, str]]:
        header = next(reader, None)
        if header is None or tuple(header) != wire.STATEMENT_HEADER:
            raise PartnerUnavailable(f"the statement of {day} does not start with its header")
        names = wire.STATEMENT_HEADER
        count = total = 0
        for row in reader:
            if row and row[0] == wire.STATEMENT_TRAILER:
                try:
                    declared_count, declared_total = fen_of_text(row[1]), fen_of_text(row[2])
                except (IndexError, ValueError) as exc:
                    raise PartnerUnavailable(f"the statement of {day} has a bad trailer") from exc
                if (declared_count, declared_total) != (count, total):
                    raise PartnerUnavailable(
                        f"the statement of {day} declares {declared_count} lines and "
                        f"{declared_total} fen but held {count} lines and {total} fen"
                    )
                return
            if len(row) != len(names):
                raise PartnerUnavailable(
                    f"line {count + 2} of the statement of {day} has {len(row)} fields, "
                    f"not {len(names)}"
                )
            fields = dict(zip(names, row, strict=True))
            try:
                total += fen_of_text(fields["amount_fen"])
            except ValueError as exc:
                raise PartnerUnavailable(
                    f"line {count + 2} of the statement of {day} has a bad amount"
                ) from exc
            count += 1
            yield fields
        raise PartnerUnavailable(
            f"the statement of {day} ended after {count} lines without its trailer (truncated)"
        )


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
