"""A protocol-faithful provincial hall on loopback: SOAP 1.1 from the shipped WSDL.

Serves ``<url>?wsdl`` (its ``soap:address`` rewritten to its own URL) and the XSD beside
it, so any SOAP client can use it from the WSDL alone. It checks every request's
WS-Security header (UsernameToken PasswordDigest, Nonce, Created, wsu:Timestamp; a
wrong digest, an unknown user, a stale Created or a reused nonce is a SOAP Fault),
keeps the cases it received, moves them ``RECEIVED -> ACCEPTED -> APPROVED | REJECTED``
on its own (``set_pace``) or when told (``advance``), and pushes each change to the
bus as a signed SOAP request. Faults are settable at run time, from Python
(``set_faults``) or over HTTP, so a person running ``make run`` can break it with curl:

    curl -XPOST $HALL/_sim/faults -d '{"soap_fault": "soap:Client.UnknownItem"}'
    curl -XPOST $HALL/_sim/faults -d '{"xml_bomb_rate": 1.0}'
    curl -XPOST $HALL/_sim/advance -d '{"case_no": "FJ2024000001", "to": "APPROVED"}'
    curl -XPOST $HALL/_sim/pace -d '{"seconds": 2}'
"""

from __future__ import annotations

import datetime as _dt
import json
import random
import secrets as _secrets
import socket
import threading
import time
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar

from lxml import etree
from pydantic import Field

from adapters.province import wire
from adapters.province.wire import HALL_NS, NSMAP, WSA, q
from adapters.simkit import AdminBody, LoopbackSimulator, UnknownRecord
from contracts.adapters import Faults
from contracts.identity import credit_code_check_char

FORWARD = ["RECEIVED", "ACCEPTED"]
DECISIONS = ("APPROVED", "REJECTED")
SOAP_ACTION_PUSH = f"{HALL_NS}/NotifyCaseStatus"


def _agency(first17: str) -> str:
    return first17 + credit_code_check_char(first17)


HOUSING = _agency("11350000003591001")  # 福建省住房和城乡建设厅
DRUGS = _agency("11350000MB0276002")  # 福建省药品监督管理局
TOURISM = _agency("11350000MB0194003")  # 福建省文化和旅游厅
CATALOGUE = [
    {
        "code": HOUSING + "000107",
        "name": "建筑业企业资质核准",  # construction enterprise qualification
        "timeLimitDays": 20,
        "agency": "福建省住房和城乡建设厅",
        "agencyCode": HOUSING,
    },
    {
        "code": DRUGS + "000311",
        "name": "药品批发企业许可",  # drug wholesale licence
        "timeLimitDays": 15,
        "agency": "福建省药品监督管理局",
        "agencyCode": DRUGS,
    },
    {
        "code": TOURISM + "000205",
        "name": "旅行社业务经营许可",  # travel agency licence
        "timeLimitDays": 20,
        "agency": "福建省文化和旅游厅",
        "agencyCode": TOURISM,
    },
]


class HallFaults(Faults):
    """The common faults plus the SOAP ones."""

    soap_fault: str | None = None  # answer every business call with this faultcode
    xml_bomb_rate: float = Field(default=0.0, ge=0.0, le=1.0)  # billion laughs in the answer
    xxe_rate: float = Field(default=0.0, ge=0.0, le=1.0)  # an external entity in the answer


class SoapFault(Exception):
    def __init__(self, code: str, message: str, status: int = 500) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def billion_laughs(levels: int = 10) -> bytes:
    """The classic XML bomb: ~3 GB once expanded, under 1 kB as sent."""
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, levels)
    ]
    return (
        '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n'
        + "\n".join(entities)
        + f'\n]>\n<soap:Envelope xmlns:soap="{wire.SOAP_ENV}"><soap:Body>'
        f'<hall:QueryCaseResponse xmlns:hall="{HALL_NS}"><hall:case>'
        f"<hall:caseNo>&lol{levels - 1};</hall:caseNo>"
        "</hall:case></hall:QueryCaseResponse></soap:Body></soap:Envelope>"
    ).encode()


def external_entity(target: str) -> bytes:
    """An XXE: an entity whose expansion would fetch ``target`` (a file or a URL)."""
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE case [<!ENTITY xxe SYSTEM "{target}">]>\n'
        f'<soap:Envelope xmlns:soap="{wire.SOAP_ENV}"><soap:Body>'
        f'<hall:QueryCaseResponse xmlns:hall="{HALL_NS}"><hall:case>'
        "<hall:caseNo>&xxe;</hall:caseNo>"
        "</hall:case></hall:QueryCaseResponse></soap:Body></soap:Envelope>"
    ).encode()


class HallSimulator(LoopbackSimulator):
    thread_name = "province-sim"

    def __init__(
        self,
        hang_seconds: float = 3.0,
        seed: int | None = None,
        pace_seconds: float | None = None,
    ) -> None:
        self.username = "govbus-fuzhou"
        self.password = _secrets.token_urlsafe(24)
        self.push_username = "fujian-hall"  # the adapter's default push_username
        self.push_password = _secrets.token_urlsafe(24)
        self.hang_seconds = hang_seconds
        self.faults: HallFaults = HallFaults()
        self.url = ""
        self.push_url: str | None = None
        # False: the hall changes cases without telling the bus (the city must poll)
        self.pushes_enabled = True
        self.calls = 0  # SOAP requests that reached the simulator (GETs excluded)
        self.canary_hits = 0  # fetches of the XXE target: must stay 0
        self.cases: dict[str, dict[str, Any]] = {}
        self.pushed: list[int] = []  # HTTP statuses the bus answered to pushes
        self._by_city_case: dict[str, str] = {}
        self._nonces: dict[bytes, float] = {}
        self._serial = 0
        self._lock = threading.RLock()
        self._random = random.Random(seed)  # noqa: S311 - fault injection, not security
        self._pace: float | None = pace_seconds
        self._pacer: threading.Thread | None = None
        self._stopping = threading.Event()
        self.default_decision = "APPROVED"

    # --- lifecycle -------------------------------------------------------------

    def start(self) -> str:
        url = super().start()
        self._stopping.clear()
        if self._pace:
            self._start_pacer()
        return url

    def stop(self) -> None:
        self._stopping.set()
        super().stop()

    def secrets(self) -> dict[str, str]:
        return {
            "govbus/{stage}/adapters/province": json.dumps(
                {"username": self.username, "password": self.password}
            ),
            "govbus/{stage}/webhooks/province": json.dumps({"secrets": [self.push_password]}),
        }

    def set_faults(self, faults: Faults) -> None:
        self.faults = (
            faults if isinstance(faults, HallFaults) else HallFaults(**faults.model_dump())
        )

    def set_pace(self, seconds: float | None) -> None:
        """Move every open case one step each ``seconds`` (None stops moving them)."""
        self._pace = seconds
        if seconds and (self._pacer is None or not self._pacer.is_alive()):
            self._start_pacer()

    def _start_pacer(self) -> None:
        self._pacer = threading.Thread(target=self._pace_loop, daemon=True, name="province-pace")
        self._pacer.start()

    def _pace_loop(self) -> None:
        while not self._stopping.is_set() and self._pace:
            if self._stopping.wait(self._pace):
                return
            with self._lock:
                open_cases = [n for n, c in self.cases.items() if c["status"] in FORWARD]
            for case_no in open_cases:
                try:
                    self.step(case_no)
                except Exception:  # noqa: S112 - a push that fails is retried next tick
                    continue

    # --- HTTP -------------------------------------------------------------------

    def _dispatch(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        # headers and body leave in two writes: without this, Nagle's algorithm and the
        # client's delayed ACK add ~40 ms to every answer
        handler.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        length = int(handler.headers.get("content-length") or 0)
        body = handler.rfile.read(length) if length else b""
        path, _, query = handler.path.partition("?")
        if path.startswith("/_sim/"):
            return self.serve_admin(handler, path, body)
        if self.faults.down:
            return self._send_fault(handler, SoapFault("soap:Server", "service unavailable", 503))
        if method == "GET":
            return self._get(handler, path, query)
        with self._lock:
            self.calls += 1
        self._soap(handler, body)

    def _get(self, handler: BaseHTTPRequestHandler, path: str, query: str) -> None:
        if path in ("", "/") and query.lower() == "wsdl":
            return self._send(handler, 200, self.wsdl(), "text/xml; charset=utf-8")
        name = path.lstrip("/")
        if name in wire.SCHEMA_FILES:
            return self._send(handler, 200, self._schema(name), "text/xml; charset=utf-8")
        if path in ("", "/"):
            text = b"HallService: SOAP 1.1 over POST here; the WSDL is at ?wsdl\n"
            return self._send(handler, 200, text, "text/plain; charset=utf-8")
        return self._send(handler, 404, b"not found\n", "text/plain; charset=utf-8")

    def _schema(self, name: str) -> bytes:
        return (wire.WSDL_DIR / name).read_bytes()

    def wsdl(self) -> bytes:
        """The shipped WSDL with its ``soap:address`` pointing here."""
        text = self._schema("hall.wsdl").decode()
        return text.replace(
            "https://zwfw.fujian.gov.cn/hall/services/HallService", f"{self.url}/"
        ).encode()

    def _soap(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        faults = self.faults
        if faults.latency_ms:
            time.sleep(faults.latency_ms / 1000)
        roll = self._random.random()
        edges = []
        for rate in (
            faults.timeout_rate,
            faults.error_rate,
            faults.malformed_rate,
            faults.xml_bomb_rate,
            faults.xxe_rate,
        ):
            edges.append((edges[-1] if edges else 0.0) + rate)
        if roll < edges[0]:
            time.sleep(self.hang_seconds)
        elif roll < edges[1]:
            return self._send_fault(
                handler, SoapFault(wire.FAULT_SERVER_BUSY, "系统繁忙 system busy")
            )
        elif roll < edges[2]:
            return self._send(handler, 200, b"<soap:Envelope><unclosed", "text/xml; charset=utf-8")
        elif roll < edges[3]:
            return self._send(handler, 200, billion_laughs(), "text/xml; charset=utf-8")
        elif roll < edges[4]:
            target = f"{self.url}/_sim/xxe-canary"
            return self._send(handler, 200, external_entity(target), "text/xml; charset=utf-8")
        try:
            request = self._verified(body)
            if faults.soap_fault:
                raise SoapFault(faults.soap_fault, f"injected fault {faults.soap_fault}")
            operation = etree.QName(request).localname
            route = {
                "SubmitCase": self._submit,
                "QueryCase": self._query,
                "WithdrawCase": self._withdraw,
                "ListItems": self._list_items,
            }.get(operation)
            if route is None or etree.QName(request).namespace != HALL_NS:
                raise SoapFault("soap:Client", f"no such operation {request.tag}")
            answer = route(request)
        except SoapFault as fault:
            return self._send_fault(handler, fault)
        self._send(handler, 200, wire.envelope(answer, []), "text/xml; charset=utf-8")

    def _send_fault(self, handler: BaseHTTPRequestHandler, fault: SoapFault) -> None:
        body = wire.fault_envelope(fault.code, fault.message)
        self._send(handler, fault.status, body, "text/xml; charset=utf-8")

    def _verified(self, body: bytes) -> etree._Element:
        """The request's body element, once its WS-Security header holds."""
        try:
            envelope = wire.parse_untrusted(body)
        except wire.UnsafeXml as exc:
            raise SoapFault("soap:Client", f"DTDs are not allowed in SOAP messages: {exc}") from exc
        except ValueError as exc:
            raise SoapFault("soap:Client", f"the request is not XML: {exc}") from exc
        if envelope.tag != q(wire.SOAP_ENV, "Envelope"):
            raise SoapFault("soap:VersionMismatch", "expected a SOAP 1.1 envelope")
        now = time.time()
        try:
            token = wire.read_security(envelope)
            wire.check_token(token, self.username, [self.password], now)
        except wire.SecurityRefused as exc:
            raise SoapFault(exc.code, f"WS-Security: {exc}") from exc
        with self._lock:
            horizon = now - 2 * wire.SECURITY_WINDOW_SECONDS
            self._nonces = {n: t for n, t in self._nonces.items() if t > horizon}
            if token.nonce in self._nonces:
                raise SoapFault(
                    wire.FAULT_FAILED_AUTHENTICATION, "WS-Security: the nonce was already used"
                )
            self._nonces[token.nonce] = now
        body_el = envelope.find("soap:Body", NSMAP)
        children = [c for c in (body_el if body_el is not None else []) if isinstance(c.tag, str)]
        if len(children) != 1:
            raise SoapFault("soap:Client", "the SOAP Body must hold exactly one element")
        return children[0]

    # --- the hall's business ------------------------------------------------------------

    @staticmethod
    def _text(element: etree._Element, name: str) -> str:
        return (element.findtext(f"hall:{name}", "", NSMAP) or "").strip()

    def _record(self, case_no: str) -> etree._Element:
        case = self.cases[case_no]
        record = etree.Element(q(HALL_NS, "case"))
        for name, value in (
            ("caseNo", case_no),
            ("cityCaseId", case["city_case_id"]),
            ("itemCode", case["item_code"]),
            ("status", case["status"]),
            ("reason", case["reason"]),
            ("updatedAt", wire.utc_stamp(case["updated_at"])),
            ("timeLimitDays", str(case["time_limit_days"])),
            ("licenceId", case.get("licence_id", "")),
        ):
            if name in ("reason", "licenceId") and not value:
                continue
            etree.SubElement(record, q(HALL_NS, name)).text = value
        return record

    def _answer(self, operation: str, *children: etree._Element) -> etree._Element:
        answer = etree.Element(q(HALL_NS, f"{operation}Response"), nsmap={"hall": HALL_NS})
        for child in children:
            answer.append(child)
        return answer

    def _submit(self, request: etree._Element) -> etree._Element:
        applicant = self._text(request, "applicantCode")
        item_code = self._text(request, "itemCode")
        city_case_id = self._text(request, "cityCaseId")
        if len(applicant) != 18 or not self._text(request, "applicantName") or not city_case_id:
            raise SoapFault(
                "soap:Client.InvalidRequest",
                "申报信息不完整 applicantCode (18 characters), applicantName and cityCaseId are required",
            )
        item = next((i for i in CATALOGUE if i["code"] == item_code), None)
        if item is None:
            raise SoapFault("soap:Client.UnknownItem", f"事项不存在 no province item {item_code}")
        for attachment in request.iterfind("hall:materials/hall:material/hall:attachment", NSMAP):
            content = attachment.findtext("hall:content", "", NSMAP) or ""
            if len(content) * 3 // 4 > wire.MAX_ATTACHMENT_BYTES:
                raise SoapFault(
                    "soap:Client.AttachmentTooLarge",
                    f"附件过大 an attachment is over {wire.MAX_ATTACHMENT_BYTES} bytes",
                )
        with self._lock:
            existing = self._by_city_case.get(city_case_id)
            if existing is None:
                self._serial += 1
                existing = f"FJ{_dt.datetime.now(_dt.UTC):%Y}{self._serial:08d}"
                self.cases[existing] = {
                    "city_case_id": city_case_id,
                    "item_code": item_code,
                    "status": "RECEIVED",
                    "reason": "",
                    "updated_at": _dt.datetime.now(_dt.UTC),
                    "time_limit_days": item["timeLimitDays"],
                    "decision": self.default_decision,
                    "materials": len(request.findall("hall:materials/hall:material", NSMAP)),
                    # what the hall would fetch: each material's reference (None for an
                    # attachment sent inline)
                    "material_references": [
                        m.findtext("hall:reference", default=None, namespaces=NSMAP)
                        for m in request.findall("hall:materials/hall:material", NSMAP)
                    ],
                }
                self._by_city_case[city_case_id] = existing
            return self._answer("SubmitCase", self._record(existing))

    def _query(self, request: etree._Element) -> etree._Element:
        case_no = self._text(request, "caseNo")
        with self._lock:
            if case_no not in self.cases:
                raise SoapFault("soap:Client.CaseNotFound", f"办件不存在 no case {case_no}")
            return self._answer("QueryCase", self._record(case_no))

    def _withdraw(self, request: etree._Element) -> etree._Element:
        case_no = self._text(request, "caseNo")
        with self._lock:
            case = self.cases.get(case_no)
            if case is None:
                raise SoapFault("soap:Client.CaseNotFound", f"办件不存在 no case {case_no}")
            if case["status"] in DECISIONS:
                raise SoapFault(
                    "soap:Client.AlreadyDecided",
                    f"办件已办结，不能撤回 case {case_no} is already {case['status']}",
                )
            if case["status"] != "WITHDRAWN":
                case.update(
                    status="WITHDRAWN",
                    reason=self._text(request, "reason"),
                    updated_at=_dt.datetime.now(_dt.UTC),
                )
            return self._answer("WithdrawCase", self._record(case_no))

    def _list_items(self, request: etree._Element) -> etree._Element:
        agency = self._text(request, "agencyCode")
        answer = self._answer("ListItems")
        for item in CATALOGUE:
            if agency and item["agencyCode"] != agency:
                continue
            element = etree.SubElement(answer, q(HALL_NS, "item"))
            for name in ("code", "name", "timeLimitDays", "agency", "agencyCode"):
                etree.SubElement(element, q(HALL_NS, name)).text = str(item[name])
        return answer

    # --- moving cases on, and pushing the changes ---------------------------------------

    def decide(self, case_no: str, decision: str, reason: str = "") -> None:
        """Set how the province will decide a case when it gets there."""
        if decision not in DECISIONS:
            raise ValueError(f"a decision is one of {DECISIONS}")
        with self._lock:
            self.cases[case_no]["decision"] = decision
            self.cases[case_no]["decision_reason"] = reason

    def step(self, case_no: str) -> list[int]:
        """Move a case one step on (RECEIVED -> ACCEPTED -> its decision)."""
        with self._lock:
            case = self.cases.get(case_no)
            if case is None:
                raise UnknownRecord(
                    f"no case {case_no}: forward a province-level case first (make demo)"
                )
            if case["status"] == "RECEIVED":
                target = "ACCEPTED"
            elif case["status"] == "ACCEPTED":
                target = case["decision"]
            else:
                return []
        return self.advance(case_no, target, case.get("decision_reason", ""))

    def advance(self, case_no: str, to: str = "APPROVED", reason: str = "") -> list[int]:
        """Move a case forward to ``to``, pushing every status on the way.

        Honours the ``duplicate_pushes`` and ``out_of_order`` faults. Returns the HTTP
        statuses the bus answered, in sending order (none while ``pushes_enabled`` is
        False: the change is only seen by querying).
        """
        if to not in ("ACCEPTED", *DECISIONS):
            raise ValueError(f"a case moves to ACCEPTED, APPROVED or REJECTED, not {to!r}")
        with self._lock:
            case = self.cases.get(case_no)
            if case is None:
                raise UnknownRecord(
                    f"no case {case_no}: forward a province-level case first (make demo)"
                )
            if case["status"] not in FORWARD:
                raise ValueError(f"case {case_no} is already {case['status']}")
            steps = ["ACCEPTED"] if case["status"] == "RECEIVED" else []
            if to in DECISIONS:
                steps.append(to)
            pushes = []
            for status in steps:
                now = _dt.datetime.now(_dt.UTC)
                why = reason if status == "REJECTED" else ""
                licence = self._licence_id(case_no) if status == "APPROVED" else ""
                case.update(status=status, reason=why, updated_at=now, licence_id=licence)
                pushes.append(self.push_body(case_no, status, why, now, licence_id=licence))
        if not self.pushes_enabled:
            return []
        if self.faults.duplicate_pushes:
            pushes = [p for p in pushes for _ in (0, 1)]
        if self.faults.out_of_order:
            self._random.shuffle(pushes)
        statuses = [self._push(headers, body) for headers, body in pushes]
        with self._lock:
            self.pushed.extend(statuses)
        return statuses

    def push_body(
        self,
        case_no: str,
        status: str,
        reason: str = "",
        occurred_at: _dt.datetime | None = None,
        *,
        created: _dt.datetime | None = None,
        licence_id: str = "",
        message_id: bool = True,
        city_case_id: str | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """A push as the hall sends it: headers and the raw envelope (``message_id=False``:
        without ``wsa:MessageID``, as a hall that does not use WS-Addressing sends it;
        ``city_case_id``: naming that city case, whichever case ``case_no`` is)."""
        case = self.cases.get(case_no, {"city_case_id": "CASE-SAMPLE"})
        note = etree.Element(q(HALL_NS, "CaseStatusNotification"), nsmap={"hall": HALL_NS})
        for name, value in (
            ("caseNo", case_no),
            ("cityCaseId", city_case_id or case["city_case_id"]),
            ("status", status),
            ("reason", reason),
            ("occurredAt", wire.utc_stamp(occurred_at)),
            ("licenceId", licence_id),
        ):
            if name in ("reason", "licenceId") and not value:
                continue
            etree.SubElement(note, q(HALL_NS, name)).text = value
        headers_xml = [wire.security_header(self.push_username, self.push_password, now=created)]
        if message_id:
            element = etree.Element(q(WSA, "MessageID"), nsmap={"wsa": WSA})
            element.text = f"urn:uuid:{uuid.uuid4()}"
            headers_xml.append(element)
        action = etree.Element(q(WSA, "Action"), nsmap={"wsa": WSA})
        action.text = SOAP_ACTION_PUSH
        body = wire.envelope(note, [*headers_xml, action])
        headers = {
            "Content-Type": "text/xml; charset=utf-8",
            "SOAPAction": f'"{SOAP_ACTION_PUSH}"',
            "X-Hall-Signature": wire.push_signature(body, self.push_password),
        }
        return headers, body

    def _licence_id(self, case_no: str) -> str:
        """The e-licence the province issues on approval (the issuing department's code)."""
        from contracts.licences import licence_id

        agency = self.cases[case_no]["item_code"][:18]
        return licence_id("PROV", agency, case_no)  # the national style, check included

    def sample_push(self) -> tuple[dict[str, str], bytes]:
        return self.push_body("FJ000000000000", "ACCEPTED")

    def _push(self, headers: dict[str, str], body: bytes) -> int:
        if not self.push_url:
            raise RuntimeError("the province simulator has no push_url to push to")
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
        "/_sim/advance": '{"case_no": "FJ2024000001", "to": "APPROVED"}',
        "/_sim/pace": '{"seconds": 2}',
    }

    def _admin(self, path: str, doc: AdminBody) -> tuple[int, Any]:
        if path == "/_sim/advance":
            statuses = self.advance(
                doc.text("case_no"),
                doc.choice("to", ("ACCEPTED", *DECISIONS), "APPROVED"),
                doc.text("reason", ""),
            )
            return 200, {"pushed": statuses}
        if path == "/_sim/pushes":
            if "enabled" in doc:
                self.pushes_enabled = doc.boolean("enabled")
            return 200, {"enabled": self.pushes_enabled}
        if path == "/_sim/pace":
            seconds = doc.get("seconds")
            self.set_pace(None if seconds is None else doc.number("seconds", minimum=0))
            return 200, {"seconds": self._pace}
        if path == "/_sim/xxe-canary":
            with self._lock:
                self.canary_hits += 1
            return 200, {"hits": self.canary_hits}
        if path == "/_sim/state":
            with self._lock:
                return 200, {
                    "calls": self.calls,
                    "canary_hits": self.canary_hits,
                    "cases": {
                        k: {"city_case_id": v["city_case_id"], "status": v["status"]}
                        for k, v in self.cases.items()
                    },
                }
        return super()._admin(path, doc)
