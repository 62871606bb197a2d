"""A protocol-faithful non-tax payment platform on loopback.

Any client of the protocol can use it, not only our adapter (docs/adapters/nontax.md
documents every endpoint):

* ``/api/v1/...``: signed JSON requests (orders, refunds) and the streamed daily
  statement, exactly as :mod:`adapters.nontax.wire` describes;
* ``GET /pay/{payment_code}``: a cashier page a browser pays through, and
  ``POST /pay/{payment_code}`` (form or JSON ``channel=bank_card|mobile_wallet|citizen_card``,
  ``card_no`` for the citizen card) that completes the payment;
* signed notifications POSTed to ``push_url`` on a bounded retry schedule until
  acknowledged, with duplicates and out-of-order delivery on demand;
* ``/_sim/...``: the operator's handles (faults, retry schedule, held notifications,
  statement seeding), so a person running ``make run`` can drive it with curl:

      curl -XPOST $NONTAX/_sim/faults -d '{"duplicate_pushes": true}'
      curl -XPOST $NONTAX/pay/35012026112700000001 -d 'channel=bank_card'
      curl -XPOST $NONTAX/_sim/statement -d '{"day": "2026-11-27", "synthetic_rows": 1000000}'
"""

from __future__ import annotations

import datetime as _dt
import heapq
import html
import json
import math
import random
import re
import secrets as _secrets
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar
from urllib.parse import parse_qs, parse_qsl, urlencode

from adapters.nontax import wire
from adapters.simkit import AdminBody, LoopbackSimulator, SimRefused, UnknownRecord
from contracts.adapters import Faults
from contracts.payments import yuan

ORDER_NO = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# the platform's bounded retry schedule (seconds after the previous attempt), after
# GOV.UK Pay's; it must fit inside the adapter's notify window (2 h by default)
DEFAULT_RETRY_SCHEDULE = (15.0, 60.0, 300.0, 1800.0, 3600.0)
SYNTHETIC_AMOUNTS = (500, 1000, 1500, 2000, 5000, 12000)  # fee schedule fen, cycled
SYNTHETIC_CHANNELS = ("UNIONPAY", "WALLET", "CITIZEN_CARD")
CHUNK_BYTES = 64 * 1024


def _keypair() -> tuple[bytes, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public.decode()


def synthetic_row(day: str, i: int, rows: int) -> tuple[str, ...]:
    """Row ``i`` of a synthetic statement of ``rows`` lines for ``day`` (deterministic,
    so a benchmark or test can build the matching local orders without the platform)."""
    compact = day.replace("-", "")
    seconds = i * 86400 // max(rows, 1)
    return (
        f"SYN{compact}{i:010d}",  # order_no
        f"3501{compact}{i:08d}",  # payment_code, 20 digits
        f"NT{compact}{i:012d}",  # trade_no
        str(SYNTHETIC_AMOUNTS[i % len(SYNTHETIC_AMOUNTS)]),  # amount_fen
        SYNTHETIC_CHANNELS[i % len(SYNTHETIC_CHANNELS)],
        f"{day} {seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}",
        f"FJ{compact}{i:010d}",  # receipt_no
    )


# the most rows a statement is made of (a day of a large city is ~1e6)
MAX_SYNTHETIC_ROWS = 10**8


class Notification:
    """One payment notification: the same signed bytes on every attempt."""

    def __init__(self, notify_id: str, order_no: str, body: bytes) -> None:
        self.notify_id = notify_id
        self.order_no = order_no
        self.body = body
        self.attempts = 0
        self.acked = False
        self.statuses: list[int] = []


class NontaxSimulator(LoopbackSimulator):
    thread_name = "nontax-sim"

    def __init__(self, hang_seconds: float = 3.0, seed: int | None = None) -> None:
        self.app_id = "govbus-" + _secrets.token_hex(4)
        self.app_secret = _secrets.token_urlsafe(32)
        self._private_pem, self.public_key_pem = _keypair()
        self.hang_seconds = hang_seconds
        self.faults = Faults()
        self.url = ""
        self.push_url: str | None = None
        self.calls = 0  # API calls that reached the simulator (ping and cashier excluded)
        self.orders: dict[str, dict[str, Any]] = {}
        self._by_code: dict[str, str] = {}
        self._serial = 0
        self._lock = threading.RLock()
        self._wake = threading.Condition(self._lock)
        self._random = random.Random(seed)  # noqa: S311 - fault injection, not security
        self._nonces: dict[str, float] = {}
        # notifications
        self.retry_schedule: tuple[float, ...] = DEFAULT_RETRY_SCHEDULE
        self.strict_ack = False  # True: only HTTP 200 with body "success" acknowledges
        self.notifications: dict[str, Notification] = {}
        self.deliveries: list[tuple[str, int]] = []  # (notify_id, HTTP status), in order
        self._held: list[str] = []
        self._queue: list[tuple[float, int, str]] = []
        self._seq = 0
        self._running = False
        # statements
        self.synthetic_rows: dict[str, int] = {}
        self.extra_lines: dict[str, list[tuple[str, ...]]] = {}
        self.amount_overrides: dict[str, int] = {}
        self.duplicate_lines: set[str] = set()
        self.missing_lines: set[str] = set()  # paid orders the statement leaves out
        self.statements_finished: Counter[str] = Counter()
        # a download that breaks off: the body ends cleanly after this many lines, no trailer
        self.truncate_statement_after: int | None = None
        # a download that pauses: after this many lines the body waits (flushed) until
        # ``statement_gate`` is set, or 10 s: a test can then see what a reader yields
        # while the platform has not finished producing the statement
        self.hold_statement_after: int | None = None
        self.statement_gate = threading.Event()
        self.card_charges: dict[str, int] = {}  # citizen card no -> fen charged (own ledger)

    # --- lifecycle -------------------------------------------------------------

    def start(self) -> str:
        url = super().start()
        with self._lock:
            self._running = True
        threading.Thread(target=self._deliver_forever, daemon=True, name="nontax-notify").start()
        return url

    def stop(self) -> None:
        with self._wake:
            self._running = False
            self._wake.notify_all()
        super().stop()

    def secrets(self) -> dict[str, str]:
        return {
            "govbus/{stage}/adapters/nontax": json.dumps(
                {"app_id": self.app_id, "app_secret": self.app_secret}
            ),
            # the platform's public key verifies its notifications
            "govbus/{stage}/webhooks/nontax": json.dumps({"secrets": [self.public_key_pem]}),
        }

    def settings(self) -> dict[str, str]:
        """The settings a stack that talks to this simulator needs (as its template's)."""
        return {"GOVBUS_NONTAX_APP_ID": self.app_id}

    def set_faults(self, faults: Faults) -> None:
        self.faults = faults

    def set_retry_schedule(self, seconds: list[float] | tuple[float, ...]) -> None:
        self.retry_schedule = tuple(float(s) for s in seconds)

    # --- HTTP -------------------------------------------------------------------

    def _dispatch(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("content-length") or 0)
        body = handler.rfile.read(length) if length else b""
        path, _, query = handler.path.partition("?")
        if path.startswith("/_sim/"):
            return self.serve_admin(handler, path, body)
        faults = self.faults
        if faults.down:
            return self._reply(handler, 503, "9999", "系统维护 down")
        if path == "/api/ping":
            return self._reply(handler, 200, wire.OK, "pong", {})
        if path.startswith("/pay/"):
            return self._cashier(handler, method, path[len("/pay/") :], body)
        with self._lock:
            self.calls += 1
        if faults.latency_ms:
            time.sleep(faults.latency_ms / 1000)
        roll = self._random.random()
        if roll < faults.timeout_rate:
            time.sleep(self.hang_seconds)
        elif roll < faults.timeout_rate + faults.error_rate:
            return self._reply(handler, 500, "9000", "系统繁忙 system busy")
        elif roll < faults.timeout_rate + faults.error_rate + faults.malformed_rate:
            return self._send(handler, 200, b"<html>502 Bad Gateway</html>", "text/html")
        refusal = self._authenticate(handler, method, body)
        if refusal:
            return self._reply(handler, 401, wire.BAD_SIGNATURE, refusal)
        if method == "GET" and path.startswith("/api/v1/statements/"):
            return self._statement(handler, path.rsplit("/", 1)[-1], parse_qs(query))
        if method != "POST":
            return self._reply(handler, 405, "4005", "POST only")
        try:
            doc = json.loads(body)
            if not isinstance(doc, dict):
                raise ValueError("not an object")
        except ValueError:
            return self._reply(handler, 400, "4000", "报文格式错误 body is not a JSON object")
        route = {
            "/api/v1/orders/create": self._create,
            "/api/v1/orders/query": self._query,
            "/api/v1/orders/close": self._close,
            "/api/v1/refunds/create": self._refund,
        }.get(path)
        if route is None:
            return self._reply(handler, 404, "4040", "no such method")
        code, msg, data = route(doc)
        self._reply(handler, 200, code, msg, data)

    def _authenticate(self, handler: BaseHTTPRequestHandler, method: str, body: bytes) -> str:
        headers = handler.headers
        timestamp, nonce = headers.get("X-Timestamp", ""), headers.get("X-Nonce", "")
        if headers.get("X-App-Id") != self.app_id:
            return "未知应用 unknown X-App-Id"
        if not wire.request_signature_matches(
            self.app_secret,
            method,
            handler.path,
            timestamp,
            nonce,
            body,
            headers.get("X-Signature", ""),
        ):
            return "签名错误 bad signature"
        now = time.time()
        try:
            if abs(now - int(timestamp)) > wire.REQUEST_TOLERANCE_SECONDS:
                return "时间戳过期 stale X-Timestamp"
        except ValueError:
            return "时间戳无效 X-Timestamp is not unix seconds"
        with self._lock:
            if nonce in self._nonces:
                return "重复请求 X-Nonce replayed"
            self._nonces[nonce] = now
            if len(self._nonces) > 10_000:
                cutoff = now - wire.REQUEST_TOLERANCE_SECONDS
                self._nonces = {n: t for n, t in self._nonces.items() if t >= cutoff}
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

    # --- orders and refunds ---------------------------------------------------------

    def _view(self, order: dict[str, Any]) -> dict[str, Any]:
        view = {k: v for k, v in order.items() if not k.startswith("_")}
        view["pay_url"] = f"{self.url}/pay/{order['payment_code']}"
        return view

    def _create(self, doc: dict[str, Any]):
        order_no = str(doc.get("order_no") or "")
        amount = doc.get("amount_fen")
        if not ORDER_NO.match(order_no):
            return "4000", "订单号无效 order_no must be 1-32 letters, digits, _ or -", None
        if type(amount) is not int or not 0 < amount <= 10**11:
            return "4000", "金额无效 amount_fen must be a positive integer of fen", None
        if not doc.get("payer_code"):
            return "4000", "缺少缴款人 payer_code missing", None
        with self._lock:
            existing = self.orders.get(order_no)
            if existing is not None:
                if (existing["amount_fen"], existing["_payer_code"]) != (amount, doc["payer_code"]):
                    return wire.CONFLICT, "订单号已存在 order_no exists with other terms", None
                return wire.OK, "成功 (repeat order)", self._view(existing)
            self._serial += 1
            today = _dt.datetime.now(wire.CST).strftime("%Y%m%d")
            code = f"3501{today}{self._serial:08d}"
            order = {
                "order_no": order_no,
                "payment_code": code,
                "amount_fen": amount,
                "status": "WAIT_PAY",
                "subject": str(doc.get("subject", "")),
                "channel": "",
                "paid_time": "",
                "receipt_no": "",
                "trade_no": "",
                "refunded_fen": 0,
                "_payer_code": str(doc["payer_code"]),
                "_refunds": {},
            }
            self.orders[order_no] = order
            self._by_code[code] = order_no
            return wire.OK, "成功", self._view(order)

    def _query(self, doc: dict[str, Any]):
        with self._lock:
            order = self.orders.get(str(doc.get("order_no")))
            if order is None:
                return wire.NOT_FOUND, "订单不存在 no such order", None
            return wire.OK, "成功", self._view(order)

    def _close(self, doc: dict[str, Any]):
        with self._lock:
            order = self.orders.get(str(doc.get("order_no")))
            if order is None:
                return wire.NOT_FOUND, "订单不存在 no such order", None
            if order["status"] not in ("WAIT_PAY", "CLOSED"):
                return wire.CONFLICT, "订单已支付，不能关闭 paid orders cannot be closed", None
            order["status"] = "CLOSED"
            return wire.OK, "成功", self._view(order)

    def _refund(self, doc: dict[str, Any]):
        refund_no = str(doc.get("refund_no") or "")
        amount = doc.get("amount_fen")
        if not ORDER_NO.match(refund_no):
            return "4000", "退款号无效 refund_no must be 1-32 letters, digits, _ or -", None
        if type(amount) is not int or amount <= 0:
            return "4000", "金额无效 amount_fen must be a positive integer of fen", None
        with self._lock:
            order = self.orders.get(str(doc.get("order_no")))
            if order is None:
                return wire.NOT_FOUND, "订单不存在 no such order", None
            done = order["_refunds"].get(refund_no)
            if done is not None:
                if done["amount_fen"] != amount:
                    return wire.CONFLICT, "退款号已使用 refund_no used with another amount", None
                return wire.OK, "成功 (repeat refund)", {**done, "status": order["status"]}
            if order["status"] not in ("PAID", "PART_REFUNDED"):
                return wire.CONFLICT, "订单未支付 only a paid order can be refunded", None
            if order["refunded_fen"] + amount > order["amount_fen"]:
                return wire.CONFLICT, "退款金额超过可退金额 refund exceeds what is left", None
            order["refunded_fen"] += amount
            order["status"] = (
                "REFUNDED" if order["refunded_fen"] == order["amount_fen"] else "PART_REFUNDED"
            )
            done = {
                "order_no": order["order_no"],
                "refund_no": refund_no,
                "amount_fen": amount,
                "refund_time": wire.platform_time(_dt.datetime.now(wire.CST)),
                "refunded_fen": order["refunded_fen"],
            }
            order["_refunds"][refund_no] = done
            return wire.OK, "成功", {**done, "status": order["status"]}

    # --- paying ---------------------------------------------------------------------

    def pay(
        self,
        order: str,
        channel: str = "bank_card",
        *,
        card_no: str = "",
        paid_at: _dt.datetime | None = None,
    ) -> dict[str, Any]:
        """Complete a payment of ``order`` (order number or payment code) by ``channel``,
        as the payer's bank, wallet or citizen card would, and notify the bus.

        Raises ``KeyError`` for an unknown order and ``ValueError`` when it cannot be paid.
        """
        code = wire.CHANNEL_OF.get(channel) or channel  # contract name or platform code
        if code not in wire.CHANNELS:
            raise ValueError(f"unknown channel {channel!r}")
        if code == "CITIZEN_CARD" and not re.fullmatch(r"[0-9]{16,19}", card_no):
            raise ValueError("a citizen card payment needs the card_no (16-19 digits)")
        moment = paid_at or _dt.datetime.now(wire.CST)
        with self._lock:
            order_no = self._by_code.get(order, order)
            record = self.orders[order_no]
            if record["status"] != "WAIT_PAY":
                raise ValueError(f"order {order_no} is {record['status']}, not awaiting payment")
            self._serial += 1
            record.update(
                status="PAID",
                channel=code,
                paid_time=wire.platform_time(moment),
                trade_no=f"NT{moment.astimezone(wire.CST):%Y%m%d}{self._serial:012d}",
                receipt_no=f"FJ{moment.astimezone(wire.CST):%Y%m%d}{self._serial:010d}",
            )
            if code == "CITIZEN_CARD":
                self.card_charges[card_no] = (
                    self.card_charges.get(card_no, 0) + record["amount_fen"]
                )
            view = self._view(record)
        self.notify(order_no)
        return view

    def _cashier(self, handler: BaseHTTPRequestHandler, method: str, code: str, body: bytes):
        with self._lock:
            order_no = self._by_code.get(code)
            record = dict(self.orders[order_no]) if order_no else None
        if record is None:
            return self._reply(handler, 404, wire.NOT_FOUND, "缴款码不存在 no such payment code")
        if method == "GET":
            page = (
                "<!doctype html><meta charset=utf-8><title>缴款 pay</title>"
                f"<h1>缴款码 {html.escape(code)}</h1>"
                f"<p>{html.escape(record['subject'])}: {yuan(record['amount_fen'])} 元</p>"
                f"<p>状态 status: {html.escape(record['status'])}</p>"
                f'<form method=post action="/pay/{html.escape(code)}">'
                "<select name=channel><option value=bank_card>银行卡 bank card"
                "<option value=mobile_wallet>移动支付 mobile wallet"
                "<option value=citizen_card>市民卡 citizen card</select>"
                " <input name=card_no placeholder='市民卡号 card no'>"
                " <button>支付 pay</button></form>"
            )
            return self._send(handler, 200, page.encode(), "text/html; charset=utf-8")
        try:
            text = body.decode("utf-8")
            doc = json.loads(text) if text.lstrip().startswith("{") else dict(parse_qsl(text))
            view = self.pay(
                code, str(doc.get("channel", "bank_card")), card_no=str(doc.get("card_no", ""))
            )
        except (UnicodeDecodeError, ValueError, KeyError) as exc:
            return self._reply(handler, 409, wire.CONFLICT, f"不能支付 cannot pay: {exc}")
        return self._reply(handler, 200, wire.OK, "支付成功 paid", view)

    # --- notifications --------------------------------------------------------------

    def _notification_fields(self, record: dict[str, Any], notify_id: str) -> dict[str, str]:
        return {
            "app_id": self.app_id,
            "notify_id": notify_id,
            "notify_time": wire.platform_time(_dt.datetime.now(wire.CST)),
            "notify_type": "trade_status_sync",
            "order_no": record["order_no"],
            "payment_code": record["payment_code"],
            "trade_no": record["trade_no"],
            "amount_fen": str(record["amount_fen"]),
            "channel": record["channel"],
            "paid_time": record["paid_time"],
            "receipt_no": record["receipt_no"],
            "trade_status": "TRADE_SUCCESS",
        }

    def signed_body(self, fields: dict[str, str]) -> bytes:
        signed = {
            "sign": wire.sign_notification(fields, self._private_pem),
            "sign_type": "RSA2",
            **fields,
        }
        return urlencode(signed).encode()

    def notify(self, order_no: str) -> str:
        """Queue a (new) notification of a paid order; returns its notify_id.

        While the ``out_of_order`` fault is set, notifications are held until
        :meth:`release` sends them, newest first.
        """
        notify_id = uuid.uuid4().hex
        with self._wake:
            record = self.orders.get(order_no)
            if record is None:
                raise UnknownRecord(f"no order {order_no}: create one first (make demo)")
            body = self.signed_body(self._notification_fields(record, notify_id))
            self.notifications[notify_id] = Notification(notify_id, order_no, body)
            if self.faults.out_of_order:
                self._held.append(notify_id)
            else:
                self._schedule(notify_id, 0.0)
        return notify_id

    def release(self) -> list[str]:
        """Send every held notification, newest first (out of order)."""
        with self._wake:
            held, self._held = self._held[::-1], []
            for notify_id in held:
                self._schedule(notify_id, 0.0)
        return held

    def cancel_pending(self) -> int:
        """Drop every held or scheduled notification (a test's clean-up); returns how many."""
        with self._wake:
            dropped = len(self._queue) + len(self._held)
            self._queue, self._held = [], []
            self._wake.notify_all()
        return dropped

    def _schedule(self, notify_id: str, delay: float) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (time.monotonic() + delay, self._seq, notify_id))
        self._wake.notify_all()

    def _deliver_forever(self) -> None:
        while True:
            with self._wake:
                while self._running and (not self._queue or self._queue[0][0] > time.monotonic()):
                    timeout = self._queue[0][0] - time.monotonic() if self._queue else None
                    self._wake.wait(timeout)
                if not self._running:
                    return
                _, _, notify_id = heapq.heappop(self._queue)
                notification = self.notifications[notify_id]
                notification.attempts += 1
                copies = 2 if self.faults.duplicate_pushes else 1
            acked = False
            for _ in range(copies):
                status, ok = self._post(notification.body)
                acked = acked or ok
                with self._lock:
                    notification.statuses.append(status)
                    self.deliveries.append((notify_id, status))
            with self._wake:
                notification.acked = notification.acked or acked
                if not notification.acked and notification.attempts <= len(self.retry_schedule):
                    self._schedule(notify_id, self.retry_schedule[notification.attempts - 1])

    def _post(self, body: bytes) -> tuple[int, bool]:
        url = self.push_url
        if not url or not url.startswith(("http://", "https://")):
            return 0, False
        request = urllib.request.Request(  # noqa: S310 - scheme checked above
            url,
            data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - loopback
                text = answer.read(64).decode("utf-8", "replace").strip()
                status = answer.status
        except urllib.error.HTTPError as exc:
            return exc.code, False
        except (urllib.error.URLError, OSError):
            return 0, False
        if self.strict_ack:
            return status, status == 200 and text == "success"
        return status, 200 <= status < 300

    def sample_push(self) -> tuple[dict[str, str], bytes]:
        record = {
            "order_no": "SAMPLE-0001",
            "payment_code": "35012026010100000001",
            "trade_no": "NT20260101000000000001",
            "amount_fen": 1500,
            "channel": "UNIONPAY",
            "paid_time": wire.platform_time(_dt.datetime.now(wire.CST)),
            "receipt_no": "FJ202601010000000001",
        }
        body = self.signed_body(self._notification_fields(record, uuid.uuid4().hex))
        return {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, body

    # --- the daily statement --------------------------------------------------------

    def seed_unknown_payment(self, day: str, amount_fen: int = 2500) -> str:
        """A settled payment the platform has and the bus never heard of; returns its order_no."""
        with self._lock:
            self._serial += 1
            compact = day.replace("-", "")
            order_no = f"UNK{compact}{self._serial:08d}"
            self.extra_lines.setdefault(day, []).append(
                (
                    order_no,
                    f"3501{compact}{self._serial:08d}",
                    f"NT{compact}{self._serial:012d}",
                    str(amount_fen),
                    "UNIONPAY",
                    f"{day} 12:00:00",
                    f"FJ{compact}{self._serial:010d}",
                )
            )
        return order_no

    def seed_amount_mismatch(self, order_no: str, amount_fen: int) -> None:
        """The statement line of ``order_no`` shows ``amount_fen`` instead of what was paid."""
        with self._lock:
            self.amount_overrides[order_no] = amount_fen

    def seed_duplicate_line(self, order_no: str) -> None:
        """The statement lists ``order_no`` twice."""
        with self._lock:
            self.duplicate_lines.add(order_no)

    def seed_missing_line(self, order_no: str) -> None:
        """The statement leaves out the paid order ``order_no`` (paid here, not there)."""
        with self._lock:
            self.missing_lines.add(order_no)

    def set_synthetic_rows(self, day: str, rows: int) -> None:
        with self._lock:
            self.synthetic_rows[day] = rows

    def _statement_rows(self, day: str, synthetic: int) -> Iterator[tuple[str, ...]]:
        with self._lock:  # the real part is small: snapshot it, then generate the rest
            real = []
            for order in self.orders.values():
                if not order["paid_time"].startswith(day):
                    continue
                if order["order_no"] in self.missing_lines:
                    continue
                row = (
                    order["order_no"],
                    order["payment_code"],
                    order["trade_no"],
                    str(self.amount_overrides.get(order["order_no"], order["amount_fen"])),
                    order["channel"],
                    order["paid_time"],
                    order["receipt_no"],
                )
                real.append(row)
                if order["order_no"] in self.duplicate_lines:
                    real.append(row)
            real += self.extra_lines.get(day, [])
        yield from real
        for i in range(synthetic):
            yield synthetic_row(day, i, synthetic)

    def _statement(self, handler: BaseHTTPRequestHandler, day: str, query: dict[str, list[str]]):
        try:
            if not DAY.match(day):
                raise ValueError(day)
            _dt.date.fromisoformat(day)
            synthetic = int(query.get("synthetic_rows", [self.synthetic_rows.get(day, 0)])[0])
            if not 0 <= synthetic <= MAX_SYNTHETIC_ROWS:
                raise ValueError(synthetic)
        except ValueError:
            return self._reply(handler, 400, "4000", "日期无效 day must be YYYY-MM-DD")
        try:
            handler.send_response(200)
            handler.send_header("Content-Type", "text/csv; charset=utf-8")
            handler.send_header("Transfer-Encoding", "chunked")
            handler.end_headers()
            out = handler.wfile
            buffer: list[str] = [",".join(wire.STATEMENT_HEADER)]
            size = count = total = 0
            cut, hold = self.truncate_statement_after, self.hold_statement_after
            for row in self._statement_rows(day, synthetic):
                if cut is not None and count >= cut:
                    break
                if hold is not None and count == hold:
                    _write_chunk(out, buffer)
                    out.flush()
                    buffer, size = [], 0
                    self.statement_gate.wait(10)
                line = ",".join(row)
                buffer.append(line)
                size += len(line) + 1
                count += 1
                total += int(row[3])
                if size >= CHUNK_BYTES:
                    _write_chunk(out, buffer)
                    buffer, size = [], 0
            if cut is None or count < cut:
                buffer.append(f"{wire.STATEMENT_TRAILER},{count},{total}")
            _write_chunk(out, buffer)
            out.write(b"0\r\n\r\n")
            out.flush()
        except (BrokenPipeError, ConnectionResetError):
            return  # the reader gave up
        with self._lock:
            self.statements_finished[day] += 1

    # --- admin over HTTP ------------------------------------------------------------------

    admin_examples: ClassVar[dict[str, str]] = {
        "/_sim/notify-schedule": '{"retry_schedule": [15, 60, 300], "strict_ack": false}',
        "/_sim/renotify": '{"order_no": "NT-1"}',
        "/_sim/statement": '{"day": "2026-11-27", "synthetic_rows": 1000000}',
    }

    def _admin(self, path: str, doc: AdminBody) -> tuple[int, Any]:
        if path == "/_sim/notify-schedule":
            # both checked before either is set: a refused body changes nothing
            strict_ack = doc.boolean("strict_ack", self.strict_ack)
            if "retry_schedule" in doc:
                schedule = doc["retry_schedule"]
                if not isinstance(schedule, list) or not all(
                    isinstance(s, int | float) and not isinstance(s, bool) and 0 <= s < math.inf
                    for s in schedule
                ):
                    raise SimRefused(
                        "'retry_schedule' is a list of seconds, none negative, e.g. [15, 60, 300]"
                    )
                self.set_retry_schedule(schedule)
            self.strict_ack = strict_ack
            return 200, {"retry_schedule": self.retry_schedule, "strict_ack": self.strict_ack}
        if path == "/_sim/cancel-pending":
            return 200, {"dropped": self.cancel_pending()}
        if path == "/_sim/release":
            return 200, {"released": self.release()}
        if path == "/_sim/renotify":
            return 200, {"notify_id": self.notify(doc.text("order_no"))}
        if path == "/_sim/statement":
            return 200, self._statement_handle(doc)
        if path == "/_sim/state":
            with self._lock:
                return 200, {
                    "calls": self.calls,
                    "orders": {k: self._view(v) for k, v in self.orders.items()},
                    "notifications": {
                        k: {"order_no": n.order_no, "attempts": n.attempts, "acked": n.acked}
                        for k, n in self.notifications.items()
                    },
                    "held": list(self._held),
                }
        return super()._admin(path, doc)

    def _statement_handle(self, doc: AdminBody) -> dict[str, Any]:
        day = doc.text("day")
        try:
            _dt.date.fromisoformat(day)
        except ValueError:
            raise SimRefused(f"'day' is a date, e.g. 2026-11-27; not {day[:40]!r}") from None
        # every field is read and checked before the first is applied: a refused body
        # changes nothing
        rows = doc.integer("synthetic_rows", minimum=0) if "synthetic_rows" in doc else None
        if rows is not None and rows > MAX_SYNTHETIC_ROWS:
            raise SimRefused(
                f"'synthetic_rows' is at most {MAX_SYNTHETIC_ROWS:,} (the statement's own "
                f"bound), not {rows:,}"
            )
        unknown_fen = (
            doc.integer("unknown_payment_fen", minimum=1)
            if doc.get("unknown_payment_fen")
            else None
        )
        differs: tuple[str, int] | None = None
        if doc.get("amount_differs"):
            if not isinstance(doc["amount_differs"], dict):
                raise SimRefused('\'amount_differs\' is {"order_no": ..., "amount_fen": ...}')
            fields = AdminBody(doc["amount_differs"])
            differs = (
                self._held_order(fields.text("order_no")),
                fields.integer("amount_fen", minimum=0),
            )
        duplicate = self._held_order(doc.text("duplicate")) if doc.get("duplicate") else None
        missing = self._held_order(doc.text("missing")) if doc.get("missing") else None
        cut = doc.get("truncate_after")
        if cut is not None:
            cut = doc.integer("truncate_after", minimum=0)
        answer: dict[str, Any] = {"day": day}
        if rows is not None:
            self.set_synthetic_rows(day, rows)
        if unknown_fen is not None:
            answer["unknown_order_no"] = self.seed_unknown_payment(day, unknown_fen)
        if differs is not None:
            self.seed_amount_mismatch(*differs)
        if duplicate is not None:
            self.seed_duplicate_line(duplicate)
        if missing is not None:
            self.seed_missing_line(missing)
        if "truncate_after" in doc:
            self.truncate_statement_after = cut
        return answer

    def _held_order(self, order_no: str) -> str:
        with self._lock:
            if order_no not in self.orders:
                raise UnknownRecord(f"no order {order_no}: create one first (make demo)")
        return order_no


def _write_chunk(out: Any, lines: list[str]) -> None:
    data = ("\n".join(lines) + "\n").encode()
    out.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
