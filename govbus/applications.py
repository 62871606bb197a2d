"""The citizen's journey (办件): apply with material reuse, pre-review, department
actions, and what follows approval (fee, e-licence, delivery).

Used by the ``applications`` function (HTTP) and ``case_events`` (the bus). Every
transition is stored with actor and time and published as ``case.transitioned``.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from contracts.auth import CertificateIdentity, DetachedSignature
from contracts.cases import (
    Actor,
    ApplicationRequest,
    Case,
    CaseMaterial,
    CaseState,
    CaseTransitioned,
    LicenceRequested,
    MaterialStatus,
)
from contracts.catalog import StarLevel
from contracts.delivery import Address, DeliveryRequested, WaybillRequest
from contracts.errors import Forbidden, GovbusError, ValidationFailed
from contracts.events import Event
from contracts.identity import mask_identifier, parse_subject_code
from govbus import audit
from govbus.auth import SELF, Caller
from govbus.aws import client
from govbus.bus import publish
from govbus.calendar import calendar
from govbus.privacy import subject_key
from govbus.stores import cases, catalog, licences

SOURCE = "govbus.applications"
REVIEW_SCOPE = "cases:review"
PROXY_SCOPE = "cases:proxy"  # window clerks and community proxies (代办)
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
UPLOAD_TYPES = ("application/pdf", "image/jpeg", "image/png", "application/ofd")
HALL = Address(
    name="福州市行政（市民）服务中心",
    phone="059187000000",
    province="福建省",
    city="福州市",
    district="鼓楼区",
    street="湖东路1号",
)

Verifier = Callable[[DetachedSignature], CertificateIdentity]


def _bucket() -> str:
    return os.environ["MATERIALS_BUCKET"]


def _announce(case: Case, action: str, from_state: CaseState | None, key: str) -> None:
    publish(
        [
            Event.create(
                "case.transitioned",
                CaseTransitioned(
                    case_id=case.id,
                    item_code=case.item_code,
                    agency=case.agency,
                    action=action,
                    from_state=from_state,
                    to_state=case.state,
                    applicant_key=key,
                    item_name=case.item_name,
                    reason=case.reason,
                ),
                source=SOURCE,
                subject=case.id,
            )
        ]
    )


def move(case: Case, action: str, actor: str, kind: Actor, note: str = "", **updates: Any) -> Case:
    moved = cases.transition(case, action, actor, kind, note, **updates)
    _announce(moved, action, case.state, cases.applicant_key(case.id))
    return moved


# --- applying --------------------------------------------------------------------------


def _applicant(who: Caller, request: ApplicationRequest) -> tuple[str, str, bool]:
    """(applicant code, kind, acting for someone)."""
    if request.on_behalf_of:
        who.require(PROXY_SCOPE)
        try:
            code = parse_subject_code(request.on_behalf_of)
        except ValueError as exc:
            raise ValidationFailed(
                f"on_behalf_of is not a valid code: {exc}", field="on_behalf_of"
            ) from None
        return str(code), code.kind, True
    if who.is_department or not who.may(SELF):
        raise Forbidden("a department applies only on behalf of someone (on_behalf_of)")
    return who.subject, who.kind, False


def upload_form(case_id: str, index: int) -> dict[str, Any]:
    """A presigned POST for one material: size and type limits, KMS at rest (bucket default)."""
    key = f"cases/{case_id}/{index}"
    form = client("s3").generate_presigned_post(
        Bucket=_bucket(),
        Key=key,
        Conditions=[
            ["content-length-range", 1, MAX_UPLOAD_BYTES],
            ["starts-with", "$Content-Type", ""],
        ],
        ExpiresIn=3600,
    )
    return {
        "index": index,
        "url": form["url"],
        "fields": form["fields"],
        "object_key": key,
        "max_bytes": MAX_UPLOAD_BYTES,
        "content_types": list(UPLOAD_TYPES),
    }


def apply(who: Caller, request: ApplicationRequest) -> tuple[Case, list[dict[str, Any]]]:
    item = catalog.public_version(request.item_code.strip().upper())
    if request.channel == "online" and item.star_level < StarLevel.online_application:
        raise ValidationFailed(
            "this item cannot be applied for online yet; please visit the hall", field="item_code"
        )
    code, kind, acting = _applicant(who, request)
    if request.delivery.method == "ems":
        missing = [
            f
            for f in ("name", "phone", "province", "city", "street")
            if not getattr(request.delivery, f)
        ]
        if missing:
            raise ValidationFailed(
                f"EMS delivery needs the receiver's {', '.join(missing)}",
                field=f"delivery.{missing[0]}",
            )
    today = _dt.datetime.now(_dt.UTC).date()
    now = _dt.datetime.now(_dt.UTC)
    case_id = cases.new_case_id(now)
    materials = []
    for m in item.materials:
        reused = licences.usable_by_holder(code, m.licence_type, today) if m.licence_type else None
        materials.append(
            CaseMaterial(
                name=m.name,
                required=m.required,
                licence_type=m.licence_type,
                licence_id=reused,
                status=MaterialStatus.reused if reused else MaterialStatus.needed,
                object_key=None if reused else f"cases/{case_id}/{len(materials)}",
            )
        )
    case = Case(
        id=case_id,
        item_code=item.code,
        item_version=item.version,
        item_name=item.name,
        agency=str(item.agency),
        state=CaseState.draft,
        version=1,
        applicant=mask_identifier(code),
        applicant_kind=kind,
        channel=request.channel,
        acting_for=acting,
        agent=who.subject if acting else None,
        materials=materials,
        fee=item.fee_total.quantize(Decimal("0.01")),
        delivery_method=request.delivery.method,
    )
    key = subject_key(code)
    personal = {
        "code": code,
        "name": request.applicant_name,
        "delivery": request.delivery.model_dump(),
    }
    case = cases.create(case, key, personal, who.subject, Actor.applicant)
    _announce(case, "create", None, key)
    audit.record("case.created", actor=who.subject, target=code, detail=case.id)
    forms = [
        upload_form(case.id, i)
        for i, m in enumerate(materials)
        if m.status == MaterialStatus.needed
    ]
    return case, forms


def owned_by(case: Case, who: Caller) -> bool:
    """The applicant (or the agent who acted for them) may see and act on the case."""
    if who.is_department:
        return case.agent == who.subject
    return subject_key(who.subject) == cases.applicant_key(case.id)


# --- pre-review --------------------------------------------------------------------------


def _object(key: str) -> dict[str, Any] | None:
    try:
        return client("s3").head_object(Bucket=_bucket(), Key=key)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def pre_review(
    case: Case,
    signatures: dict[int, dict[str, str]],
    verify: Verifier,
) -> tuple[list[CaseMaterial], list[str]]:
    """Check every material; returns the materials as found and the reasons it fails."""
    reasons: list[str] = []
    today = _dt.datetime.now(_dt.UTC).date()
    checked = []
    for index, material in enumerate(case.materials):
        m = material.model_copy()
        if m.status == MaterialStatus.reused:
            if licences.usable_by_holder_id(m.licence_id, today) is None:
                reasons.append(
                    f"材料「{m.name}」对应的电子证照已失效 the e-licence for "
                    f"'{m.name}' is no longer valid; upload it instead"
                )
                m.status, m.licence_id = MaterialStatus.missing, None
            checked.append(m)
            continue
        head = _object(m.object_key or "") if m.object_key else None
        if head is None:
            m.status = MaterialStatus.missing
            if m.required:
                reasons.append(f"材料「{m.name}」尚未上传 '{m.name}' has not been uploaded")
            checked.append(m)
            continue
        if head["ContentLength"] > MAX_UPLOAD_BYTES or head.get("ContentType") not in UPLOAD_TYPES:
            m.status = MaterialStatus.missing
            reasons.append(
                f"材料「{m.name}」格式或大小不符 '{m.name}' must be PDF, OFD, JPEG or "
                f"PNG of at most 10 MB"
            )
            checked.append(m)
            continue
        m.status = MaterialStatus.uploaded
        signed = signatures.get(index)
        if signed:
            m.signed = True
            body = client("s3").get_object(Bucket=_bucket(), Key=m.object_key)["Body"].read()
            try:
                import base64

                signer = verify(
                    DetachedSignature(
                        document=body,
                        signature=base64.b64decode(signed["signature"]),
                        certificate_pem=signed["certificate_pem"],
                        algorithm=signed.get("algorithm", "ECDSA-P256-SHA256"),
                    )
                )
                m.signature_verified, m.signer = True, mask_identifier(signer.subject_code)
            except (GovbusError, ValueError) as exc:
                reasons.append(
                    f"材料「{m.name}」的电子签名无效 the electronic signature on "
                    f"'{m.name}' does not verify: {exc}"
                )
        checked.append(m)
    return checked, reasons


def submit(
    case: Case, who: Caller, signatures: dict[int, dict[str, str]], verify: Verifier
) -> Case:
    submitted = move(
        case, "submit", who.subject, Actor.applicant, submitted_at=_dt.datetime.now(_dt.UTC)
    )
    materials, reasons = pre_review(submitted, signatures, verify)
    if reasons:
        return move(
            submitted,
            "pre_review_fail",
            "govbus",
            Actor.system,
            "; ".join(reasons),
            materials=materials,
        )
    return move(
        submitted, "pre_review_pass", "govbus", Actor.system, materials=materials, reason=None
    )


# --- the department's actions --------------------------------------------------------------


def act(
    case: Case, who: Caller, action: str, reason: str = "", amount: Decimal | None = None
) -> Case:
    who.require(REVIEW_SCOPE)
    if who.agency != case.agency:
        raise Forbidden("only the implementing agency's clerks act on this case")
    updates: dict[str, Any] = {}
    if action == "accept":
        today = _dt.datetime.now(_dt.UTC).date()
        item = catalog.public_version(case.item_code, case.item_version)
        updates = {
            "accepted_at": _dt.datetime.now(_dt.UTC),
            "due": calendar().add_working_days(today, item.promised_days),
        }
    if action == "record_payment":
        if amount is None or Decimal(amount) != case.fee:
            raise ValidationFailed(
                f"the payment recorded must be the fee, {case.fee} yuan", field="amount"
            )
        updates = {"paid": True}
    moved = move(case, action, who.subject, Actor.department, reason, **updates)
    audit.record(f"case.{action}", actor=who.subject, target=case.id, detail=reason)
    if moved.state == CaseState.approved:
        moved = after_approval(moved)
    elif moved.state == CaseState.collected:
        moved = move(moved, "close", "govbus", Actor.system)
    return moved


def after_approval(case: Case) -> Case:
    """Approved: the fee first (never skipped), then the e-licence (or the result)."""
    if case.fee > 0 and not case.paid:
        return move(
            case,
            "await_payment",
            "govbus",
            Actor.system,
            f"fee {case.fee} yuan due before the result is issued",
        )
    item = catalog.public_version(case.item_code, case.item_version)
    if item.result_licence_type:
        personal = cases.personal(case.id)
        publish(
            [
                Event.create(
                    "licence.requested",
                    LicenceRequested(
                        case_id=case.id,
                        issuer=case.agency,
                        type_code=item.result_licence_type,
                        holder_code=personal["code"],
                        holder_name=personal["name"],
                        fields={"case_id": case.id, "item": item.name},
                    ),
                    source=SOURCE,
                    subject=case.id,
                )
            ]
        )
        return case
    return result_issued(case, None)


def result_issued(case: Case, licence_id: str | None) -> Case:
    """The licence (or the item's result) is issued: deliver it if EMS was chosen."""
    note = f"e-licence {licence_id}" if licence_id else "result issued (no e-licence for this item)"
    moved = move(case, "licence_issued", "govbus", Actor.system, note, licence_id=licence_id)
    if case.delivery_method == "ems":
        personal = cases.personal(case.id)
        d = personal["delivery"]
        receiver = Address(
            name=d["name"],
            phone=d["phone"],
            province=d["province"],
            city=d["city"],
            district=d.get("district") or "",
            street=d["street"],
        )
        publish(
            [
                Event.create(
                    "delivery.requested",
                    DeliveryRequested(
                        request=WaybillRequest(case_id=case.id, sender=HALL, receiver=receiver),
                        applicant_key=cases.applicant_key(case.id),
                    ),
                    source=SOURCE,
                    subject=case.id,
                )
            ]
        )
    return moved


def delivered(case: Case) -> Case:
    moved = move(case, "delivered", "govbus", Actor.system, "EMS: delivered")
    return move(moved, "close", "govbus", Actor.system)
