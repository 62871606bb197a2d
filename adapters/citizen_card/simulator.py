"""A protocol-faithful multi-card platform (市民卡) on loopback.

OAuth2 client credentials with tokens that expire (``token_lifetime_seconds``, settable
so that a refresh is testable; ``revoke_tokens()`` makes the next call a 401), cards
with a status and a balance in fen, payments idempotent on ``out_trade_no``, refunds.
Demo cards are seeded for the demo citizens. Any client of the protocol can use it
(docs/adapters/citizen_card.md):

    curl -XPOST $CARD/_sim/cards -d '{"holder_id": "350102199003071234", "status": "LOST"}'
    curl -XPOST $CARD/_sim/faults -d '{"error_rate": 1.0}'
    curl -XPOST $CARD/_sim/settle-on -d '{"out_trade_no": "FEE-1", "paid_time": "2026-01-15T10:30:00+08:00"}'
"""

from __future__ import annotations

import base64
import datetime as _dt
import hmac
import json
import random
import re
import secrets as _secrets
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar
from urllib.parse import parse_qsl

from adapters.citizen_card import wire
from adapters.simkit import AdminBody, LoopbackSimulator, SimRefused, UnknownRecord
from contracts.adapters import Faults

CST = _dt.timezone(_dt.timedelta(hours=8))
REFERENCE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
# the demo citizens (seed data and docs): one active card with money on it, one lost,
# one frozen
DEMO_CARDS = (
    ("350102199003071234", "NORMAL", 100_000),
    ("11010519491231002X", "LOST", 50_000),
    ("440524188001010014", "FROZEN", 20_000),
)


def _now() -> str:
    return _dt.datetime.now(CST).strftime("%Y-%m-%d %H:%M:%S")


class CitizenCardSimulator(LoopbackSimulator):
    thread_name = "citizen-card-sim"

    def __init__(self, hang_seconds: float = 3.0, seed: int | None = None) -> None:
        self.client_id = "govbus-" + _secrets.token_hex(4)
        self.client_secret = _secrets.token_urlsafe(32)
        self.hang_seconds = hang_seconds
        self.faults = Faults()
        self.url = ""
        self.push_url: str | None = None  # the card platform does not push
        self.token_lifetime_seconds = 7200.0
        self.pay_time: _dt.datetime | None = None  # the time stamped on payments; None: now
        self.tokens: dict[str, float] = {}  # access token -> expiry (monotonic)
        self.tokens_issued = 0
        self.calls = 0
        self.cards: dict[str, dict[str, Any]] = {}  # card_no -> card
        self.payments: dict[str, dict[str, Any]] = {}  # out_trade_no -> payment
        self.refunds: dict[str, dict[str, Any]] = {}  # out_refund_no -> refund
        self._serial = 0
        self._lock = threading.Lock()
        self._random = random.Random(seed)  # noqa: S311 - fault injection, not security
        for holder, status, balance in DEMO_CARDS:
            self.add_card(holder, status=status, balance_fen=balance)

    # --- lifecycle -------------------------------------------------------------

    def secrets(self) -> dict[str, str]:
        return {
            "govbus/{stage}/adapters/citizen_card": json.dumps(
                {"client_id": self.client_id, "client_secret": self.client_secret}
            )
        }

    def set_faults(self, faults: Faults) -> None:
        self.faults = faults

    def sample_push(self) -> tuple[dict[str, str], bytes]:
        raise NotImplementedError("the citizen card platform does not push to the bus")

    # --- cards ------------------------------------------------------------------

    def add_card(self, holder_id: str, *, status: str = "NORMAL", balance_fen: int = 0) -> str:
        """Issue (or replace) the card of ``holder_id``; returns its card number."""
        if status not in wire.CARD_STATES:
            raise ValueError(f"unknown card status {status!r}")
        with self._lock:
            for card in self.cards.values():
                if card["holder_id"] == holder_id:
                    card.update(status=status, balance_fen=balance_fen)
                    return card["card_no"]
            self._serial += 1
            card_no = f"35010010{self._serial:011d}"
            self.cards[card_no] = {
                "card_no": card_no,
                "holder_id": holder_id,
                "status": status,
                "balance_fen": balance_fen,
            }
            return card_no

    def card_of(self, holder_id: str) -> dict[str, Any]:
        with self._lock:
            return dict(next(c for c in self.cards.values() if c["holder_id"] == holder_id))

    def revoke_tokens(self) -> None:
        """Every issued token stops working at once (the next API call is a 401)."""
        with self._lock:
            self.tokens.clear()

    # --- HTTP -------------------------------------------------------------------

    def _dispatch(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("content-length") or 0)
        body = handler.rfile.read(length) if length else b""
        path = handler.path.split("?", 1)[0]
        if path.startswith("/_sim/"):
            return self.serve_admin(handler, path, body)
        faults = self.faults
        if faults.down:
            return self._reply(handler, 503, "9999", "系统维护 down")
        if path == "/api/ping":
            return self._reply(handler, 200, wire.OK, "pong", {})
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
        if method != "POST":
            return self._reply(handler, 405, "4005", "POST only")
        if path == "/oauth/token":
            return self._token(handler, body)
        if not self._authorised(handler.headers.get("Authorization", "")):
            return self._send(handler, 401, b'{"error":"invalid_token"}')
        try:
            doc = json.loads(body)
            if not isinstance(doc, dict):
                raise ValueError("not an object")
        except ValueError:
            return self._reply(handler, 400, "4000", "报文格式错误 body is not a JSON object")
        route = {
            "/api/v1/cards/query": self._query,
            "/api/v1/payments": self._pay,
            "/api/v1/refunds": self._refund,
            "/api/v1/statements": self._statement,
        }.get(path)
        if route is None:
            return self._reply(handler, 404, "4040", "no such method")
        code, msg, data = route(doc)
        self._reply(handler, 200, code, msg, data)

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

    def _token(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        offered = handler.headers.get("Authorization", "")
        if not hmac.compare_digest(f"Basic {expected}".encode(), offered.encode()):
            return self._send(handler, 401, b'{"error":"invalid_client"}')
        form = dict(parse_qsl(body.decode("utf-8", "replace")))
        if form.get("grant_type") != "client_credentials":
            return self._send(handler, 400, b'{"error":"unsupported_grant_type"}')
        token = _secrets.token_urlsafe(24)
        with self._lock:
            now = time.monotonic()
            self.tokens = {t: e for t, e in self.tokens.items() if e > now}
            self.tokens[token] = now + self.token_lifetime_seconds
            self.tokens_issued += 1
        answer = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": self.token_lifetime_seconds,
        }
        self._send(handler, 200, json.dumps(answer).encode())

    def _authorised(self, header: str) -> bool:
        if not header.startswith("Bearer "):
            return False
        with self._lock:
            expiry = self.tokens.get(header[len("Bearer ") :])
        return expiry is not None and expiry > time.monotonic()

    # --- the card platform's business --------------------------------------------------

    def _query(self, doc: dict[str, Any]):
        holder = str(doc.get("holder_id") or "").upper()
        with self._lock:
            card = next((c for c in self.cards.values() if c["holder_id"] == holder), None)
            if card is None:
                return wire.CARD_NOT_FOUND, "未办理市民卡 no card for this citizen", None
            return wire.OK, "成功", dict(card)

    def _pay(self, doc: dict[str, Any]):
        reference = str(doc.get("out_trade_no") or "")
        amount = doc.get("amount_fen")
        if not REFERENCE.match(reference):
            return "4000", "商户订单号无效 out_trade_no must be 1-32 letters, digits, _ or -", None
        if type(amount) is not int or not 0 < amount <= 10**11:
            return "4000", "金额无效 amount_fen must be a positive integer of fen", None
        with self._lock:
            done = self.payments.get(reference)
            if done is not None:
                if (done["card_no"], done["amount_fen"]) != (doc.get("card_no"), amount):
                    return (
                        wire.CONFLICT,
                        "商户订单号已使用 out_trade_no used for another charge",
                        None,
                    )
                card = self.cards[done["card_no"]]
                return wire.OK, "成功 (repeat payment)", dict(done)
            card = self.cards.get(str(doc.get("card_no")))
            if card is None:
                return wire.CARD_NOT_FOUND, "卡号不存在 no such card", None
            if card["status"] != "NORMAL":
                text = {
                    "LOST": "卡已挂失 card reported lost",
                    "FROZEN": "卡已冻结 card frozen",
                    "CANCELLED": "卡已注销 card cancelled",
                }[card["status"]]
                return wire.REFUSAL_OF_STATE[card["status"]], text, None
            if card["balance_fen"] < amount:
                return (
                    wire.INSUFFICIENT_BALANCE,
                    f"余额不足 balance {card['balance_fen']} fen is below {amount} fen",
                    None,
                )
            card["balance_fen"] -= amount
            self._serial += 1
            done = {
                "payment_id": f"CC{self._serial:014d}",
                "card_no": card["card_no"],
                "out_trade_no": reference,
                "amount_fen": amount,
                "balance_fen": card["balance_fen"],
                "paid_time": _now(),
                "refunded_fen": 0,
            }
            if self.pay_time is not None:
                done["paid_time"] = self.pay_time.astimezone(CST).strftime("%Y-%m-%d %H:%M:%S")
            self.payments[reference] = done
            return wire.OK, "成功", dict(done)

    def _refund(self, doc: dict[str, Any]):
        refund_no = str(doc.get("out_refund_no") or "")
        amount = doc.get("amount_fen")
        if not REFERENCE.match(refund_no):
            return "4000", "退款单号无效 out_refund_no must be 1-32 letters, digits, _ or -", None
        if type(amount) is not int or amount <= 0:
            return "4000", "金额无效 amount_fen must be a positive integer of fen", None
        with self._lock:
            done = self.refunds.get(refund_no)
            if done is not None:
                if done["amount_fen"] != amount or done["out_trade_no"] != doc.get("out_trade_no"):
                    return (
                        wire.CONFLICT,
                        "退款单号已使用 out_refund_no used for another refund",
                        None,
                    )
                return wire.OK, "成功 (repeat refund)", dict(done)
            payment = self.payments.get(str(doc.get("out_trade_no")))
            if payment is None:
                return wire.PAYMENT_NOT_FOUND, "原交易不存在 no such payment", None
            if payment["refunded_fen"] + amount > payment["amount_fen"]:
                return wire.REFUND_EXCEEDS, "退款金额超过原交易 refund exceeds the payment", None
            payment["refunded_fen"] += amount
            card = self.cards[payment["card_no"]]
            card["balance_fen"] += amount
            self._serial += 1
            done = {
                "refund_id": f"CR{self._serial:014d}",
                "out_trade_no": payment["out_trade_no"],
                "out_refund_no": refund_no,
                "amount_fen": amount,
                "balance_fen": card["balance_fen"],
                "refund_time": _now(),
            }
            self.refunds[refund_no] = done
            return wire.OK, "成功", dict(done)

    def _statement(self, doc: dict[str, Any]):
        """One page of the payments settled on ``day`` (对账单), oldest first."""
        day = str(doc.get("day") or "")
        size = doc.get("page_size", 500)
        token = str(doc.get("page_token") or "0")
        try:
            _dt.date.fromisoformat(day)
        except ValueError:
            return "4000", "对账日期无效 day must be YYYY-MM-DD", None
        if type(size) is not int or not 0 < size <= 1000:
            return "4000", "page_size must be an integer from 1 to 1000", None
        if not token.isdigit():
            return "4000", "page_token is not one this platform issued", None
        start = int(token)
        with self._lock:
            settled = sorted(
                (dict(p) for p in self.payments.values() if p["paid_time"].startswith(day)),
                key=lambda p: p["payment_id"],
            )
        page = settled[start : start + size]
        more = start + size < len(settled)
        items = [
            {k: p[k] for k in ("payment_id", "out_trade_no", "amount_fen", "paid_time")}
            | {"refunded_fen": p["refunded_fen"]}
            for p in page
        ]
        return (
            wire.OK,
            "成功",
            {"items": items, "next_page_token": str(start + size) if more else ""},
        )

    def settle_on(self, reference: str, paid_time: _dt.datetime) -> None:
        """Move a payment to another day of the statement (a test of a past day)."""
        with self._lock:
            stamp = paid_time.astimezone(CST).strftime("%Y-%m-%d %H:%M:%S")
            payment = self.payments.get(reference)
            if payment is None:
                raise UnknownRecord(f"no payment {reference}: pay one first (make demo)")
            payment["paid_time"] = stamp

    def charge(self, holder_id: str, reference: str, amount_fen: int) -> dict[str, Any]:
        """Charge a card as a call whose answer was lost would have: the platform has the
        payment, the caller never heard of it."""
        code, msg, data = self._pay(
            {
                "out_trade_no": reference,
                "amount_fen": amount_fen,
                "card_no": self.card_no_of(holder_id),
            }
        )
        if code != wire.OK:
            raise ValueError(f"{code} {msg}")
        return data

    def card_no_of(self, holder_id: str) -> str:
        return self.card_of(holder_id)["card_no"]

    # --- admin over HTTP ------------------------------------------------------------------

    admin_examples: ClassVar[dict[str, str]] = {
        "/_sim/cards": '{"holder_id": "350102199003071234", "status": "LOST", "balance_fen": 0}',
        "/_sim/tokens": '{"lifetime_seconds": 1}',
        "/_sim/settle-on": '{"out_trade_no": "FEE-1", "paid_time": "2026-01-15T10:30:00+08:00"}',
    }

    def _admin(self, path: str, doc: AdminBody) -> tuple[int, Any]:
        if path == "/_sim/cards":
            card_no = self.add_card(
                str(doc.citizen_id("holder_id")),
                status=doc.choice("status", wire.CARD_STATES, "NORMAL"),
                balance_fen=doc.integer("balance_fen", 0, minimum=0),
            )
            return 200, {"card_no": card_no}
        if path == "/_sim/tokens":
            if "lifetime_seconds" in doc:
                self.token_lifetime_seconds = doc.number("lifetime_seconds", minimum=0)
            if doc.boolean("revoke", False):
                self.revoke_tokens()
            return 200, {
                "lifetime_seconds": self.token_lifetime_seconds,
                "issued": self.tokens_issued,
            }
        if path == "/_sim/settle-on":
            reference, stamp = doc.text("out_trade_no"), doc.text("paid_time")
            try:
                paid_time = _dt.datetime.fromisoformat(stamp)
            except ValueError:
                raise SimRefused(
                    f"paid_time is an ISO 8601 time, e.g. 2026-01-15T10:30:00+08:00; not {stamp[:40]!r}"
                ) from None
            self.settle_on(reference, paid_time)
            return 200, {"out_trade_no": reference, "paid_time": stamp}
        if path == "/_sim/state":
            with self._lock:
                return 200, {
                    "calls": self.calls,
                    "tokens_issued": self.tokens_issued,
                    "cards": {k: dict(v) for k, v in self.cards.items()},
                    "payments": {k: dict(v) for k, v in self.payments.items()},
                }
        return super()._admin(path, doc)
