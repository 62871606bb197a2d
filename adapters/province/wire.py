"""The provincial hall's wire format, kept inside the adapter.

SOAP 1.1 envelopes in the namespace :data:`HALL_NS` (see ``wsdl/hall.wsdl`` and
``wsdl/hall.xsd``), WS-Security UsernameToken (PasswordDigest) plus ``wsu:Timestamp``
on every message, the hall's status codes, and its fault codes. Shared by the zeep
client, the push verifier and the simulator; only lxml and the standard library here
(zeep stays in :mod:`adapters.province.client`).
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import hmac
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from contracts.province import ProvinceCaseStatus

WSDL_DIR = Path(__file__).resolve().parent / "wsdl"
WSDL_PATH = WSDL_DIR / "hall.wsdl"
SCHEMA_FILES = ("hall.xsd", "hall.wsdl", "hall-push.wsdl")

HALL_NS = "http://zwfw.fujian.gov.cn/hall/v1"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
WSA = "http://www.w3.org/2005/08/addressing"
_UT_PROFILE_NS = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
)
PASSWORD_DIGEST = _UT_PROFILE_NS + "#PasswordDigest"  # the token type's URI
BASE64_BINARY = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
)
NSMAP = {"soap": SOAP_ENV, "wsse": WSSE, "wsu": WSU, "wsa": WSA, "hall": HALL_NS}

# WS-Security's own fault codes (WSS 1.1, section 12) and the hall's business faults
FAULT_FAILED_AUTHENTICATION = "wsse:FailedAuthentication"
FAULT_MESSAGE_EXPIRED = "wsse:MessageExpired"
FAULT_INVALID_SECURITY = "wsse:InvalidSecurity"
FAULT_SERVER_BUSY = "soap:Server.Busy"

PUSH_SIGNATURE_HEADER = "x-hall-signature"
SECURITY_WINDOW_SECONDS = 5 * 60
MAX_ATTACHMENT_BYTES = 2 * 1024 * 1024  # the XSD's maxLength of AttachmentContent
MAX_ATTACHMENTS_TOTAL_BYTES = 8 * 1024 * 1024

STATUS_FROM_WIRE: dict[str, ProvinceCaseStatus] = {
    "RECEIVED": ProvinceCaseStatus.received,  # 已接收
    "ACCEPTED": ProvinceCaseStatus.accepted,  # 已受理
    "APPROVED": ProvinceCaseStatus.approved,  # 准予许可
    "REJECTED": ProvinceCaseStatus.rejected,  # 不予许可
    "WITHDRAWN": ProvinceCaseStatus.withdrawn,  # 已撤回
}
STATUS_TO_WIRE = {status: code for code, status in STATUS_FROM_WIRE.items()}


def q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


# --- parsing what a partner sends, with every XML hazard refused -----------------------


# a CaseStatusNotification's elements: the contract's name (ProvinceCaseStatusChanged) ->
# the hall's
PUSH_FIELDS = {
    "case_id": "cityCaseId",
    "province_case_no": "caseNo",
    "status": "status",
    "reason": "reason",
    "occurred_at": "occurredAt",
    "licence_id": "licenceId",
}


class UnsafeXml(ValueError):
    """A document carries a DTD or entity declarations (XML bomb, XXE): refused unread."""


def _safe_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        dtd_validation=False,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


_DTD_IN_PROLOG = re.compile(rb"\A(?:\xef\xbb\xbf)?(?:\s+|<\?.*?\?>|<!--.*?-->)*<!DOCTYPE", re.S)


def declares_dtd(raw: bytes) -> bool:
    """Whether a document's prolog declares a DTD (read off the bytes, nothing parsed).

    libxml2 would stop a billion laughs at its amplification limit with a generic
    syntax error; this names the refusal for what it is, before the parser runs.
    """
    return _DTD_IN_PROLOG.match(raw) is not None


# libxml2's own limit without XML_PARSE_HUGE (huge_tree stays off): deeper is refused
MAX_XML_DEPTH = 256


def _xml_refusal(raw: bytes, exc: etree.XMLSyntaxError) -> str:
    """A sentence for a document libxml2 refused, without the parser's own wording."""
    line, column = exc.position if exc.position else (exc.lineno, 0)
    # libxml2 2.14 reports the depth limit as a resource limit, older ones as an internal
    # error: its message is the one thing both share
    if "excessive depth" in (exc.msg or "").lower():
        return f"XML nested deeper than {MAX_XML_DEPTH} levels (line {line})"
    if not raw.strip():
        return "not XML: the body is empty"
    return f"not well-formed XML at line {line}, column {column}"


def parse_untrusted(raw: bytes) -> etree._Element:
    """Parse bytes from outside; a DOCTYPE of any kind is refused before use.

    SOAP 1.1 forbids a DTD in a message (section 3), so refusing one costs nothing;
    entities are never resolved nor expanded, and nothing is fetched from the network.
    Raises :class:`UnsafeXml` for a DTD and ``ValueError`` for anything not XML.
    """
    if declares_dtd(raw):
        raise UnsafeXml("the document declares a DTD (entities, XML bomb or XXE): refused")
    try:
        root = etree.fromstring(raw, parser=_safe_parser())
    except etree.XMLSyntaxError as exc:
        raise ValueError(_xml_refusal(raw, exc)) from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise UnsafeXml("the document declares a DTD (entities, XML bomb or XXE): refused")
    return root


# --- WS-Security UsernameToken (PasswordDigest) -------------------------------------------


def utc_stamp(moment: _dt.datetime | None = None) -> str:
    moment = (moment or _dt.datetime.now(_dt.UTC)).astimezone(_dt.UTC)
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_stamp(text: str) -> _dt.datetime:
    moment = _dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.UTC)
    return moment


def password_digest(nonce: bytes, created: str, password: str) -> str:
    """Base64(SHA-1(nonce + created + password)), the UsernameToken Profile 1.0 digest."""
    raw = hashlib.sha1(nonce + created.encode() + password.encode()).digest()  # noqa: S324 - the profile's own scheme
    return base64.b64encode(raw).decode()


def security_header(
    username: str, password: str, *, now: _dt.datetime | None = None, ttl_seconds: int = 300
) -> etree._Element:
    """A fresh ``wsse:Security`` with a ``wsu:Timestamp`` and a digest UsernameToken."""
    now = now or _dt.datetime.now(_dt.UTC)
    created = utc_stamp(now)
    nonce = os.urandom(16)
    security = etree.Element(q(WSSE, "Security"), nsmap={"wsse": WSSE, "wsu": WSU})
    security.set(q(SOAP_ENV, "mustUnderstand"), "1")
    security.append(timestamp_element(now, ttl_seconds))
    token = etree.SubElement(security, q(WSSE, "UsernameToken"))
    etree.SubElement(token, q(WSSE, "Username")).text = username
    password_el = etree.SubElement(token, q(WSSE, "Password"), Type=PASSWORD_DIGEST)
    password_el.text = password_digest(nonce, created, password)
    nonce_el = etree.SubElement(token, q(WSSE, "Nonce"), EncodingType=BASE64_BINARY)
    nonce_el.text = base64.b64encode(nonce).decode()
    etree.SubElement(token, q(WSU, "Created")).text = created
    return security


def timestamp_element(now: _dt.datetime, ttl_seconds: int = 300) -> etree._Element:
    stamp = etree.Element(q(WSU, "Timestamp"), nsmap={"wsu": WSU})
    stamp.set(q(WSU, "Id"), f"TS-{uuid.uuid4().hex}")
    etree.SubElement(stamp, q(WSU, "Created")).text = utc_stamp(now)
    etree.SubElement(stamp, q(WSU, "Expires")).text = utc_stamp(
        now + _dt.timedelta(seconds=ttl_seconds)
    )
    return stamp


@dataclass(frozen=True)
class UsernameToken:
    """What a received ``wsse:Security`` header claims (not yet verified)."""

    username: str
    digest: str
    nonce: bytes
    created: str
    timestamp_created: str | None
    timestamp_expires: str | None


class SecurityRefused(ValueError):
    """A WS-Security header does not hold; ``code`` is the WSS fault code to answer."""

    def __init__(self, detail: str, code: str = FAULT_FAILED_AUTHENTICATION) -> None:
        super().__init__(detail)
        self.code = code


def read_security(envelope: etree._Element) -> UsernameToken:
    """Read the UsernameToken and Timestamp of an envelope's ``wsse:Security`` header."""
    security = envelope.find("soap:Header/wsse:Security", NSMAP)
    if security is None:
        raise SecurityRefused("no wsse:Security header", FAULT_INVALID_SECURITY)
    token = security.find("wsse:UsernameToken", NSMAP)
    if token is None:
        raise SecurityRefused(
            "no wsse:UsernameToken in the security header", FAULT_INVALID_SECURITY
        )
    password = token.find("wsse:Password", NSMAP)
    if password is None or password.get("Type") != PASSWORD_DIGEST:
        raise SecurityRefused(
            "the UsernameToken must carry a PasswordDigest (PasswordText is refused)",
            FAULT_INVALID_SECURITY,
        )
    try:
        nonce = base64.b64decode(token.findtext("wsse:Nonce", "", NSMAP), validate=True)
    except ValueError as exc:
        raise SecurityRefused("the Nonce is not base64", FAULT_INVALID_SECURITY) from exc
    created = token.findtext("wsu:Created", "", NSMAP).strip()
    if not nonce or not created:
        raise SecurityRefused(
            "the UsernameToken needs a Nonce and a Created", FAULT_INVALID_SECURITY
        )
    stamp = security.find("wsu:Timestamp", NSMAP)
    return UsernameToken(
        username=(token.findtext("wsse:Username", "", NSMAP) or "").strip(),
        digest=(password.text or "").strip(),
        nonce=nonce,
        created=created,
        timestamp_created=stamp.findtext("wsu:Created", None, NSMAP) if stamp is not None else None,
        timestamp_expires=stamp.findtext("wsu:Expires", None, NSMAP) if stamp is not None else None,
    )


def check_token(
    token: UsernameToken,
    username: str,
    passwords: list[str],
    now: float,
    window: int = SECURITY_WINDOW_SECONDS,
) -> str:
    """Verify the digest (constant time) and the time window; return the password that held.

    Raises :class:`SecurityRefused` with the WSS fault code for: an unknown user or a
    digest that matches no active password (one fault for both, and the digest computed
    either way: the answer does not tell whether a user exists), a Created or Timestamp
    outside the window.
    """
    known_user = hmac.compare_digest(token.username.encode(), username.encode())
    matched = next(
        (
            p
            for p in passwords
            if hmac.compare_digest(
                password_digest(token.nonce, token.created, p).encode(), token.digest.encode()
            )
        ),
        None,
    )
    if not known_user or matched is None:
        raise SecurityRefused("the user or its password digest does not match")
    for label, stamp in (
        ("Created", token.created),
        ("Timestamp/Created", token.timestamp_created),
    ):
        if stamp is None:
            raise SecurityRefused("no wsu:Timestamp in the security header", FAULT_INVALID_SECURITY)
        try:
            moment = parse_stamp(stamp).timestamp()
        except ValueError as exc:
            raise SecurityRefused(f"{label} is not a dateTime", FAULT_INVALID_SECURITY) from exc
        if abs(now - moment) > window:
            raise SecurityRefused(
                f"{label} is {int(abs(now - moment))} s off; at most {window} s allowed",
                FAULT_MESSAGE_EXPIRED,
            )
    if token.timestamp_expires:
        try:
            expires = parse_stamp(token.timestamp_expires).timestamp()
        except ValueError as exc:
            raise SecurityRefused(
                "Timestamp/Expires is not a dateTime", FAULT_INVALID_SECURITY
            ) from exc
        if expires < now:
            raise SecurityRefused("the message's Timestamp has expired", FAULT_MESSAGE_EXPIRED)
    return matched


# --- pushes: the raw envelope bound by an HMAC, since a UsernameToken does not bind it ----


def push_signature(body: bytes, password: str) -> str:
    return base64.b64encode(hmac.new(password.encode(), body, hashlib.sha256).digest()).decode()


def push_signature_matches(body: bytes, password: str, offered: str) -> bool:
    return hmac.compare_digest(push_signature(body, password).encode(), (offered or "").encode())


def envelope(body_child: etree._Element, header_children: list[etree._Element]) -> bytes:
    env = etree.Element(q(SOAP_ENV, "Envelope"), nsmap={"soap": SOAP_ENV})
    header = etree.SubElement(env, q(SOAP_ENV, "Header"))
    for child in header_children:
        header.append(child)
    etree.SubElement(env, q(SOAP_ENV, "Body")).append(body_child)
    return etree.tostring(env, xml_declaration=True, encoding="utf-8")


def fault_envelope(code: str, message: str, hall_code: str = "") -> bytes:
    """A SOAP 1.1 Fault with the hall's ``HallFault`` detail."""
    env = etree.Element(q(SOAP_ENV, "Envelope"), nsmap={"soap": SOAP_ENV, "wsse": WSSE})
    body = etree.SubElement(env, q(SOAP_ENV, "Body"))
    fault = etree.SubElement(body, q(SOAP_ENV, "Fault"))
    etree.SubElement(fault, "faultcode").text = code
    etree.SubElement(fault, "faultstring").text = message
    detail = etree.SubElement(fault, "detail")
    hall = etree.SubElement(detail, q(HALL_NS, "HallFault"), nsmap={"hall": HALL_NS})
    etree.SubElement(hall, q(HALL_NS, "code")).text = hall_code or code
    etree.SubElement(hall, q(HALL_NS, "message")).text = message
    return etree.tostring(env, xml_declaration=True, encoding="utf-8")
