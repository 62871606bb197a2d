"""Certificate-based authentication (CA): chains, document signatures, login."""

from __future__ import annotations

import datetime as _dt

from contracts.base import ContractModel


class CertificateIdentity(ContractModel):
    """What a verified certificate says about its holder."""

    subject_code: str  # citizen ID or credit code, check digit verified
    subject_kind: str  # "citizen" | "organisation"
    common_name: str
    serial: str
    not_after: _dt.datetime
    issuer: str


class LoginChallenge(ContractModel):
    nonce: str
    expires_at: _dt.datetime


class DetachedSignature(ContractModel):
    document: bytes
    signature: bytes
    certificate_pem: str
    algorithm: str  # "RSA-PSS-SHA256" | "ECDSA-P256-SHA256"
