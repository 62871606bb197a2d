"""The citizen's journey (办件): apply with material reuse, pre-review, department
actions, and what follows approval (fee, e-licence, delivery).

Used by the ``applications`` function (HTTP) and ``case_events`` (the bus). Every
action is validated whole before anything is written, then stored in one transaction
with its timeline entries, a ``case.transitioned`` event per step and the commands it
causes (``licence.requested``, ``delivery.requested``), which the outbox publishes.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError
from pydantic import ValidationError as PydanticValidationError

from contracts.auth import CertificateIdentity, DetachedSignature
from contracts.cases import (
    CLOSES_BY_ITSELF,
    Actor,
    ApplicationRequest,
    Case,
    CaseMaterial,
    CaseState,
    CaseTransitioned,
    LicenceRequested,
    MaterialStatus,
    QueuedCase,
    QueueState,
    Step,
    TimelineEntry,
    WorkQueue,
    advance,
)
from contracts.catalog import ItemLevel, StarLevel
from contracts.delivery import Address, DeliveryRequested, WaybillRequest
from contracts.errors import (
    Conflict,
    Forbidden,
    GovbusError,
    NotFound,
    RetryableError,
    ValidationFailed,
)
from contracts.events import Event
from contracts.identity import code_problem, mask_identifier, parse_subject_code
from contracts.province import (
    ProvinceCaseForward,
    ProvinceForwardRequested,
    ProvinceMaterial,
    ProvinceWithdrawRequested,
)
from govbus import audit, paging, settings
from govbus.auth import SELF, Caller
from govbus.aws import client
from govbus.calendar import calendar
from govbus.http import one_of
from govbus.privacy import subject_key
from govbus.stores import cases, catalog, licences

SOURCE = "govbus.applications"
REVIEW_SCOPE = "cases:review"
PROXY_SCOPE = "cases:proxy"  # window clerks and community proxies (代办)
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
UPLOAD_TYPES = ("application/pdf", "image/jpeg", "image/png", "application/ofd")
# how each allowed type's files begin (OFD, GB/T 33190, is a ZIP package)
_SIGNATURES = {
    "application/pdf": b"%PDF",
    "image/jpeg": b"\xff\xd8\xff",
    "image/png": b"\x89PNG\r\n\x1a\n",
    "application/ofd": b"PK\x03\x04",
}
_KINDS = {
    "application/pdf": "a PDF",
    "image/jpeg": "a JPEG image",
    "image/png": "a PNG image",
    "application/ofd": "an OFD document",
}
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
    return settings.require(settings.platform(), "materials_bucket")


def _transitioned(case: Case, entries: list[TimelineEntry], key: str) -> list[Event]:
    """One ``case.transitioned`` per timeline entry: what each step did to the case."""
    return [
        Event.create(
            "case.transitioned",
            CaseTransitioned(
                case_id=case.id,
                item_code=case.item_code,
                agency=case.agency,
                action=entry.action,
                from_state=entry.from_state,
                to_state=entry.to_state,
                applicant_key=key,
                item_name=case.item_name,
                reason=entry.note or None,
            ),
            source=SOURCE,
            subject=case.id,
        )
        for entry in entries
    ]


SYSTEM = "govbus"


def _follow_ups(case: Case, steps: list[Step]) -> tuple[list[Step], list[Event]]:
    """``steps`` with the steps govbus then takes by itself, and the commands they send.

    Everything is read and validated here, before anything is written: the forward to
    the provincial hall (a province-level case whose city part is approved), its
    withdrawal there, the fee step, the e-licence request, the delivery request (the
    receiver's address must be valid), the automatic close of a rejected, delivered or
    collected case.
    """
    steps = list(steps)
    commands: list[Event] = []
    now = _dt.datetime.now(_dt.UTC)
    for _ in range(8):  # each round adds at most one step; a handful ends every chain
        moved, _entries = advance(case, steps, now)
        if moved.state == CaseState.at_province and case.state != CaseState.at_province:
            commands.append(_forward(moved))
            break
        if moved.state == CaseState.withdrawn and case.state == CaseState.at_province:
            commands += withdraw_at_province(moved)
            break
        if moved.state in CLOSES_BY_ITSELF:
            steps.append(Step(action="close", actor=SYSTEM, actor_kind=Actor.system))
            continue
        if moved.state != CaseState.approved:
            break
        if moved.fee > 0 and not moved.paid:
            steps.append(
                Step(
                    action="await_payment",
                    actor=SYSTEM,
                    actor_kind=Actor.system,
                    note=f"fee {moved.fee} yuan due before the result is issued",
                )
            )
            break
        if moved.level == ItemLevel.province:
            # the province decided and issued the result: record it, deliver as usual
            steps.append(_result_step(moved.licence_id, by="the province"))
            commands += _delivery(moved)
            break
        item = catalog.public_version(moved.item_code, moved.item_version)
        if item.result_licence_type:
            personal = cases.personal(case.id)
            commands.append(
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
            )
            break
        steps.append(_result_step(None))
        commands += _delivery(moved)
        break
    return steps, commands


def _result_step(licence_id: str | None, by: str = "") -> Step:
    if licence_id:
        note = f"e-licence {licence_id}" + (f" issued by {by}" if by else "")
    elif by:
        note = f"result issued by {by} (no e-licence id given)"
    else:
        note = "result issued (no e-licence for this item)"
    return Step(
        action="licence_issued",
        actor=SYSTEM,
        actor_kind=Actor.system,
        note=note,
        updates={"licence_id": licence_id},
    )


def _pinned_reference(material: CaseMaterial) -> str | None:
    """An upload's document-store reference for the hall: its key and, once pre-review
    pinned it, the S3 version pre-review checked (``key?versionId=...``), so the hall
    fetches the bytes the city reviewed, not whatever was posted under the key since."""
    if material.object_key and material.version_id:
        return f"{material.object_key}?versionId={material.version_id}"
    return material.object_key


def _forward(case: Case) -> Event:
    """The command that forwards a province-level case to the provincial hall.

    Materials go as references the hall can fetch: the e-licence id of a reused licence,
    the document-store key of an upload; the applicant's code and name are read from the
    sealed personal data.
    """
    item = catalog.public_version(case.item_code, case.item_version)
    if item.province_code is None:  # the catalogue refuses such an item; never silently
        raise ValidationFailed(f"item {item.code} has no province item code", field="item_code")
    personal = cases.personal(case.id)
    materials = [
        ProvinceMaterial(name=m.name, reference=m.licence_id or _pinned_reference(m))
        for m in case.materials
        if m.status in (MaterialStatus.reused, MaterialStatus.uploaded)
        and (m.licence_id or m.object_key)
    ]
    forward = ProvinceCaseForward(
        case_id=case.id,
        item_code=item.province_code,
        applicant_code=personal["code"],
        applicant_name=personal["name"],
        summary=f"{item.name}：{item.agency_name}初审通过 (the city's preliminary review passed)",
        materials=materials,
    )
    return Event.create(
        "province.forward_requested",
        ProvinceForwardRequested(forward=forward),
        source=SOURCE,
        subject=case.id,
    )


WITHDRAWN_BY_APPLICANT = "申请人撤回 withdrawn by the applicant"


def withdraw_at_province(case: Case) -> list[Event]:
    """The command that withdraws ``case`` at the provincial hall, once its number is known.

    A case withdrawn before the hall's receipt came back has no number yet: the receipt's
    handler sends the command then (govbus/province_cases.py).
    """
    if not case.province_case_no:
        return []
    return [
        Event.create(
            "province.withdraw_requested",
            ProvinceWithdrawRequested(
                case_id=case.id,
                province_case_no=case.province_case_no,
                reason=WITHDRAWN_BY_APPLICANT,
            ),
            source=SOURCE,
            subject=case.id,
        )
    ]


def _delivery(case: Case) -> list[Event]:
    """The EMS delivery request for a case whose result is issued, if EMS was chosen."""
    if case.delivery_method != "ems":
        return []
    receiver = _receiver(cases.personal(case.id)["delivery"])
    return [
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


def _receiver(d: dict[str, Any]) -> Address:
    """The EMS receiver's address, or :class:`ValidationFailed` naming what is wrong."""
    try:
        return Address(
            name=d.get("name") or "",
            phone=d.get("phone") or "",
            province=d.get("province") or "",
            city=d.get("city") or "",
            district=d.get("district") or "",
            street=d.get("street") or "",
        )
    except PydanticValidationError as exc:
        field = ".".join(str(p) for p in exc.errors()[0]["loc"])
        raise ValidationFailed(
            f"EMS delivery needs a valid receiver's {field}", field=f"delivery.{field}"
        ) from None


def change(
    case: Case,
    steps: list[Step],
    commands: list[Event] | None = None,
    extra: Sequence[dict[str, Any]] = (),
) -> Case:
    """Take ``steps`` (and what follows by itself) on ``case``: one write, or nothing.

    The state change, its timeline, its ``case.transitioned`` events and the commands it
    causes are committed together through the outbox, with ``extra`` writes of another
    record that belong to the same change (the order a payment settles).
    """
    steps, follow = _follow_ups(case, steps)
    moved, entries = advance(case, steps, _dt.datetime.now(_dt.UTC))
    key = cases.applicant_key(case.id)
    events = _transitioned(moved, entries, key) + (commands or []) + follow
    return cases.save(case, moved, entries, events, extra)


def move(case: Case, action: str, actor: str, kind: Actor, note: str = "", **updates: Any) -> Case:
    return change(
        case, [Step(action=action, actor=actor, actor_kind=kind, note=note, updates=updates)]
    )


# --- applying --------------------------------------------------------------------------


def may_apply(who: Caller) -> bool:
    """Whether the caller may apply at all: for themselves, or as a proxy for someone."""
    return who.may(PROXY_SCOPE) or (not who.is_department and who.may(SELF))


def _applicant(who: Caller, request: ApplicationRequest) -> tuple[str, str, bool]:
    """(applicant code, kind, acting for someone)."""
    if request.on_behalf_of:
        who.require(PROXY_SCOPE)
        try:
            code = parse_subject_code(request.on_behalf_of)
        except ValueError as exc:
            raise ValidationFailed(
                f"on_behalf_of is not a valid code: {code_problem(exc)}", field="on_behalf_of"
            ) from None
        return str(code), code.kind, True
    if who.is_department or not who.may(SELF):
        raise Forbidden("a department applies only on behalf of someone (on_behalf_of)")
    return who.subject, who.kind, False


UPLOAD_FORM_SECONDS = 3600
# a material's case states in which the applicant may (re)upload it: before submitting, or
# when the case came back for materials; after that what was submitted is frozen
UPLOADABLE = (CaseState.draft, CaseState.returned_for_materials)
_EXTENSIONS = {
    "application/pdf": ".pdf",
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "application/ofd": ".ofd",
}


# every upload is tagged a draft (the form's policy requires it), and the bucket expires
# a draft once it is no longer the latest (template.yaml, expire-unsubmitted-uploads); a
# version pre-review pinned is retagged submitted, so a later upload never expires it
STAGE_TAG = "govbus-material"
_DRAFT_TAGGING = (
    f"<Tagging><TagSet><Tag><Key>{STAGE_TAG}</Key><Value>draft</Value></Tag></TagSet></Tagging>"
)


def upload_form(case_id: str, index: int) -> dict[str, Any]:
    """A presigned POST for one material, one per allowed type: the key, size range and
    the exact Content-Type are in the signed policy (KMS at rest: the bucket's default).

    S3 refuses an upload whose Content-Type is not the one its form names, so nothing but
    an allowed type is ever stored (and served) under a case's key."""
    key = f"cases/{case_id}/{index}"
    s3 = client("s3")
    by_type = {
        content_type: s3.generate_presigned_post(
            Bucket=_bucket(),
            Key=key,
            Fields={"Content-Type": content_type, "tagging": _DRAFT_TAGGING},
            Conditions=[
                ["content-length-range", 1, MAX_UPLOAD_BYTES],
                {"Content-Type": content_type},
                {"tagging": _DRAFT_TAGGING},
            ],
            ExpiresIn=UPLOAD_FORM_SECONDS,
        )
        for content_type in UPLOAD_TYPES
    }
    pdf = by_type["application/pdf"]
    return {
        "index": index,
        "url": pdf["url"],
        "fields": pdf["fields"],  # a PDF's; another type's form is in fields_by_type
        "fields_by_type": {t: form["fields"] for t, form in by_type.items()},
        "object_key": key,
        "max_bytes": MAX_UPLOAD_BYTES,
        "content_types": list(UPLOAD_TYPES),
        "expires_in": UPLOAD_FORM_SECONDS,
    }


def upload_forms(case: Case) -> list[dict[str, Any]]:
    """Fresh upload forms for a case's materials that are uploaded (not reused e-licences),
    while the case is a draft or returned for materials; otherwise 409."""
    if case.state not in UPLOADABLE:
        why = (
            "it was withdrawn and takes no more materials"
            if case.state == CaseState.withdrawn
            else "its materials were submitted and are frozen as pre-review checked them"
        )
        raise Conflict(
            f"case {case.id} is {case.state.value.replace('_', ' ')}: {why}; upload forms "
            "are handed out while a case is a draft or returned for materials"
        )
    return [
        upload_form(case.id, i)
        for i, m in enumerate(case.materials)
        if m.status != MaterialStatus.reused
    ]


def apply(who: Caller, request: ApplicationRequest) -> tuple[Case, list[dict[str, Any]]]:
    item = catalog.public_version(request.item_code.strip().upper())
    if request.channel == "online" and item.star_level < StarLevel.online_application:
        raise ValidationFailed(
            "this item cannot be applied for online yet; please visit the hall", field="item_code"
        )
    code, kind, acting = _applicant(who, request)
    if request.delivery.method == "ems":
        _receiver(request.delivery.model_dump())  # refused now, not when the result ships
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
        level=item.level,
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
    case = cases.create(
        case,
        key,
        personal,
        who.subject,
        Actor.applicant,
        lambda created, entries: _transitioned(created, entries, key),
    )
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


def _object(key: str, version_id: str | None = None) -> dict[str, Any] | None:
    """The head of an uploaded material (a given version of it), or None if none is."""
    extra = {"VersionId": version_id} if version_id else {}
    try:
        return client("s3").head_object(Bucket=_bucket(), Key=key, **extra)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound", "NoSuchVersion"):
            return None
        raise


def _read_upload(key: str) -> tuple[dict[str, Any], bytes | None] | None:
    """The upload under ``key`` as it is now, read once: its head (with the version S3
    gave it) and its bytes, or no bytes when its size or type already refuses it."""
    try:
        got = client("s3").get_object(Bucket=_bucket(), Key=key)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
    body = got.pop("Body")
    if got["ContentLength"] > MAX_UPLOAD_BYTES or got.get("ContentType") not in UPLOAD_TYPES:
        body.close()
        return got, None
    return got, body.read(MAX_UPLOAD_BYTES + 1)


def pre_review(
    case: Case,
    signatures: dict[int, dict[str, str]],
    verify: Verifier,
) -> tuple[list[CaseMaterial], list[str]]:
    """Check every material; returns the materials as found and the reasons it fails.

    Each upload is read once, and what was read is pinned on the material: its S3
    version, the SHA-256 of its bytes, its type and size. A signature is verified over
    exactly those bytes, and readers are later handed exactly that version."""
    reasons: list[str] = []
    today = _dt.datetime.now(_dt.UTC).date()
    checked = []
    applicant = cases.applicant_key(case.id) if signatures else ""
    for index, material in enumerate(case.materials):
        m = material.model_copy()
        m.version_id = m.sha256 = m.content_type = m.size = None
        m.signed = m.signature_verified = False
        m.signer = None
        if m.status == MaterialStatus.reused:
            if licences.usable_by_holder_id(m.licence_id, today) is None:
                reasons.append(
                    f"材料「{m.name}」对应的电子证照已失效 the e-licence for "
                    f"'{m.name}' is no longer valid; upload it instead"
                )
                m.status, m.licence_id = MaterialStatus.missing, None
                m.object_key = f"cases/{case.id}/{index}"  # where its upload will be
            checked.append(m)
            continue
        found = _read_upload(m.object_key) if m.object_key else None
        if found is None:
            m.status = MaterialStatus.missing
            if m.required:
                reasons.append(f"材料「{m.name}」尚未上传 '{m.name}' has not been uploaded")
            checked.append(m)
            continue
        head, body = found
        if body is None or len(body) > MAX_UPLOAD_BYTES:
            m.status = MaterialStatus.missing
            reasons.append(
                f"材料「{m.name}」格式或大小不符 '{m.name}' must be PDF, OFD, JPEG or "
                f"PNG of at most 10 MB"
            )
            checked.append(m)
            continue
        declared = head["ContentType"]
        if not body.startswith(_SIGNATURES[declared]):
            # the type is the uploader's word (the form's field); the first bytes are the
            # file's: an HTML page labelled PDF is not a PDF a reviewer can open
            m.status = MaterialStatus.missing
            reasons.append(
                f"材料「{m.name}」的内容与文件类型不符 '{m.name}' was uploaded as "
                f"{_KINDS[declared]} but its content is not {_KINDS[declared]}: upload the "
                "file itself, with the form of its type"
            )
            checked.append(m)
            continue
        m.status = MaterialStatus.uploaded
        m.version_id = head.get("VersionId")
        m.sha256 = hashlib.sha256(body).hexdigest()
        m.content_type = head["ContentType"]
        m.size = len(body)
        signed = signatures.get(index)
        if signed:
            m.signed = True
            try:
                signer = verify(
                    DetachedSignature(
                        document=body,
                        signature=base64.b64decode(signed["signature"]),
                        certificate_pem=signed["certificate_pem"],
                        algorithm=signed.get("algorithm", "ECDSA-P256-SHA256"),
                    )
                )
                m.signer = mask_identifier(signer.subject_code)
                # a material is signed by whom it is from: a certificate of someone else
                # (lent, or stolen) proves nothing about the applicant's consent
                if subject_key(signer.subject_code) != applicant:
                    reasons.append(
                        f"材料「{m.name}」的签名人不是申请人 '{m.name}' is signed with the "
                        f"certificate of {m.signer}, not the applicant's: sign it with "
                        "the applicant's own certificate"
                    )
                else:
                    m.signature_verified = True
            except RetryableError:
                raise  # the CA cannot be asked now: 503, the case stays as it was
            except (GovbusError, ValueError) as exc:
                reasons.append(
                    f"材料「{m.name}」的电子签名无效 the electronic signature on "
                    f"'{m.name}' does not verify: {exc}"
                )
        checked.append(m)
    return checked, reasons


def _check_signed_indexes(case: Case, indexes: Sequence[int]) -> None:
    """422 naming the index for a signature that would otherwise be silently ignored."""
    seen: set[int] = set()
    for index in indexes:
        field = "signatures"
        if index in seen:
            raise ValidationFailed(f"material {index} is signed twice", field=field)
        seen.add(index)
        if index >= len(case.materials):
            raise ValidationFailed(
                f"there is no material {index} to sign: this case has "
                f"{len(case.materials)} material(s), numbered from 0",
                field=field,
            )
        material = case.materials[index]
        if material.status == MaterialStatus.reused:
            raise ValidationFailed(
                f"material {index} ('{material.name}') is an e-licence reused from the "
                "library, sealed by its issuer: there is no upload of it to sign",
                field=field,
            )


def submit(case: Case, who: Caller, signatures: Sequence[dict[str, Any]], verify: Verifier) -> Case:
    """Submit and pre-review at once: the materials are checked first, then one write.

    ``signatures`` are the applicant's detached signatures, each naming the material
    (``index``) it signs: an index of no material, of a reused e-licence or given twice
    is 422, never silently ignored."""
    advance(case, [Step(action="submit", actor=who.subject, actor_kind=Actor.applicant)], _now())
    _check_signed_indexes(case, [s["index"] for s in signatures])
    materials, reasons = pre_review(case, {s["index"]: s for s in signatures}, verify)
    submit_step = Step(
        action="submit",
        actor=who.subject,
        actor_kind=Actor.applicant,
        updates={"submitted_at": _now()},
    )
    if reasons:
        review = Step(
            action="pre_review_fail",
            actor=SYSTEM,
            actor_kind=Actor.system,
            note="; ".join(reasons),
            updates={"materials": materials},
        )
    else:
        review = Step(
            action="pre_review_pass",
            actor=SYSTEM,
            actor_kind=Actor.system,
            updates={"materials": materials, "reason": None},
        )
    _keep_pinned(materials)
    return change(case, [submit_step, review])


def _keep_pinned(materials: Sequence[CaseMaterial]) -> None:
    """Retag each version pre-review pinned as submitted: the bucket's lifecycle expires
    only drafts, so the version readers are handed outlives any later upload. Harmless if
    the change is then refused: the version is merely kept."""
    s3 = client("s3")
    for m in materials:
        if m.status == MaterialStatus.uploaded and m.object_key and m.version_id:
            s3.put_object_tagging(
                Bucket=_bucket(),
                Key=m.object_key,
                VersionId=m.version_id,
                Tagging={"TagSet": [{"Key": STAGE_TAG, "Value": "submitted"}]},
            )


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


# --- the department's actions --------------------------------------------------------------


MATERIAL_LINK_SECONDS = 300


def material_for(case: Case, who: Caller, index: str) -> dict[str, Any]:
    """A link to one uploaded material for its reader: the case's applicant, or the
    implementing agency's reviewers (each read recorded in the audit chain) while the
    case is not withdrawn; whoever else asks learns nothing of the case."""
    reviewer = may_act(case, who)
    applicant = owned_by(case, who)
    if not (applicant or reviewer):
        raise NotFound(f"no case {case.id}")
    if not applicant and case.state == CaseState.withdrawn:
        # withdrawn, the application is the applicant's again: nothing left to review
        raise Conflict(
            f"case {case.id} was withdrawn by the applicant: its materials are no longer "
            "handed out to reviewers"
        )
    if not (index.isascii() and index.isdigit() and len(index) <= MAX_INDEX_DIGITS):
        count = len(case.materials)
        raise ValidationFailed(
            f"the material index is a whole number of at most {MAX_INDEX_DIGITS} digits; "
            f"this case's {count} material(s) are numbered 0 to {count - 1}",
            field="index",
        )
    link = material_link(case, int(index), drafting=applicant and case.state in UPLOADABLE)
    if reviewer:
        audit.record("case.material_read", actor=who.subject, target=case.id, detail=index)
    return link


MAX_INDEX_DIGITS = 4


def material_link(case: Case, index: int, drafting: bool = False) -> dict[str, Any]:
    """A short-lived link to read one uploaded material (what the reviewer checks): the
    case's applicant, or the implementing agency's reviewers, ask for it.

    Once submitted, a material is read as pre-review pinned it: that S3 version, whatever
    was uploaded under its key since, with its digest. ``drafting``: the applicant of a
    case she may still upload to reads her latest upload (not yet pinned) instead. The
    file is always handed out as an attachment of its allowed type, never shown inline."""
    if not 0 <= index < len(case.materials):
        raise NotFound(f"case {case.id} has no material {index} (it has {len(case.materials)})")
    material = case.materials[index]
    if material.status == MaterialStatus.reused:
        raise NotFound(
            f"material {index} ({material.name}) is the e-licence {material.licence_id} "
            "reused from the library: nothing was uploaded; read it with "
            f"POST /licences/{material.licence_id}/verify"
        )
    key = material.object_key or ""
    latest = _object(key) if drafting and key else None
    pinned_version = material.version_id
    if latest is not None and pinned_version and latest.get("VersionId") == pinned_version:
        latest = None  # the upload pre-review pinned is still the latest: read it as such
    if latest is not None:
        version, content_type, pinned = latest.get("VersionId"), latest.get("ContentType"), False
        size, digest = latest["ContentLength"], None
    elif key and material.status == MaterialStatus.uploaded:
        version, content_type, pinned = material.version_id, material.content_type, True
        size, digest = material.size, material.sha256
    elif drafting:
        raise NotFound(
            f"material {index} ({material.name}) has not been uploaded yet: upload it with "
            f"its form (POST /applications/{case.id}/uploads hands out fresh ones)"
        )
    elif case.submitted_at:
        raise NotFound(
            f"material {index} ({material.name}) was not uploaded when the case was submitted"
        )
    else:
        raise NotFound(
            f"material {index} ({material.name}) has not been submitted yet: a case's "
            "materials are read once its applicant submits it"
        )
    if content_type not in UPLOAD_TYPES:
        content_type = "application/octet-stream"  # never a type a browser renders
    params: dict[str, Any] = {
        "Bucket": _bucket(),
        "Key": key,
        "ResponseContentType": content_type,
        "ResponseContentDisposition": (
            f'attachment; filename="{case.id}-{index}{_EXTENSIONS.get(content_type, "")}"'
        ),
    }
    if version:
        params["VersionId"] = version
    url = client("s3").generate_presigned_url(
        "get_object", Params=params, ExpiresIn=MATERIAL_LINK_SECONDS
    )
    return {
        "index": index,
        "name": material.name,
        "object_key": key,
        "signed": material.signed and pinned,
        "signature_verified": material.signature_verified and pinned,
        "pinned": pinned,
        "version_id": version,
        "sha256": digest,
        "content_type": content_type,
        "size": size,
        "url": url,
        "expires_in": MATERIAL_LINK_SECONDS,
    }


def may_act(case: Case, who: Caller) -> bool:
    """The implementing agency's clerks with the review scope act on (and see) the case."""
    return who.is_department and who.agency == case.agency and who.may(REVIEW_SCOPE)


# --- the department's work queue --------------------------------------------------------


def may_list_queue(who: Caller) -> bool:
    """An agency's reviewers list the cases waiting for it (GET /applications?state=)."""
    return who.is_department and bool(who.agency) and who.may(REVIEW_SCOPE)


def queue_state(value: str | None) -> CaseState:
    """``?state=`` of a work queue: a state a case waits in for its department, else 422."""
    allowed = ", ".join(QueueState)
    if value == CaseState.submitted:
        raise ValidationFailed(
            "no case waits in submitted: it is pre-reviewed in the step that submits it, "
            f"so the cases waiting to be accepted are state=pre_reviewed; state is one of "
            f"{allowed}",
            field="state",
        )
    state = one_of(QueueState, value, "state")
    if state is None:
        raise ValidationFailed(f"state must be one of {allowed}", field="state")
    return CaseState(state.value)


def work_queue(who: Caller, state: CaseState, limit: int, cursor: str | None) -> WorkQueue:
    """A page of the caller's agency's cases waiting in ``state``, the earliest submitted
    first; ``cursor`` is the ``next`` of the page before (signed, bound to this listing)."""
    agency = str(who.agency)
    listing = f"applications:{agency}:{state.value}"
    after = paging.decode_cursor(listing, cursor) if cursor else None
    if after is not None and set(after) != {"case_id", "queued_at"}:
        raise ValidationFailed("next is not a cursor of this listing", field="next")
    found, position = cases.work_queue(agency, state, limit, after)
    return WorkQueue(
        cases=[
            QueuedCase(
                id=case.id,
                item_code=case.item_code,
                item_name=case.item_name,
                state=case.state,
                version=case.version,
                # stored masked; masked again so that no row of any age shows a whole code
                applicant=mask_identifier(case.applicant),
                applicant_kind=case.applicant_kind,
                channel=case.channel.value,
                created_at=created_at,
                submitted_at=case.submitted_at,
                due=case.due,
                overdue=case.overdue,
            )
            for case, created_at in found
        ],
        next=paging.encode_cursor(listing, position) if position else None,
    )


def act(
    case: Case, who: Caller, action: str, reason: str = "", amount: Decimal | None = None
) -> Case:
    if not may_act(case, who):
        # who may not act learns nothing about the case, not even that it exists
        raise NotFound(f"no case {case.id}")
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
    moved = change(
        case,
        [
            Step(
                action=action,
                actor=who.subject,
                actor_kind=Actor.department,
                note=reason,
                updates=updates,
            )
        ],
    )
    audit.record(f"case.{action}", actor=who.subject, target=case.id, detail=reason)
    return moved


def result_issued(case: Case, licence_id: str | None) -> Case:
    """The licence (or the item's result) is issued: with the delivery request if EMS."""
    return change(case, [_result_step(licence_id)], _delivery(case))


def delivered(case: Case, waybill_no: str) -> Case:
    """EMS says it delivered ``waybill_no``: closes the case only if that is its own waybill.

    A signed push names any case it likes; a case collected at the hall, or a waybill that
    is not the one created for this case, changes nothing (``Conflict``, logged by the
    caller). The case's waybill not yet recorded (the push overtook its creation) raises
    ``RetryableError``: the event is tried again.
    """
    from govbus.stores.shipments import ShipmentStore

    if case.delivery_method != "ems":
        raise Conflict(f"case {case.id} is collected at the hall: no EMS delivery closes it")
    if not ShipmentStore(settings.table("shipments")).is_own_waybill(case.id, waybill_no):
        raise Conflict(f"waybill {waybill_no} is not case {case.id}'s own")
    return change(
        case,
        [Step(action="delivered", actor=SYSTEM, actor_kind=Actor.system, note="EMS: delivered")],
    )
