"""Certificate-based authentication (CA): chains, document signatures, login."""

from __future__ import annotations

import datetime as _dt

from pydantic import BaseModel


class CertificateIdentity(BaseModel):
    """What a verified certificate says about its holder."""

    subject_code: str  # citizen ID or credit code, check digit verified
    subject_kind: str  # "citizen" | "organisation"
    common_name: str
    serial: str
    not_after: _dt.datetime
    issuer: str


class LoginChallenge(BaseModel):
    nonce: str
    expires_at: _dt.datetime


class DetachedSignature(BaseModel):
    document: bytes
    signature: bytes
    certificate_pem: str
    algorithm: str  # "RSA-PSS-SHA256" | "ECDSA-P256-SHA256"
