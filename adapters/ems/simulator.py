"""A protocol-faithful EMS simulator on loopback.

Speaks the courier API (signed JSON requests, waybill numbers, traces) and pushes
signed tracking updates to the bus's webhook URL. Fault injection is settable at
run time, from Python (``set_faults``) or over HTTP (``POST /_sim/faults``), so a
person running ``make run`` can break it with curl:

    curl -XPOST $EMS/_sim/faults -d '{"error_rate": 1.0}'
    curl -XPOST $EMS/_sim/advance -d '{"mail_no": "1100000000017", "to": "delivered"}'

A rotated push secret reaches it as it reaches the real EMS, from operations: on the
local stack ``govbus webhooks rotate ems`` posts the new one to ``/_sim/push-secret``
(``{"secret": "..."}``), and the simulator signs every later push with it.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import random
import re
import secrets as _secrets
import threading
import time
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar

from adapters.ems import wire
from adapters.simkit import AdminBody, LoopbackSimulator, SimRefused, UnknownRecord
from contracts.adapters import Faults
from contracts.delivery import TrackingState

CST = _dt.timezone(_dt.timedelta(hours=8))
FORWARD = [
    TrackingState.accepted,
    TrackingState.in_transit,
    TrackingState.out_for_delivery,
    TrackingState.delivered,
]


class EmsSimulator(LoopbackSimulator):
    thread_name = "ems-sim"

    def __init__(self, hang_seconds: float = 3.0, seed: int | None = None) -> None:
        self.app_key = "govbus-" + _secrets.token_hex(4)
        self.api_secret = _secrets.token_urlsafe(24)
        self.push_secret = _secrets.token_urlsafe(24)
        self.hang_seconds = hang_seconds
        self.faults = Faults()
        self.url = ""
        self.push_url: str | None = None
        self.calls = 0  # business calls that reached the simulator (ping excluded)
        self.waybills: dict[str, dict[str, Any]] = {}
        self._by_order: dict[str, str] = {}
        self._serial = 0
        self._lock = threading.Lock()
        self._random = random.Random(seed)  # noqa: S311 - fault injection, not security

    # --- lifecycle -------------------------------------------------------------

    def secrets(self) -> dict[str, str]:
        return {
            "govbus/{stage}/adapters/ems": json.dumps(
                {"app_key": self.app_key, "secret": self.api_secret}
            ),
            "govbus/{stage}/webhooks/ems": json.dumps({"secrets": [self.push_secret]}),
        }

    def set_faults(self, faults: Faults) -> None:
        self.faults = faults

    # --- HTTP -------------------------------------------------------------------

    def _dispatch(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("content-length") or 0)
        body = handler.rfile.read(length) if length else b""
        path = handler.path.split("?", 1)[0]
        if path.startswith("/_sim/"):
            return self.serve_admin(handler, path, body)
        faults = self.faults
        if faults.down:
            return self._send(handler, 503, b'{"success":false,"code":"9999","msg":"down"}')
        if path == "/api/ping":
            return self._send(handler, 200, b'{"success":true,"code":"0000","msg":"pong"}')
        with self._lock:
            self.calls += 1
        if faults.latency_ms:
            time.sleep(faults.latency_ms / 1000)
        roll = self._random.random()
        if roll < faults.timeout_rate:
            time.sleep(self.hang_seconds)
        elif roll < faults.timeout_rate + faults.error_rate:
            return self._send(handler, 500, b'{"success":false,"code":"9000","msg":"system busy"}')
        elif roll < faults.timeout_rate + faults.error_rate + faults.malformed_rate:
            return self._send(handler, 200, b"<html>502 Bad Gateway</html>")
        if method != "POST":
            return self._send(handler, 405, b'{"success":false,"code":"9001","msg":"POST only"}')
        if handler.headers.get("X-App-Key") != self.app_key or not wire.signature_matches(
            body, self.api_secret, handler.headers.get("X-Signature", "")
        ):
            return self._reply(handler, 401, False, "S0001", "签名错误 bad signature")
        try:
            doc = json.loads(body)
        except ValueError:
            return self._reply(handler, 400, False, "P0001", "报文格式错误 not JSON")
        route = {
            "/api/waybill/create": self._create,
            "/api/waybill/cancel": self._cancel,
            "/api/waybill/trace": self._trace,
        }.get(path)
        if route is None:
            return self._reply(handler, 404, False, "P0404", "no such method")
        status, ok, code, msg, data = route(doc)
        self._reply(handler, status, ok, code, msg, data)

    def _reply(
        self,
        handler: BaseHTTPRequestHandler,
        status: int,
        ok: bool,
        code: str,
        msg: str,
        data: dict[str, Any] | None = None,
    ) -> None:
        answer: dict[str, Any] = {"success": ok, "code": code, "msg": msg}
        if data is not None:
            answer["data"] = data
        self._send(handler, status, json.dumps(answer, ensure_ascii=False).encode())

    # --- the courier's business -------------------------------------------------------

    def _create(self, doc: dict[str, Any]):
        order = str(doc.get("logistics_order_no") or "")
        receiver = doc.get("receiver") or {}
        if not order:
            return 400, False, "B0002", "缺少订单号 logistics_order_no missing", None
        if not receiver.get("name") or not receiver.get("address"):
            return 200, False, "B0001", "收件人信息不完整 receiver incomplete", None
        if not re.fullmatch(r"1[3-9][0-9]{9}|0[0-9]{9,11}", str(receiver.get("mobile", ""))):
            return 200, False, "B0003", "收件人电话无效 receiver phone invalid", None
        with self._lock:
            existing = self._by_order.get(order)
            if existing and self.waybills[existing]["state"] != TrackingState.cancelled:
                return (
                    200,
                    True,
                    wire.OK,
                    "成功 (repeat order)",
                    {"mail_no": existing, "logistics_order_no": order},
                )
            self._serial += 1
            mail_no = f"11{self._serial:011d}"
            self.waybills[mail_no] = {
                "order": order,
                "state": TrackingState.created,
                "traces": [],
                "receiver": receiver,
            }
            self._by_order[order] = mail_no
        return 200, True, wire.OK, "成功", {"mail_no": mail_no, "logistics_order_no": order}

    def _cancel(self, doc: dict[str, Any]):
        with self._lock:
            waybill = self.waybills.get(str(doc.get("mail_no")))
            if waybill is None:
                return 200, False, "B0404", "运单不存在 no such waybill", None
            if waybill["state"] != TrackingState.created:
                return 200, False, "B0101", "已揽收，不能撤单 already picked up", None
            waybill["state"] = TrackingState.cancelled
        return (
            200,
            True,
            wire.OK,
            "成功",
            {"mail_no": doc["mail_no"], "logistics_order_no": waybill["order"]},
        )

    def _trace(self, doc: dict[str, Any]):
        mail_no = str(doc.get("mail_no"))
        with self._lock:
            waybill = self.waybills.get(mail_no)
            if waybill is None:
                return 200, False, "B0404", "运单不存在 no such waybill", None
            traces = list(waybill["traces"])
        return (
            200,
            True,
            wire.OK,
            "成功",
            {"mail_no": mail_no, "logistics_order_no": waybill["order"], "traces": traces},
        )

    # --- tracking pushes ----------------------------------------------------------------

    def _trace_for(self, mail_no: str, state: TrackingState) -> dict[str, Any]:
        code = wire.OP_CODE_OF[state]
        return {
            "op_code": code,
            "op_time": _dt.datetime.now(CST).isoformat(timespec="seconds"),
            "op_org_city": "福州市",
            "op_desc": wire.OP_TEXT[code],
        }

    def push_body(
        self, mail_no: str, trace: dict[str, Any], order: str | None = None
    ) -> tuple[dict[str, str], bytes]:
        """A signed push for ``mail_no``; ``order`` names another case than the waybill's
        own (as a confused or compromised sender would)."""
        if order is None:
            order = self.waybills[mail_no]["order"] if mail_no in self.waybills else "CASE-SAMPLE"
        body = json.dumps(
            {
                "push_id": uuid.uuid4().hex,
                "push_time": int(time.time()),
                "mail_no": mail_no,
                "logistics_order_no": order,
                **trace,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-App-Key": self.app_key,
            "X-Signature": wire.sign(body, self.push_secret),
        }
        return headers, body

    def sample_push(self) -> tuple[dict[str, str], bytes]:
        return self.push_body(
            "1100000000000", self._trace_for("1100000000000", TrackingState.accepted)
        )

    def advance(self, mail_no: str, to: TrackingState = TrackingState.delivered) -> list[int]:
        """Move a waybill forward to ``to``, pushing every state on the way.

        Honours the ``duplicate_pushes`` and ``out_of_order`` faults. Returns the HTTP
        statuses the bus answered, in sending order.
        """
        with self._lock:
            waybill = self.waybills.get(mail_no)
            if waybill is None:
                raise UnknownRecord(f"no waybill {mail_no}: create one first (make demo)")
            current = waybill["state"]
            states = [s for s in FORWARD if current.rank < s.rank <= to.rank]
            if to == TrackingState.returned:
                states = [s for s in FORWARD[:2] if current.rank < s.rank] + [to]
            pushes = []
            for state in states:
                trace = self._trace_for(mail_no, state)
                waybill["traces"].append(trace)
                pushes.append(self.push_body(mail_no, trace))
            waybill["state"] = to
        if self.faults.duplicate_pushes:
            pushes = [p for p in pushes for _ in (0, 1)]
        if self.faults.out_of_order:
            self._random.shuffle(pushes)
        return [self._push(headers, body) for headers, body in pushes]

    def _push(self, headers: dict[str, str], body: bytes) -> int:
        if not self.push_url:
            raise RuntimeError("the EMS simulator has no push_url to push to")
        if not self.push_url.startswith(("http://", "https://")):
            raise RuntimeError(f"not an HTTP push_url: {self.push_url}")
        request = urllib.request.Request(  # noqa: S310 - scheme checked above
            self.push_url, data=body, headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - loopback
                return answer.status
        except urllib.error.HTTPError as exc:
            return exc.code

    # --- admin over HTTP ------------------------------------------------------------------

    admin_examples: ClassVar[dict[str, str]] = {
        "/_sim/advance": '{"mail_no": "1100000000017", "to": "delivered"}',
        "/_sim/push-secret": '{"secret": "whsec_..."}',
    }

    def _admin(self, path: str, doc: AdminBody) -> tuple[int, Any]:
        if path == "/_sim/push-secret":  # ops handing over a rotated secret
            secret = doc.text("secret")
            if len(secret) < 16:
                raise SimRefused("'secret' is the new push secret (16 characters or more)")
            with self._lock:
                self.push_secret = secret
            digest = hashlib.sha256(secret.encode()).hexdigest()[:12]
            return 200, {"signing_with": f"sha256:{digest}"}
        if path == "/_sim/advance":
            to = doc.choice("to", TrackingState, TrackingState.delivered)
            statuses = self.advance(doc.text("mail_no"), to)
            return 200, {"pushed": statuses}
        if path == "/_sim/state":
            with self._lock:
                return 200, {
                    "calls": self.calls,
                    "waybills": {
                        k: {"order": v["order"], "state": v["state"]}
                        for k, v in self.waybills.items()
                    },
                }
        return super()._admin(path, doc)
