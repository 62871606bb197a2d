"""The CA adapter takes an OCSP answer only when it is the CA's, about the certificate
asked for, for this request and current; the simulator answers as RFC 6960 says."""

from __future__ import annotations

import datetime as dt
import secrets

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from adapters.ca import pki
from adapters.ca.simulator import CaSimulator

CITIZEN = "350102199003071234"


@pytest.fixture(scope="module")
def ca() -> CaSimulator:
    return CaSimulator()  # answers in-process: ocsp_response needs no server


def ask(ca: CaSimulator, cert: x509.Certificate, answer=None, now=None) -> str:
    nonce = secrets.token_bytes(16)
    request_der, request = pki.ocsp_request(cert, ca.issuing, nonce)
    answer_der = (answer or ca.ocsp_response)(request_der)
    return pki.ocsp_status(answer_der, request, ca.issuing, nonce, now or dt.datetime.now(dt.UTC))


def test_good_then_revoked_and_unknown_for_a_serial_the_ca_never_issued(ca):
    issued = ca.issue(CITIZEN, "林小姐")
    assert ask(ca, issued.certificate) == "good"
    ca.revoke(issued.serial)
    assert ask(ca, issued.certificate) == "revoked"
    # the same name and key as one of ours, but a serial the CA has no record of
    stranger = (
        x509.CertificateBuilder()
        .subject_name(issued.certificate.subject)
        .issuer_name(ca.issuing.subject)
        .public_key(issued.private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(issued.certificate.not_valid_before_utc)
        .not_valid_after(issued.certificate.not_valid_after_utc)
        .sign(ca.issuing_key, hashes.SHA256())
    )
    assert ask(ca, stranger) == "unknown"


def test_an_answer_about_another_certificate_is_not_taken(ca):
    mine, other = ca.issue(CITIZEN, "林小姐"), ca.issue(CITIZEN, "林小姐")
    nonce = secrets.token_bytes(16)
    _, request = pki.ocsp_request(mine.certificate, ca.issuing, nonce)
    # the CA's own signed answer, for the other certificate, with this request's nonce
    other_der, _ = pki.ocsp_request(other.certificate, ca.issuing, nonce)
    with pytest.raises(pki.OcspUnusable, match="another certificate"):
        pki.ocsp_status(
            ca.ocsp_response(other_der), request, ca.issuing, nonce, dt.datetime.now(dt.UTC)
        )


def test_an_answer_past_its_next_update_is_not_taken(ca):
    issued = ca.issue(CITIZEN, "林小姐")
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=11)  # next_update + skew passed
    with pytest.raises(pki.OcspUnusable, match="out of date"):
        ask(ca, issued.certificate, now=later)


@pytest.mark.parametrize(
    ("request_der", "declined"),
    [(b"not DER", "malformed request"), (None, "unauthorized")],
)
def test_a_declining_responder_is_not_an_answer(ca, request_der, declined):
    issued = ca.issue(CITIZEN, "林小姐", trusted=False)  # the rogue CA's: not ours to answer
    nonce = secrets.token_bytes(16)
    rogue_request_der, request = pki.ocsp_request(issued.certificate, ca.rogue, nonce)
    answer = ca.ocsp_response(request_der or rogue_request_der)
    assert (
        ocsp.load_der_ocsp_response(answer).response_status.name.lower().replace("_", " ")
        == declined
    )
    with pytest.raises(pki.OcspUnusable, match=f"declined: {declined}"):
        pki.ocsp_status(answer, request, ca.rogue, nonce, dt.datetime.now(dt.UTC))


def _delegate(ca: CaSimulator, ocsp_signing: bool):
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "OCSP responder")]))
        .issuer_name(ca.issuing.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
    )
    if ocsp_signing:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False
        )
    return builder.sign(ca.issuing_key, hashes.SHA256()), key


@pytest.mark.parametrize("ocsp_signing", [True, False], ids=["delegated", "not delegated"])
def test_a_responder_is_taken_only_when_the_issuer_delegated_ocsp_signing_to_it(ca, ocsp_signing):
    issued = ca.issue(CITIZEN, "林小姐")
    responder, key = _delegate(ca, ocsp_signing)

    def by_responder(request_der: bytes) -> bytes:
        request = ocsp.load_der_ocsp_request(request_der)
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        return (
            ocsp.OCSPResponseBuilder()
            .add_response(
                cert=issued.certificate,
                issuer=ca.issuing,
                algorithm=hashes.SHA1(),
                cert_status=ocsp.OCSPCertStatus.GOOD,
                this_update=now,
                next_update=now + dt.timedelta(minutes=5),
                revocation_time=None,
                revocation_reason=None,
            )
            .responder_id(ocsp.OCSPResponderEncoding.NAME, responder)
            .certificates([responder])
            .add_extension(request.extensions.get_extension_for_class(x509.OCSPNonce).value, False)
            .sign(key, hashes.SHA256())
            .public_bytes(serialization.Encoding.DER)
        )

    if ocsp_signing:
        assert ask(ca, issued.certificate, answer=by_responder) == "good"
    else:
        with pytest.raises(pki.OcspUnusable, match="not signed by the issuing CA"):
            ask(ca, issued.certificate, answer=by_responder)


def test_an_agencys_seal_is_known_to_the_responder(ca):
    # the seal is issued under the simulator's lock, which recording an issue takes too
    seal = ca.seal_for("11350100MB00000012")
    assert ask(ca, seal.certificate) == "good"


@pytest.mark.parametrize("size", [0, 33, 1000])
def test_a_nonce_outside_rfc_8954s_1_to_32_octets_is_a_malformed_request(ca, size):
    issued = ca.issue(CITIZEN, "林小姐")
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(issued.certificate, ca.issuing, hashes.SHA1())
        .add_extension(x509.OCSPNonce(b"n" * size), critical=False)
        .build()
        .public_bytes(serialization.Encoding.DER)
    )
    answer = ocsp.load_der_ocsp_response(ca.ocsp_response(request))
    assert answer.response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def test_a_request_too_large_to_be_one_certid_is_not_parsed(ca):
    answer = ocsp.load_der_ocsp_response(ca.ocsp_response(b"0" * (ca.MAX_REQUEST_BYTES + 1)))
    assert answer.response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST
