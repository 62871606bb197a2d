"""A protocol-faithful simulator of the city's SMS gateway, on loopback.

Checks each request's signature, timestamp and nonce as the gateway does, records
every accepted message (``messages``), answers a repeated ``request_id`` with the
first message without sending again, and keeps a delivery receipt per message:
``DELIVRD`` at once, ``UNDELIV`` for numbers in ``unreachable``. Faults are settable
from Python (``set_faults``) or over HTTP:

    curl -XPOST $SMS/_sim/faults -d '{"error_rate": 1.0}'
    curl -XPOST $SMS/_sim/messages            # what was sent (numbers masked)
"""

from __future__ import annotations

import datetime as _dt
import json
import random
import secrets as _secrets
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

from adapters.simkit import AdminBody, LoopbackSimulator
from adapters.sms import wire
from contracts.adapters import Faults
from contracts.masking import mask_text

CST = _dt.timezone(_dt.timedelta(hours=8))


class SmsSimulator(LoopbackSimulator):
    thread_name = "sms-sim"

    def __init__(self, hang_seconds: float = 3.0, seed: int | None = None) -> None:
        self.app_id = "govbus-" + _secrets.token_hex(4)
        self.api_secret = _secrets.token_urlsafe(24)
        self.hang_seconds = hang_seconds
        self.faults = Faults()
        self.url = ""
        self.push_url: str | None = None
        self.messages: list[dict[str, Any]] = []
        self.unreachable: set[str] = set()
        self._by_request: dict[str, dict[str, Any]] = {}
        self._nonces: set[str] = set()
        self._serial = 0
        self._lock = threading.Lock()
        self._random = random.Random(seed)  # noqa: S311 - fault injection, not security

    def secrets(self) -> dict[str, str]:
        return {
            "govbus/{stage}/adapters/sms": json.dumps(
                {"app_id": self.app_id, "secret": self.api_secret}
            )
        }

    def set_faults(self, faults: Faults) -> None:
        self.faults = faults

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()
            self._by_request.clear()
            self.unreachable.clear()

    def sent_to(self, mobile: str) -> list[dict[str, Any]]:
        with self._lock:
            return [m for m in self.messages if m["mobile"] == mobile]

    def sample_push(self) -> tuple[dict[str, str], bytes]:
        raise NotImplementedError("the SMS gateway pushes nothing to the bus")

    # --- HTTP -------------------------------------------------------------------

    def _dispatch(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("content-length") or 0)
        body = handler.rfile.read(length) if length else b""
        path = handler.path.split("?", 1)[0]
        if path.startswith("/_sim/"):
            return self.serve_admin(handler, path, body)
        faults = self.faults
        if faults.down:
            return self._send(handler, 503, b'{"code":"5030","msg":"down"}')
        if path == wire.PING_PATH:
            return self._send(handler, 200, b'{"code":"0","msg":"pong","data":{}}')
        if faults.latency_ms:
            time.sleep(faults.latency_ms / 1000)
        roll = self._random.random()
        if roll < faults.timeout_rate:
            time.sleep(self.hang_seconds)
        elif roll < faults.timeout_rate + faults.error_rate:
            return self._send(handler, 500, b'{"code":"5000","msg":"system busy"}')
        elif roll < faults.timeout_rate + faults.error_rate + faults.malformed_rate:
            return self._send(handler, 200, b"<html>502 Bad Gateway</html>")
        if method != "POST":
            return self._reply(handler, 405, "4050", "POST only")
        refusal = self._authenticate(handler, path, body)
        if refusal:
            return self._reply(handler, 401, "4010", refusal)
        try:
            doc = json.loads(body)
        except ValueError:
            return self._reply(handler, 400, "4000", "报文格式错误 not JSON")
        if path == wire.SEND_PATH:
            return self._reply(handler, 200, *self._accept(doc))
        if path == wire.STATUS_PATH:
            return self._reply(handler, 200, *self._status(doc))
        return self._reply(handler, 404, "4044", "no such method")

    def _authenticate(self, handler: BaseHTTPRequestHandler, path: str, body: bytes) -> str:
        ts = handler.headers.get("X-Sms-Timestamp", "")
        nonce = handler.headers.get("X-Sms-Nonce", "")
        if handler.headers.get("X-Sms-AppId") != self.app_id:
            return "未知应用 unknown app id"
        if not wire.signature_matches(
            self.api_secret,
            "POST",
            path,
            ts,
            nonce,
            body,
            handler.headers.get("X-Sms-Signature", ""),
        ):
            return "签名错误 bad signature"
        if not ts.isdigit() or abs(time.time() - int(ts)) > wire.TOLERANCE_SECONDS:
            return "时间戳过期 stale timestamp"
        with self._lock:
            if nonce in self._nonces:
                return "重复请求 nonce replayed"
            self._nonces.add(nonce)
        return ""

    def _reply(
        self,
        handler: BaseHTTPRequestHandler,
        status: int,
        code: str,
        msg: str,
        data: dict[str, Any] | None = None,
    ) -> None:
        answer: dict[str, Any] = {"code": code, "msg": msg}
        if data is not None:
            answer["data"] = data
        self._send(handler, status, json.dumps(answer, ensure_ascii=False).encode())

    def _accept(self, doc: dict[str, Any]):
        mobile = str(doc.get("mobile", ""))
        content = str(doc.get("content", ""))
        request_id = str(doc.get("request_id", ""))
        if not (len(mobile) == 11 and mobile.isdigit() and mobile.startswith("1")):
            return "4001", "号码无效 invalid mobile", None
        if not content or len(content) > 500:
            return "4002", "内容为空或过长 empty or too long", None
        if not request_id:
            return "4003", "缺少 request_id", None
        with self._lock:
            first = self._by_request.get(request_id)
            if first is not None:
                return wire.OK, "成功 (repeat request)", self._view(first)
            self._serial += 1
            now = _dt.datetime.now(CST).isoformat(timespec="seconds")
            message = {
                "msgid": f"SMS{self._serial:010d}",
                "request_id": request_id,
                "mobile": mobile,
                "content": f"【{doc.get('sign_name', '')}】{content}",
                "category": str(doc.get("category", "")),
                "biz_ref": str(doc.get("biz_ref", "")),
                "status": "UNDELIV" if mobile in self.unreachable else "DELIVRD",
                "done_time": now,
            }
            self.messages.append(message)
            self._by_request[request_id] = message
        return wire.OK, "成功", {**self._view(message), "status": "ACCEPTED"}

    @staticmethod
    def _view(message: dict[str, Any]) -> dict[str, Any]:
        return {
            "msgid": message["msgid"],
            "status": message["status"],
            "done_time": message["done_time"],
            "err": "用户不可达 unreachable" if message["status"] == "UNDELIV" else "",
        }

    def _status(self, doc: dict[str, Any]):
        with self._lock:
            found = next((m for m in self.messages if m["msgid"] == doc.get("msgid")), None)
        if found is None:
            return "4040", "无此短信 no such message", None
        return wire.OK, "成功", self._view(found)

    def _admin(self, path: str, doc: AdminBody) -> tuple[int, Any]:
        if path == "/_sim/messages":
            with self._lock:
                return 200, {
                    "messages": [
                        {
                            **m,
                            "mobile": mask_text(m["mobile"]),
                            "content": mask_text(m["content"]),
                        }
                        for m in self.messages
                    ]
                }
        return super()._admin(path, doc)
