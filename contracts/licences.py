"""E-licences (电子证照, GB/T 36901-36905): identifiers, the record, its events.

The identifier layout is read off identifiers in use, not off the standard's text, so
it lives in one function (:func:`licence_id`) with its own test vectors:

    1.2.156.3005.2.<type code>.<issuer credit code>.<serial>.<3-digit version>.<check>

with the check character computed by ISO 7064 MOD 37,36 over the parts, without dots
and without the ``1.2.156.3005.2.`` prefix.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from enum import StrEnum
from typing import Any

from pydantic import ConfigDict, Field

from contracts.base import ContractModel
from contracts.constrained import ShortText, Text, bounded_text
from contracts.events import event_type

PREFIX = "1.2.156.3005.2."
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_PART = re.compile(r"^[0-9A-Z]+$")


def mod37_36_check(data: str) -> str:
    """ISO 7064 MOD 37,36 (hybrid system) check character over ``0-9A-Z``."""
    m = 36
    p = m
    for char in data:
        value = ALPHABET.find(char)
        if value < 0:
            raise ValueError(f"{char!r} is not in 0-9A-Z")
        s = (p + value) % m or m
        p = (2 * s) % (m + 1)
    return ALPHABET[(m + 1 - p) % m]


def licence_id(type_code: str, issuer: str, serial: str, version: int = 1) -> str:
    parts = [type_code, issuer, serial, f"{version:03d}"]
    for part in parts:
        if not _PART.match(part):
            raise ValueError(f"licence identifier parts are 0-9A-Z: {part!r}")
    return PREFIX + ".".join(parts) + "." + mod37_36_check("".join(parts))


def check_licence_id(value: str) -> str:
    """Validate a licence identifier; returns it, or raises ValueError with the reason."""
    if not value.startswith(PREFIX):
        raise ValueError(f"a licence identifier starts with {PREFIX}")
    parts = value[len(PREFIX) :].split(".")
    if len(parts) != 5:
        raise ValueError("a licence identifier has type, issuer, serial, version and check")
    *body, check = parts
    if not all(_PART.match(p) for p in body) or len(body[3]) != 3 or not body[3].isdigit():
        raise ValueError("licence identifier parts are 0-9A-Z, the version three digits")
    if len(check) != 1 or check != mod37_36_check("".join(body)):
        raise ValueError("the licence identifier's check character does not match (MOD 37,36)")
    return value


class LicenceType(ContractModel):
    """One type of the city's licence directory (证照目录).

    The type's code begins with the credit code of the authority that defines the type
    nationally; ``issuers`` are the city's agencies (credit codes) that issue it in their
    own name. Another agency's client cannot issue (or revoke) a licence of this type.
    """

    code: str
    name: str
    holder_kind: str  # citizen | organisation
    fields: list[str] = Field(default_factory=list)
    validity_days: int | None = None  # None: valid until revoked
    issuers: tuple[str, ...] = ()

    def issued_by(self, agency: str) -> bool:
        return agency in self.issuers


# The city's agencies that issue licences (the directory's issuers).
MARKET_REGULATION = "11350100MB00000012"  # 福州市市场监督管理局
PUBLIC_SECURITY = "11350100MB00000025"  # 福州市公安局
CIVIL_AFFAIRS = "11350100MB00000038"  # 福州市民政局
HEALTH = "11350100MB0000005E"  # 福州市卫生健康委员会
HOUSING = "11350100MB0000006H"  # 福州市住房和城乡建设局
TRANSPORT = "11350100MB0000007L"  # 福州市交通运输局


LICENCE_TYPES: dict[str, LicenceType] = {
    t.code: t
    for t in [
        LicenceType(
            code="11100000000013338W001",
            name="营业执照 business licence",
            holder_kind="organisation",
            fields=[
                "enterprise_name",
                "legal_representative",
                "registered_capital",
                "business_scope",
                "address",
            ],
            issuers=(MARKET_REGULATION,),
        ),
        LicenceType(
            code="11100000000013338W002",
            name="食品经营许可证 food business licence",
            holder_kind="any",  # a company or a sole trader
            fields=["enterprise_name", "business_items"],
            validity_days=5 * 365,
            issuers=(MARKET_REGULATION,),
        ),
        LicenceType(
            code="11100000000013338W003",
            name="个体工商户营业执照 sole trader licence",
            holder_kind="citizen",
            fields=["trade_name", "operator", "business_scope"],
            issuers=(MARKET_REGULATION,),
        ),
        LicenceType(
            code="11420503087246977F001",
            name="结婚证 marriage certificate",
            holder_kind="citizen",
            fields=["spouse_a", "spouse_b", "registered_on"],
            issuers=(CIVIL_AFFAIRS,),
        ),
        LicenceType(
            code="11420503087246977F002",
            name="居住证 residence permit",
            holder_kind="citizen",
            fields=["name", "address"],
            validity_days=365,
            issuers=(PUBLIC_SECURITY,),
        ),
        LicenceType(
            code="11420503087246977F003",
            name="出生医学证明 birth certificate",
            holder_kind="citizen",
            fields=["child_name", "born_on", "hospital"],
            issuers=(HEALTH,),
        ),
        LicenceType(
            code="11420503087246977F004",
            name="不动产权证书 real estate certificate",
            holder_kind="citizen",
            fields=["owner", "location", "area_m2"],
            issuers=(HOUSING,),
        ),
        LicenceType(
            code="11420503087246977F005",
            name="道路运输经营许可证 road transport licence",
            holder_kind="organisation",
            fields=["enterprise_name", "scope"],
            validity_days=4 * 365,
            issuers=(TRANSPORT,),
        ),
    ]
}


class LicenceStatus(StrEnum):
    valid = "valid"
    revoked = "revoked"


class IssueRequest(ContractModel):
    model_config = ConfigDict(extra="forbid")

    type_code: str = Field(min_length=1, max_length=64)
    holder_code: str = Field(min_length=1, max_length=18)
    holder_name: ShortText = Field(min_length=1)
    fields: dict[bounded_text(64), Text] = Field(default_factory=dict, max_length=50)
    valid_from: _dt.date | None = None
    valid_until: _dt.date | None = None
    case_id: str | None = None


class Licence(ContractModel):
    id: str
    type_code: str
    type_name: str
    issuer: str
    holder_code: str
    holder_name: str
    fields: dict[str, str]
    valid_from: _dt.date
    valid_until: _dt.date | None
    issued_at: _dt.datetime
    case_id: str | None = None
    trust_level: str = "A"
    status: LicenceStatus = LicenceStatus.valid
    revoked_at: _dt.datetime | None = None
    revocation_reason: str | None = None
    signature: str = ""  # base64, by the issuer's seal through the CA
    signature_algorithm: str = ""
    signing_certificate_pem: str = ""

    def signed_content(self) -> bytes:
        """The bytes the issuer's seal covers: everything that makes the licence what it is."""
        body: dict[str, Any] = self.model_dump(
            mode="json",
            include={
                "id",
                "type_code",
                "issuer",
                "holder_code",
                "holder_name",
                "fields",
                "valid_from",
                "valid_until",
                "issued_at",
                "case_id",
                "trust_level",
            },
        )
        return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@event_type("licence.issued")
class LicenceIssued(ContractModel):
    licence_id: str
    type_code: str
    issuer: str
    holder_key: str
    case_id: str | None = None


@event_type("licence.revoked")
class LicenceRevoked(ContractModel):
    licence_id: str
    type_code: str
    issuer: str
    holder_key: str
    reason: str
