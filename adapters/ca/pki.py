"""X.509 verification, kept in one place: chain, validity, key usage, revocation,
the identity code inside, and detached signatures (RSA-PSS, ECDSA P-256).

Every refusal is :class:`Unauthenticated` (or :class:`SignatureInvalid`) with a reason
a person can act on: expired, revoked, not issued by a trusted CA, bad check digit.
"""

from __future__ import annotations

import datetime as _dt

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from pydantic import ValidationError

from contracts.auth import CertificateIdentity
from contracts.errors import SignatureInvalid, Unauthenticated
from contracts.identity import parse_subject_code

ALGORITHMS = ("RSA-PSS-SHA256", "ECDSA-P256-SHA256")


def load_chain(pem: str | bytes) -> list[x509.Certificate]:
    """Leaf first, then any intermediates, from one PEM bundle."""
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        chain = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise Unauthenticated("the certificate is not readable PEM") from exc
    if not chain:
        raise Unauthenticated("no certificate was presented")
    return chain


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def verify_path(
    chain: list[x509.Certificate],
    anchors: list[x509.Certificate],
    extra_intermediates: list[x509.Certificate],
    now: _dt.datetime,
) -> list[x509.Certificate]:
    """Build and check leaf -> intermediates -> trust anchor; returns the path."""
    leaf, *presented = chain
    pool = presented + extra_intermediates
    path = [leaf]
    current = leaf
    for _ in range(5):
        anchor = next((a for a in anchors if _issued_by(current, a)), None)
        if anchor is not None:
            path.append(anchor)
            break
        parent = next(
            (c for c in pool if c not in path and _is_ca(c) and _issued_by(current, c)), None
        )
        if parent is None or parent.subject == parent.issuer:
            # nothing issued it, or a self-signed root that is not one of ours
            raise Unauthenticated("the certificate was not issued by a trusted CA")
        path.append(parent)
        current = parent
    else:
        raise Unauthenticated("the certificate chain is too long")
    for cert in path:
        if now < cert.not_valid_before_utc:
            raise Unauthenticated(f"the certificate {_cn(cert)} is not valid yet")
        if now > cert.not_valid_after_utc:
            raise Unauthenticated(
                f"the certificate {_cn(cert)} expired on {cert.not_valid_after_utc.date()}"
            )
    return path


def _cn(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return f"'{names[0].value}'" if names else "(unnamed)"


def check_signing_usage(cert: x509.Certificate) -> None:
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        raise Unauthenticated("the certificate does not say it may sign") from None
    if not (usage.digital_signature or usage.content_commitment):
        raise Unauthenticated("the certificate's key usage does not allow signing")
    if _is_ca(cert):
        raise Unauthenticated("a CA certificate cannot log in or sign documents")


def check_not_revoked(cert: x509.Certificate, crl: x509.CertificateRevocationList | None) -> None:
    if crl is None:
        raise Unauthenticated("the revocation status cannot be checked right now")
    entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
    if entry is not None:
        raise Unauthenticated(f"the certificate was revoked on {entry.revocation_date_utc.date()}")


def verify_crl(
    crl: x509.CertificateRevocationList, issuers: list[x509.Certificate], now: _dt.datetime
) -> None:
    issuer = next((i for i in issuers if i.subject == crl.issuer), None)
    if issuer is None or not crl.is_signature_valid(issuer.public_key()):  # type: ignore[arg-type]
        raise Unauthenticated("the revocation list is not signed by the issuing CA")
    if crl.next_update_utc is not None and now > crl.next_update_utc:
        raise Unauthenticated("the revocation list is out of date")


def identity_of(cert: x509.Certificate, issuer: x509.Certificate) -> CertificateIdentity:
    serials = cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    if not serials:
        raise Unauthenticated("the certificate carries no citizen ID or credit code")
    raw = str(serials[0].value)
    try:
        code = parse_subject_code(raw)
    except ValidationError as exc:
        reason = exc.errors()[0]["msg"]
        raise Unauthenticated(
            f"the identity code in the certificate is invalid: {reason}"
        ) from None
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return CertificateIdentity(
        subject_code=str(code),
        subject_kind=code.kind,
        common_name=str(cns[0].value) if cns else "",
        serial=format(cert.serial_number, "x"),
        not_after=cert.not_valid_after_utc,
        issuer=issuer.subject.rfc4514_string(),
    )


def verify_detached(
    cert: x509.Certificate, document: bytes, signature: bytes, algorithm: str
) -> None:
    key = cert.public_key()
    try:
        if algorithm == "RSA-PSS-SHA256" and isinstance(key, rsa.RSAPublicKey):
            key.verify(
                signature,
                document,
                padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO),
                hashes.SHA256(),
            )
        elif algorithm == "ECDSA-P256-SHA256" and isinstance(key, ec.EllipticCurvePublicKey):
            if key.curve.name != "secp256r1":
                raise SignatureInvalid("only ECDSA over P-256 is accepted")
            key.verify(signature, document, ec.ECDSA(hashes.SHA256()))
        else:
            raise SignatureInvalid(
                f"the algorithm {algorithm!r} does not match the certificate's key "
                f"(accepted: {', '.join(ALGORITHMS)})"
            )
    except InvalidSignature:
        raise SignatureInvalid(
            "the signature does not match the document: it was altered or signed by someone else"
        ) from None


# how far the CA's clock and ours may disagree, and how old an OCSP answer may be
# when the CA names no nextUpdate
OCSP_CLOCK_SKEW = _dt.timedelta(minutes=5)
OCSP_MAX_AGE = _dt.timedelta(hours=1)


class OcspUnusable(Exception):
    """The CA's OCSP answer cannot be relied on (unsigned by the CA, not about this
    certificate, replayed, stale, or not an answer): the status is not known."""


def ocsp_request(
    cert: x509.Certificate, issuer: x509.Certificate, nonce: bytes
) -> tuple[bytes, x509.ocsp.OCSPRequest]:
    """The DER OCSPRequest for ``cert`` (RFC 6960; SHA-1 CertID, as responders expect),
    with ``nonce`` so a replayed answer is told apart."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509 import ocsp

    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(cert, issuer, hashes.SHA1())  # noqa: S303 - CertID, not a signature
        .add_extension(x509.OCSPNonce(nonce), critical=False)
        .build()
    )
    return request.public_bytes(serialization.Encoding.DER), request


def ocsp_status(
    answer_der: bytes,
    request: x509.ocsp.OCSPRequest,
    issuer: x509.Certificate,
    nonce: bytes,
    now: _dt.datetime,
) -> str:
    """``good``, ``revoked`` or ``unknown`` from the CA's answer to ``request``, once the
    answer is shown to be the CA's (signed by the issuer, or by a responder the issuer
    delegated OCSP signing to), about this certificate, for this request (the nonce),
    and current; :class:`OcspUnusable` otherwise, or when the responder declined."""
    from cryptography.x509 import ocsp

    try:
        answer = ocsp.load_der_ocsp_response(answer_der)
    except ValueError:
        raise OcspUnusable("the CA sent something that is not an OCSP response") from None
    if answer.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        declined = answer.response_status.name.lower().replace("_", " ")
        raise OcspUnusable(f"the CA's OCSP responder declined: {declined}")
    signer = _ocsp_signer(answer, issuer)
    if signer is None:
        raise OcspUnusable("the OCSP answer is not signed by the issuing CA or its responder")
    try:
        _verify_with(signer, answer.signature, answer.tbs_response_bytes, answer)
    except (InvalidSignature, TypeError):
        raise OcspUnusable("the OCSP answer's signature does not verify") from None
    try:
        echoed = answer.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
    except x509.ExtensionNotFound:
        echoed = None
    if echoed != nonce:
        raise OcspUnusable("the OCSP answer is not for this request (nonce), a replay?")
    if (
        answer.serial_number != request.serial_number
        or answer.issuer_key_hash != request.issuer_key_hash
        or answer.issuer_name_hash != request.issuer_name_hash
    ):
        raise OcspUnusable("the OCSP answer is about another certificate")
    if answer.this_update_utc > now + OCSP_CLOCK_SKEW:
        raise OcspUnusable("the OCSP answer is dated in the future")
    expires = answer.next_update_utc or answer.this_update_utc + OCSP_MAX_AGE
    if now > expires + OCSP_CLOCK_SKEW:
        raise OcspUnusable("the OCSP answer is out of date")
    return {
        ocsp.OCSPCertStatus.GOOD: "good",
        ocsp.OCSPCertStatus.REVOKED: "revoked",
    }.get(answer.certificate_status, "unknown")


def _names_responder(answer: x509.ocsp.OCSPResponse, cert: x509.Certificate) -> bool:
    if answer.responder_name is not None:
        return answer.responder_name == cert.subject
    digest = x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest  # type: ignore[arg-type]
    return answer.responder_key_hash == digest


def _ocsp_signer(
    answer: x509.ocsp.OCSPResponse, issuer: x509.Certificate
) -> x509.Certificate | None:
    """The issuer itself, or a certificate in the answer that the issuer issued for OCSP
    signing (RFC 6960 4.2.2.2); None when the answer names neither."""
    if _names_responder(answer, issuer):
        return issuer
    for delegate in answer.certificates:
        if not (_names_responder(answer, delegate) and _issued_by(delegate, issuer)):
            continue
        try:
            usage = delegate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            continue
        if x509.oid.ExtendedKeyUsageOID.OCSP_SIGNING in usage:
            return delegate
    return None


def _verify_with(
    signer: x509.Certificate, signature: bytes, data: bytes, answer: x509.ocsp.OCSPResponse
) -> None:
    key = signer.public_key()
    algorithm = answer.signature_hash_algorithm
    if isinstance(key, ec.EllipticCurvePublicKey) and algorithm is not None:
        key.verify(signature, data, ec.ECDSA(algorithm))
    elif isinstance(key, rsa.RSAPublicKey) and algorithm is not None:
        key.verify(signature, data, padding.PKCS1v15(), algorithm)
    else:
        raise TypeError("an OCSP signature of a kind not accepted here")
