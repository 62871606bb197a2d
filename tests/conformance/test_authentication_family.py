"""The authentication family's contract (the CA): chains, revocation, identity codes,
detached signatures, login challenges. The simulator is a real test CA."""

import datetime as dt

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding

from contracts.adapters import AdapterFamily, CallContext
from contracts.auth import CertificateIdentity, DetachedSignature, LoginChallenge
from contracts.errors import RetryableError, SignatureInvalid, Unauthenticated

FAMILY = AdapterFamily.authentication
CITIZEN = "350102199003071234"
COMPANY = "91350100MA2Y0AB1CB"
CTX = CallContext(correlation_id="corr", idempotency_key="k")


def sign(issued, document: bytes) -> tuple[bytes, str]:
    key = issued.private_key
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(document, ec.ECDSA(hashes.SHA256())), "ECDSA-P256-SHA256"
    return key.sign(
        document,
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH),
        hashes.SHA256(),
    ), "RSA-PSS-SHA256"


def refused(harness, pem) -> str:
    with pytest.raises(Unauthenticated) as info:
        harness.call("govbus_ca_verify_certificate", certificate_pem=pem, ctx=CTX)
    return str(info.value)


@pytest.mark.parametrize(("code", "kind"), [(CITIZEN, "citizen"), (COMPANY, "organisation")])
def test_a_valid_certificate_yields_the_identity_inside(harness, code, kind):
    issued = harness.simulator.issue(code, "林小姐")
    identity = harness.call(
        "govbus_ca_verify_certificate", certificate_pem=issued.chain_pem, ctx=CTX
    )
    assert isinstance(identity, CertificateIdentity)
    assert identity.subject_code == code and identity.subject_kind == kind
    assert identity.serial == issued.serial


def test_an_expired_certificate_is_refused_saying_so(harness):
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    issued = harness.simulator.issue(
        CITIZEN, "林小姐", not_before=past - dt.timedelta(days=365), not_after=past
    )
    assert "expired" in refused(harness, issued.chain_pem)


def test_a_revoked_certificate_is_refused_saying_so(harness):
    issued = harness.simulator.issue(CITIZEN, "林小姐")
    harness.simulator.revoke(issued.serial)
    assert "revoked" in refused(harness, issued.chain_pem)


def test_a_certificate_revoked_a_moment_ago_is_refused_at_once(harness):
    """A revocation list fetched before the revocation (and still fresh) must not let the
    certificate through: its status is asked of the CA each time."""
    issued = harness.simulator.issue(CITIZEN, "林小姐")
    identity = harness.call(
        "govbus_ca_verify_certificate", certificate_pem=issued.chain_pem, ctx=CTX
    )
    assert identity.serial == issued.serial, "accepted before the revocation"
    harness.simulator.revoke(issued.serial)
    assert "revoked" in refused(harness, issued.chain_pem)


def test_when_the_status_cannot_be_asked_a_certificate_is_not_accepted(harness):
    """Fail closed: with the revocation list still fresh, but the CA not answering, the
    answer is retryable, never an acceptance on the cached list."""
    issued = harness.simulator.issue(CITIZEN, "林小姐")
    harness.call("govbus_ca_verify_certificate", certificate_pem=issued.chain_pem, ctx=CTX)
    harness.faults(down=True)
    with pytest.raises(RetryableError):
        harness.call("govbus_ca_verify_certificate", certificate_pem=issued.chain_pem, ctx=CTX)


def test_a_certificate_from_another_ca_is_refused_saying_so(harness):
    issued = harness.simulator.issue(CITIZEN, "林小姐", trusted=False)
    assert "not issued by a trusted CA" in refused(harness, issued.chain_pem)


def test_a_certificate_whose_code_fails_its_check_digit_is_refused_saying_so(harness):
    issued = harness.simulator.issue("350102199003071235", "林小姐")
    assert "check character" in refused(harness, issued.chain_pem)


def test_a_certificate_not_meant_for_signing_is_refused(harness):
    issued = harness.simulator.issue(CITIZEN, "林小姐", signing=False)
    assert "key usage" in refused(harness, issued.chain_pem)


@pytest.mark.parametrize("key_type", ["ec", "rsa"])
def test_a_detached_signature_verifies_and_a_tampered_document_does_not(harness, key_type):
    issued = harness.simulator.issue(COMPANY, "福州示例科技有限公司", key_type=key_type)
    document = "营业执照副本 scan, page 1".encode()
    signature, algorithm = sign(issued, document)
    signed = DetachedSignature(
        document=document,
        signature=signature,
        certificate_pem=issued.chain_pem,
        algorithm=algorithm,
    )
    identity = harness.call("govbus_ca_verify_signature", signed=signed, ctx=CTX)
    assert identity.subject_code == COMPANY
    tampered = signed.model_copy(update={"document": document + b" (altered)"})
    with pytest.raises(SignatureInvalid, match="altered"):
        harness.call("govbus_ca_verify_signature", signed=tampered, ctx=CTX)


def test_a_challenge_is_a_fresh_unguessable_nonce_with_an_expiry(harness):
    first = harness.call("govbus_ca_challenge", ctx=CTX)
    second = harness.call("govbus_ca_challenge", ctx=CTX)
    assert isinstance(first, LoginChallenge)
    assert first.nonce != second.nonce and len(first.nonce) >= 32
    assert first.expires_at > dt.datetime.now(dt.UTC)


def test_when_revocation_cannot_be_checked_the_answer_is_retryable_not_a_refusal(harness):
    issued = harness.simulator.issue(CITIZEN, "林小姐")
    harness.faults(down=True)
    with pytest.raises(RetryableError):
        harness.call("govbus_ca_verify_certificate", certificate_pem=issued.chain_pem, ctx=CTX)


def test_an_agencys_seal_verifies_as_that_agency_and_breaks_on_tampering(harness):
    agency = "11100000000013338W"
    document = '{"licence": "营业执照"}'.encode()
    sealed = harness.call("govbus_ca_seal", document=document, agency=agency, ctx=CTX)
    assert isinstance(sealed, DetachedSignature) and sealed.document == document
    signer = harness.call("govbus_ca_verify_signature", signed=sealed, ctx=CTX)
    assert signer.subject_code == agency and signer.subject_kind == "organisation"
    with pytest.raises(SignatureInvalid):
        harness.call(
            "govbus_ca_verify_signature",
            signed=sealed.model_copy(update={"document": document + b" "}),
            ctx=CTX,
        )


def test_sealing_for_an_unknown_agency_is_a_partner_refusal(harness):
    from contracts.errors import PartnerError

    with pytest.raises(PartnerError):
        harness.call("govbus_ca_seal", document=b"x", agency="nobody", ctx=CTX)
