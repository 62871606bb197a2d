"""The hall's zeep client: hardened, parsed once per process, every exchange logged masked.

- The WSDL ships in the package and is parsed once per process (:func:`wsdl_document`);
  every client built afterwards (a reconfiguration, new credentials) reuses it.
- zeep runs with DTDs, entities and external references forbidden, ``strict`` parsing
  and no huge trees: a response carrying an XML bomb or an external entity is refused
  before anything is expanded.
- One ``requests.Session`` per client: kept-alive connections, no automatic retries
  (the dispatcher owns retries), connect and read timeouts on every call.
- Every request carries a fresh WS-Security header (UsernameToken PasswordDigest with
  its Nonce and Created, plus ``wsu:Timestamp``).
- SOAP faults and transport failures become :mod:`contracts.errors` exceptions.
"""

from __future__ import annotations

import copy
import datetime as _dt
import logging
import threading
import time
from typing import Any

from lxml import etree

from adapters.province import wire
from adapters.province.config import ProvinceConfig
from adapters.province.zeep_import import (  # requests too: imported as zeep's is
    Document,
    Transport,
    UsernameToken,
    requests,
    wsse_utils,
    zeep,
)
from contracts.errors import (
    NotFound,
    PartnerError,
    PartnerTimeout,
    PartnerUnavailable,
    ValidationFailed,
)
from contracts.identity import mask_identifier

log = logging.getLogger("adapters.province")

BINDING = f"{{{wire.HALL_NS}}}HallBinding"
SETTINGS = zeep.Settings(
    strict=True,
    xml_huge_tree=False,
    forbid_dtd=True,
    forbid_entities=True,
    forbid_external=True,
)
# the hall's business faults that mean "no such thing" rather than "refused"
NOT_FOUND_FAULTS = {"soap:Client.CaseNotFound"}
INVALID_FAULTS = {"soap:Client.AttachmentTooLarge", "soap:Client.InvalidRequest"}

_call = threading.local()  # the correlation id and timeout of the call on this thread
_document: Document | None = None
_document_lock = threading.Lock()
wsdl_parses = 0  # how many times this process parsed the WSDL (one, for its lifetime)


def wsdl_document() -> Document:
    """The hall's WSDL and XSD from the package, parsed on first use, once per process."""
    global _document, wsdl_parses
    with _document_lock:
        if _document is None:
            # the loader transport only reads the shipped files: nothing is fetched
            _document = Document(str(wire.WSDL_PATH), Transport(), settings=SETTINGS)
            wsdl_parses += 1
        return _document


class DigestTokenWithTimestamp(UsernameToken):
    """zeep's UsernameToken (fresh Nonce and Created on every call) plus a fresh
    ``wsu:Timestamp``: zeep's own ``timestamp_token`` would be one fixed element."""

    def __init__(self, username: str, password: str, ttl_seconds: int = 300) -> None:
        super().__init__(username, password, use_digest=True, zulu_timestamp=True)
        self.ttl_seconds = ttl_seconds

    def apply(self, envelope, headers):
        envelope, headers = super().apply(envelope, headers)
        security = wsse_utils.get_security_header(envelope)
        security.insert(0, wire.timestamp_element(_dt.datetime.now(_dt.UTC), self.ttl_seconds))
        return envelope, headers


class _HallTransport(Transport):
    """zeep's transport with the call's own timeouts, and without zeep's debug log of
    whole envelopes (it would print applicants' names and ID numbers unmasked)."""

    def __init__(self, session: requests.Session, config: ProvinceConfig) -> None:
        super().__init__(session=session, timeout=config.timeout_seconds)
        self.config = config

    def post(self, address, message, headers):
        read = getattr(_call, "timeout", None) or self.config.timeout_seconds
        answer = self.session.post(
            address,
            data=message,
            headers=headers,
            timeout=(min(self.config.connect_timeout_seconds, read), read),
        )
        if wire.declares_dtd(answer.content):
            # zeep would refuse it too (forbid_dtd); refusing here names why, unparsed
            raise zeep.exceptions.DTDForbidden("answer", None, None)
        return answer

    def load(self, url):
        raise zeep.exceptions.ExternalReferenceForbidden(url)  # the WSDL ships in the package


PERSONAL = {"applicantCode", "applicantName"}
SECRET = {"Password", "Nonce"}


def mask_name(name: str) -> str:
    name = name.strip()
    return name[:1] + "*" * max(len(name) - 1, 1) if name else name


def masked(envelope: etree._Element) -> str:
    """The envelope for a log line: identifiers and names masked, credentials and
    attachment bytes left out."""
    doc = copy.deepcopy(envelope)
    for element in doc.iter():
        if not isinstance(element.tag, str):
            continue
        local = etree.QName(element).localname
        if local == "applicantCode" and element.text:
            element.text = mask_identifier(element.text.strip())
        elif local == "applicantName" and element.text:
            element.text = mask_name(element.text)
        elif local in SECRET:
            element.text = "***"
        elif local == "content" and element.text:
            element.text = f"[{len(element.text)} base64 characters left out]"
    return etree.tostring(doc, encoding="unicode")


class ExchangeLog(zeep.Plugin):
    """Logs every exchange out and back with the correlation id, personal fields masked."""

    def egress(self, envelope, http_headers, operation, binding_options):
        _call.started = time.perf_counter()
        extra = {"correlation_id": getattr(_call, "correlation_id", "")}
        log.info("province -> %s", operation.name, extra=extra)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("province -> %s %s", operation.name, masked(envelope), extra=extra)
        return envelope, http_headers

    def ingress(self, envelope, http_headers, operation):
        elapsed = (time.perf_counter() - getattr(_call, "started", time.perf_counter())) * 1000
        extra = {"correlation_id": getattr(_call, "correlation_id", "")}
        log.info("province <- %s in %.0f ms", operation.name, elapsed, extra=extra)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("province <- %s %s", operation.name, masked(envelope), extra=extra)
        return envelope, http_headers


class HallClient:
    """One per configuration; reuses the process's parsed WSDL and its own connections."""

    def __init__(self, config: ProvinceConfig, username: str, password: str) -> None:
        self.config = config
        session = requests.Session()
        # proxies come from the configuration, once: requests would otherwise scan the
        # whole environment for proxy variables on every call (a third of a call's time)
        session.trust_env = False
        if config.proxy:
            session.proxies = {"http": config.proxy, "https": config.proxy}
        # the dispatcher owns retries (backoff, circuit breaker): none here
        session.mount("http://", requests.adapters.HTTPAdapter(max_retries=0, pool_maxsize=4))
        session.mount("https://", requests.adapters.HTTPAdapter(max_retries=0, pool_maxsize=4))
        self.session = session
        self.zeep = zeep.Client(
            wsdl=wsdl_document(),
            wsse=DigestTokenWithTimestamp(username, password),
            transport=_HallTransport(session, config),
            plugins=[ExchangeLog()],
            settings=SETTINGS,
        )
        self.service = self.zeep.create_service(BINDING, str(config.endpoint))

    def call(
        self, operation: str, *, correlation_id: str = "", timeout: float | None = None, **kw: Any
    ) -> Any:
        _call.correlation_id = correlation_id
        _call.timeout = timeout
        try:
            return getattr(self.service, operation)(**kw)
        except zeep.exceptions.Fault as exc:
            raise fault_to_error(operation, exc) from exc
        except requests.Timeout as exc:
            raise PartnerTimeout(f"the provincial hall did not answer {operation} in time") from exc
        except requests.RequestException as exc:
            raise PartnerUnavailable(
                f"the provincial hall is unreachable for {operation}: {type(exc).__name__}"
            ) from exc
        except (
            zeep.exceptions.DTDForbidden,
            zeep.exceptions.EntitiesForbidden,
            zeep.exceptions.ExternalReferenceForbidden,
        ) as exc:
            log.warning(
                "province <- %s refused: the answer declares a DTD or entities",
                operation,
                extra={"correlation_id": correlation_id},
            )
            raise PartnerUnavailable(
                f"refused the hall's answer to {operation}: it declares a DTD or entities "
                "(an XML bomb or external entity); nothing was expanded"
            ) from exc
        except zeep.exceptions.TransportError as exc:
            raise PartnerUnavailable(
                f"the provincial hall answered {operation} with HTTP {exc.status_code} "
                "and no SOAP envelope"
            ) from exc
        except (zeep.exceptions.Error, etree.LxmlError, ValueError) as exc:
            raise PartnerUnavailable(
                f"the provincial hall sent a malformed answer to {operation}: {type(exc).__name__}"
            ) from exc
        finally:
            _call.correlation_id = ""
            _call.timeout = None

    def close(self) -> None:
        self.session.close()


def fault_to_error(operation: str, exc: Any) -> Exception:
    """A SOAP fault as a domain error; the fault code stays on it (``code``) and in its text."""
    code = (exc.code or "soap:Server").strip()
    text = f"the provincial hall refused {operation}: {exc.message} ({code})"
    if code in NOT_FOUND_FAULTS:
        return NotFound(text)
    if code in INVALID_FAULTS:
        return ValidationFailed(text, field="materials" if "Attachment" in code else None)
    if code.split(":")[-1].startswith("Server"):
        # the hall's own trouble (busy, down for maintenance): may work later
        return PartnerUnavailable(text)
    return PartnerError(text, partner="province", code=code)
