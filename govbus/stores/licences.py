"""The e-licence library (电子证照库): issue, find by holder, verify, revoke.

The holder's code, name and the licence's data fields are sealed with KMS; the table
keeps the holder's blind index for lookups. The issuer's seal (through the CA) covers
the licence's signed content, so a changed field, date or holder fails verification.
"""

from __future__ import annotations

import base64
import datetime as _dt
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from botocore.exceptions import ClientError

from contracts.auth import CertificateIdentity, DetachedSignature
from contracts.errors import (
    Conflict,
    Forbidden,
    GovbusError,
    NotFound,
    RetryableError,
    ValidationFailed,
)
from contracts.identity import code_problem, mask_identifier, parse_subject_code
from contracts.licences import (
    LICENCE_TYPES,
    PREFIX,
    IssueRequest,
    Licence,
    LicenceStatus,
    check_licence_id,
    licence_id,
)
from govbus import settings
from govbus.aws import client
from govbus.privacy import seal, subject_key, unseal

Sealer = Callable[[bytes, str], DetachedSignature]
Verifier = Callable[[DetachedSignature], CertificateIdentity]


def _table() -> str:
    return settings.table("licences")


def _next_serial(type_code: str, issuer: str) -> str:
    answer = client("dynamodb").update_item(
        TableName=_table(),
        Key={"id": {"S": f"counter#{type_code}#{issuer}"}},
        UpdateExpression="ADD next_serial :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
        ReturnValues="UPDATED_NEW",
    )
    return f"{int(answer['Attributes']['next_serial']['N']):08d}"


class ConditionNotMet(Conflict):
    """A condition the caller put on the issue (another table's item) did not hold at the
    write: nothing was stored."""


def issue(
    request: IssueRequest,
    issuer: str,
    sealer: Sealer,
    conditions: Sequence[dict[str, Any]] = (),
) -> Licence:
    """Seal and store a new licence.

    ``conditions`` are DynamoDB ``ConditionCheck`` transaction items (another store's, e.g.
    :func:`govbus.stores.cases.state_check`): the licence is stored only if every one
    holds at the moment of the write, in one transaction; :class:`ConditionNotMet` if not.
    """
    kind = LICENCE_TYPES.get(request.type_code)
    if kind is None:
        raise ValidationFailed(f"unknown licence type {request.type_code!r}", field="type_code")
    try:
        holder = parse_subject_code(request.holder_code)
    except ValueError as exc:
        raise ValidationFailed(
            f"the holder's code is invalid: {code_problem(exc)}", field="holder_code"
        ) from None
    if kind.holder_kind != "any" and holder.kind != kind.holder_kind:
        raise ValidationFailed(
            f"a {kind.name} is held by a {kind.holder_kind}, not a {holder.kind}",
            field="holder_code",
        )
    now = _dt.datetime.now(_dt.UTC).replace(microsecond=0)
    valid_from = request.valid_from or now.date()
    valid_until = request.valid_until or (
        valid_from + _dt.timedelta(days=kind.validity_days) if kind.validity_days else None
    )
    licence = Licence(
        id=licence_id(request.type_code, issuer, _next_serial(request.type_code, issuer)),
        type_code=kind.code,
        type_name=kind.name,
        issuer=issuer,
        holder_code=str(holder),
        holder_name=request.holder_name,
        fields=request.fields,
        valid_from=valid_from,
        valid_until=valid_until,
        issued_at=now,
        case_id=request.case_id,
    )
    sealed = sealer(licence.signed_content(), issuer)
    licence = licence.model_copy(
        update={
            "signature": base64.b64encode(sealed.signature).decode(),
            "signature_algorithm": sealed.algorithm,
            "signing_certificate_pem": sealed.certificate_pem,
        }
    )
    personal = seal(
        {
            "holder_code": licence.holder_code,
            "holder_name": licence.holder_name,
            "fields": licence.fields,
        },
        {"licence_id": licence.id},
    )
    item = {
        "id": {"S": licence.id},
        "type_code": {"S": licence.type_code},
        "issuer": {"S": issuer},
        "holder_key": {"S": subject_key(licence.holder_code)},
        "holder_masked": {"S": mask_identifier(licence.holder_code)},
        "status": {"S": "valid"},
        "issued_at": {"S": licence.issued_at.isoformat()},
        "valid_from": {"S": licence.valid_from.isoformat()},
        "sealed": {"S": personal},
        "signature": {"S": licence.signature},
        "signature_algorithm": {"S": licence.signature_algorithm},
        "signing_certificate_pem": {"S": licence.signing_certificate_pem},
    }
    if licence.valid_until:
        item["valid_until"] = {"S": licence.valid_until.isoformat()}
    if licence.case_id:
        item["case_id"] = {"S": licence.case_id}
    put = {"TableName": _table(), "Item": item, "ConditionExpression": "attribute_not_exists(id)"}
    if not conditions:
        client("dynamodb").put_item(**put)
        return licence
    try:
        client("dynamodb").transact_write_items(
            TransactItems=[{"Put": put}, *conditions],
            # a call botocore retries is the same transaction (a token is at most 36 chars)
            ClientRequestToken=str(uuid.uuid5(uuid.NAMESPACE_URL, licence.id)),
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "TransactionCanceledException":
            raise
        reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
        if any(code == "ConditionalCheckFailed" for code in reasons[1:]):
            raise ConditionNotMet(f"licence {licence.id} not issued: a condition failed") from None
        raise
    return licence


def _row(licence_id_: str) -> dict[str, Any]:
    try:
        check_licence_id(licence_id_)
    except ValueError as exc:
        raise ValidationFailed(str(exc), field="id") from None
    row = (
        client("dynamodb")
        .get_item(TableName=_table(), Key={"id": {"S": licence_id_}}, ConsistentRead=True)
        .get("Item")
    )
    if not row:
        raise NotFound(f"no licence {licence_id_}")
    return row


def _licence(row: dict[str, Any]) -> Licence:
    personal = unseal(row["sealed"]["S"], {"licence_id": row["id"]["S"]})
    kind = LICENCE_TYPES.get(row["type_code"]["S"])
    return Licence(
        id=row["id"]["S"],
        type_code=row["type_code"]["S"],
        type_name=kind.name if kind else row["type_code"]["S"],
        issuer=row["issuer"]["S"],
        holder_code=personal["holder_code"],
        holder_name=personal["holder_name"],
        fields=personal["fields"],
        valid_from=row["valid_from"]["S"],
        valid_until=row.get("valid_until", {}).get("S"),
        issued_at=row["issued_at"]["S"],
        case_id=row.get("case_id", {}).get("S"),
        status=row["status"]["S"],
        revoked_at=row.get("revoked_at", {}).get("S"),
        revocation_reason=row.get("revocation_reason", {}).get("S"),
        signature=row["signature"]["S"],
        signature_algorithm=row["signature_algorithm"]["S"],
        signing_certificate_pem=row["signing_certificate_pem"]["S"],
    )


def get(licence_id_: str) -> Licence:
    return _licence(_row(licence_id_))


def holder_key_of(licence: Licence) -> str:
    return subject_key(licence.holder_code)


def by_holder(code: str) -> list[Licence]:
    answer = client("dynamodb").query(
        TableName=_table(),
        IndexName="by-holder",
        KeyConditionExpression="holder_key = :k",
        ExpressionAttributeValues={":k": {"S": subject_key(code)}},
    )
    rows = answer.get("Items", [])
    return [get(row["id"]["S"]) for row in sorted(rows, key=lambda r: r["issued_at"]["S"])]


def usable_by_holder(code: str, type_code: str, today: _dt.date) -> str | None:
    """The id of a valid, in-date licence of ``type_code`` the holder holds, if any.

    Reads only the non-personal columns: reuse needs no decryption.
    """
    answer = client("dynamodb").query(
        TableName=_table(),
        IndexName="by-holder",
        KeyConditionExpression="holder_key = :k",
        ExpressionAttributeValues={":k": {"S": subject_key(code)}},
    )
    for key in sorted(answer.get("Items", []), key=lambda r: r["issued_at"]["S"], reverse=True):
        # the identifier carries the type: only candidates of that type are read
        if key["id"]["S"].startswith(f"{PREFIX}{type_code}."):
            found = usable_by_holder_id(key["id"]["S"], today)
            if found:
                return found
    return None


def usable_by_holder_id(licence_id_: str | None, today: _dt.date) -> str | None:
    """``licence_id_`` if that licence is still valid and in date."""
    if not licence_id_:
        return None
    row = _row(licence_id_)
    in_date = _dt.date.fromisoformat(row["valid_from"]["S"]) <= today and (
        "valid_until" not in row or today <= _dt.date.fromisoformat(row["valid_until"]["S"])
    )
    return licence_id_ if row["status"]["S"] == "valid" and in_date else None


def verify(licence_id_: str, verifier: Verifier) -> dict[str, Any]:
    """Every check a relying party needs, each with its outcome; ``valid`` if all pass."""
    row = _row(licence_id_)
    licence = _licence(row)
    checks: dict[str, Any] = {"identifier": True}
    try:
        signer = verifier(
            DetachedSignature(
                document=licence.signed_content(),
                signature=base64.b64decode(licence.signature),
                certificate_pem=licence.signing_certificate_pem,
                algorithm=licence.signature_algorithm,
            )
        )
        checks["signature"] = True
        checks["sealed_by_issuer"] = signer.subject_code == licence.issuer
    except RetryableError:
        raise  # the CA cannot be asked now: 503, never "altered" for an intact licence
    except GovbusError as exc:
        checks["signature"] = False
        checks["signature_reason"] = str(exc)
        checks["sealed_by_issuer"] = False
    today = _dt.datetime.now(_dt.UTC).date()
    checks["in_validity"] = licence.valid_from <= today and (
        licence.valid_until is None or today <= licence.valid_until
    )
    checks["not_revoked"] = licence.status == LicenceStatus.valid
    valid = all(v for k, v in checks.items() if not k.endswith("_reason"))
    reasons = (
        []
        if valid
        else [
            {
                "signature": "the seal does not match the licence: it was altered or not sealed by its "
                "issuer",
                "sealed_by_issuer": "the seal is not the issuing agency's",
                "in_validity": "the licence is outside its validity period",
                "not_revoked": f"the licence was revoked: {licence.revocation_reason or ''}".strip(),
            }[k]
            for k, v in checks.items()
            if v is False
        ]
    )
    return {
        "id": licence.id,
        "valid": valid,
        "status": licence.status.value,
        "type_name": licence.type_name,
        "issuer": licence.issuer,
        "holder": mask_identifier(licence.holder_code),
        "valid_from": licence.valid_from.isoformat(),
        "valid_until": licence.valid_until.isoformat() if licence.valid_until else None,
        "checks": checks,
        "reasons": reasons,
    }


def revoke(licence_id_: str, issuer: str, reason: str) -> Licence:
    """Revoke a valid licence: 403 for anyone but its issuer, 409 if already revoked."""
    row = _row(licence_id_)
    if row["issuer"]["S"] != issuer:
        raise Forbidden(
            f"only the issuer can revoke a licence: this one was issued by {row['issuer']['S']}"
        )
    try:
        client("dynamodb").update_item(
            TableName=_table(),
            Key={"id": {"S": licence_id_}},
            UpdateExpression="SET #s = :rev, revoked_at = :now, revocation_reason = :why",
            ConditionExpression="#s = :valid AND issuer = :issuer",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":rev": {"S": "revoked"},
                ":valid": {"S": "valid"},
                ":issuer": {"S": issuer},
                ":now": {"S": _dt.datetime.now(_dt.UTC).isoformat()},
                ":why": {"S": reason},
            },
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            raise Conflict("the licence is already revoked: only a valid one can be") from None
        raise
    return get(licence_id_)
