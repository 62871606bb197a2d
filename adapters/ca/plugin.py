"""The CA adapter's hook implementations (registered as entry point ``ca``)."""

from __future__ import annotations

import base64
import datetime as _dt
import json
import logging
import secrets
import time
from typing import TYPE_CHECKING, NamedTuple

import urllib3
from pydantic import BaseModel, Field

from contracts import hookimpl
from contracts.adapterkit import AdapterState
from contracts.adapters import (
    AdapterFamily,
    AdapterInfo,
    CallContext,
    PingResult,
)
from contracts.auth import CertificateIdentity, DetachedSignature, LoginChallenge
from contracts.errors import PartnerError, PartnerTimeout, PartnerUnavailable, Unauthenticated

# cryptography (~70 ms) loads when a certificate or signature is first handled, not at
# plugin load: most functions that allow the CA adapter serve most calls without it.
if TYPE_CHECKING:
    from cryptography import x509

NAME = "ca"
log = logging.getLogger("adapters.ca")


class CaConfig(BaseModel):
    """``GOVBUS_CA_ENDPOINT`` (CRL and OCSP), ``GOVBUS_CA_SECRET_NAME`` (trust anchors).

    ``crl_cache_seconds`` bounds how long a fetched CRL is reused; it does not delay a
    revocation: every certificate is also checked live at the CA's status service.
    """

    endpoint: str = "https://ca.example/"
    timeout_seconds: float = Field(default=3.0, gt=0, le=30)
    ping_cache_seconds: float = Field(default=5.0, ge=0)
    secret_name: str = "govbus/dev/adapters/ca"  # noqa: S105 - a name, not a secret
    crl_cache_seconds: float = Field(default=60.0, ge=0)
    challenge_ttl_seconds: int = Field(default=120, gt=0, le=600)


class _Trust(NamedTuple):
    """What the CA's secret holds: the roots to trust and the seal service's API key."""

    anchors: list[x509.Certificate]
    intermediates: list[x509.Certificate]
    seal_api_key: str


_state: AdapterState[CaConfig, _Trust] = AdapterState("the CA", CaConfig)
_http = urllib3.PoolManager(retries=False)
_crl: dict[str, tuple[float, x509.CertificateRevocationList]] = {}
_state.on_configure(_crl.clear)  # a new configuration may name another CA


def _trust() -> _Trust:
    def build(config: CaConfig, doc: dict) -> _Trust:
        from cryptography import x509

        inter = doc.get("intermediates_pem")
        return _Trust(
            anchors=x509.load_pem_x509_certificates(doc["trust_anchor_pem"].encode()),
            intermediates=x509.load_pem_x509_certificates(inter.encode()) if inter else [],
            seal_api_key=doc.get("seal_api_key", ""),
        )

    return _state.client(build)


def _revocation_list(issuers: list[x509.Certificate]) -> x509.CertificateRevocationList:
    from cryptography import x509

    from adapters.ca import pki

    now = time.monotonic()
    cached = _crl.get("crl")
    if cached and now - cached[0] < _state.config.crl_cache_seconds:
        return cached[1]
    url = _state.config.endpoint.rstrip("/") + "/crl"
    try:
        answer = _http.request(
            "GET", url, timeout=urllib3.Timeout(connect=1.0, read=_state.config.timeout_seconds)
        )
    except urllib3.exceptions.HTTPError as exc:
        raise PartnerUnavailable("the CA's revocation list cannot be fetched") from exc
    if answer.status != 200:
        raise PartnerUnavailable(f"the CA answered {answer.status} for its revocation list")
    try:
        crl = x509.load_der_x509_crl(answer.data)
    except ValueError as exc:
        raise PartnerUnavailable("the CA sent a malformed revocation list") from exc
    pki.verify_crl(crl, issuers, _dt.datetime.now(_dt.UTC))
    _crl["crl"] = (now, crl)
    return crl


def _check_status(cert: x509.Certificate, issuer: x509.Certificate) -> None:
    """The certificate's status now, from the CA's OCSP responder (RFC 6960).

    The request carries a fresh nonce; the answer counts only once it is shown to be the
    CA's, about this certificate, for this request and current (``pki.ocsp_status``).
    Fails closed: a certificate is accepted only on the CA's ``good``. An unreachable
    responder or an answer that cannot be relied on is :class:`PartnerUnavailable` (retry
    later), never a fall-back to the cached CRL, which may be up to ``crl_cache_seconds``
    old and so miss a revocation made a moment ago (a stolen certificate revoked by its
    owner).
    """
    from adapters.ca import pki

    nonce = secrets.token_bytes(16)
    request_der, request = pki.ocsp_request(cert, issuer, nonce)
    url = f"{_state.config.endpoint.rstrip('/')}/ocsp"
    try:
        answer = _http.request(
            "POST",
            url,
            body=request_der,
            headers={"Content-Type": "application/ocsp-request"},
            timeout=urllib3.Timeout(connect=1.0, read=_state.config.timeout_seconds),
        )
    except urllib3.exceptions.HTTPError as exc:
        raise PartnerUnavailable(
            "the CA's certificate status service (OCSP) cannot be reached: "
            "no certificate is accepted until it answers"
        ) from exc
    if answer.status != 200:
        raise PartnerUnavailable(
            f"the CA's certificate status service (OCSP) answered {answer.status}"
        )
    try:
        status = pki.ocsp_status(answer.data, request, issuer, nonce, _dt.datetime.now(_dt.UTC))
    except pki.OcspUnusable as exc:
        log.warning("OCSP answer refused", extra={"reason": str(exc)})
        raise PartnerUnavailable(
            f"the CA's certificate status service gave no usable answer: {exc}"
        ) from None
    if status == "revoked":
        raise Unauthenticated("the certificate was revoked (the CA's status service says so)")
    if status != "good":
        raise Unauthenticated(f"the CA does not vouch for this certificate (status: {status})")


def verify(certificate_pem: str) -> tuple[x509.Certificate, CertificateIdentity]:
    from adapters.ca import pki

    anchors, intermediates, _ = _trust()
    chain = pki.load_chain(certificate_pem)
    now = _dt.datetime.now(_dt.UTC)
    path = pki.verify_path(chain, anchors, intermediates, now)
    leaf, issuer = path[0], path[1]
    pki.check_signing_usage(leaf)
    pki.check_not_revoked(leaf, _revocation_list(path[1:]))
    _check_status(leaf, issuer)
    identity = pki.identity_of(leaf, issuer)
    log.info("certificate verified", extra={"serial": identity.serial})
    return leaf, identity


@hookimpl
def govbus_adapter_info() -> AdapterInfo:
    return AdapterInfo(
        name=NAME,
        family=AdapterFamily.authentication,
        title="统一电子政务认证 CA",
        version="1.0.0",
        secret_name=_state.config.secret_name,
    )


@hookimpl
def govbus_adapter_configure(settings, get_secret) -> None:
    _state.configure(settings, get_secret)


@hookimpl
def govbus_ping() -> PingResult:
    def probe() -> tuple[bool, str]:
        answer = _http.request(
            "GET",
            _state.config.endpoint.rstrip("/") + "/ping",
            timeout=urllib3.Timeout(connect=1.0, read=1.0),
        )
        return answer.status == 200, "" if answer.status == 200 else f"{answer.status}"

    return _state.ping(NAME, probe)


@hookimpl
def govbus_simulator():
    from adapters.ca.simulator import CaSimulator

    return CaSimulator()


@hookimpl
def govbus_ca_verify_certificate(certificate_pem: str, ctx: CallContext) -> CertificateIdentity:
    return verify(certificate_pem)[1]


@hookimpl
def govbus_ca_verify_signature(signed: DetachedSignature, ctx: CallContext) -> CertificateIdentity:
    from adapters.ca import pki

    leaf, identity = verify(signed.certificate_pem)
    pki.verify_detached(leaf, signed.document, signed.signature, signed.algorithm)
    return identity


@hookimpl
def govbus_ca_seal(document: bytes, agency: str, ctx: CallContext) -> DetachedSignature:
    api_key = _trust().seal_api_key  # loaded with the trust anchors
    body = json.dumps({"agency": agency, "document": base64.b64encode(document).decode()}).encode()
    try:
        answer = _http.request(
            "POST",
            _state.config.endpoint.rstrip("/") + "/seal",
            body=body,
            headers={
                "Content-Type": "application/json",
                "X-Api-Key": api_key,
                "X-Request-Id": ctx.correlation_id,
            },
            timeout=urllib3.Timeout(connect=1.0, read=ctx.timeout_seconds),
        )
    except urllib3.exceptions.TimeoutError as exc:
        raise PartnerTimeout("the CA's seal service did not answer in time") from exc
    except urllib3.exceptions.HTTPError as exc:
        raise PartnerUnavailable("the CA's seal service is unreachable") from exc
    if answer.status >= 500:
        raise PartnerUnavailable(f"the CA's seal service answered {answer.status}")
    try:
        doc = json.loads(answer.data)
    except ValueError as exc:
        raise PartnerUnavailable("the CA's seal service sent a malformed answer") from exc
    if answer.status != 200:
        raise PartnerError(
            f"the CA refused to seal: {doc.get('error', answer.status)}",
            partner=NAME,
            code=str(answer.status),
        )
    return DetachedSignature(
        document=document,
        signature=base64.b64decode(doc["signature"]),
        certificate_pem=doc["certificate_pem"],
        algorithm=doc["algorithm"],
    )


@hookimpl
def govbus_ca_challenge(ctx: CallContext) -> LoginChallenge:
    return LoginChallenge(
        nonce=secrets.token_urlsafe(32),
        expires_at=_dt.datetime.now(_dt.UTC)
        + _dt.timedelta(seconds=_state.config.challenge_ttl_seconds),
    )
