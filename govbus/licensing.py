"""Issuing an e-licence with the issuer's seal, and telling the bus; shared by the
licences API and the consumer of ``licence.requested`` (approval of a case)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from contracts.adapters import CallContext
from contracts.cases import CaseState, LicenceRequested
from contracts.errors import Conflict, Forbidden, NotFound, ValidationFailed
from contracts.events import Event
from contracts.licences import LICENCE_TYPES, IssueRequest, Licence, LicenceIssued
from govbus import audit
from govbus.bus import publish
from govbus.observability import logger
from govbus.plugins import call, plugin_manager
from govbus.privacy import subject_key
from govbus.stores import cases, licences

SOURCE = "govbus.licences"
CA = "ca"


def sealer(ctx: CallContext):
    def seal(document: bytes, agency: str):
        return call(
            plugin_manager(), CA, "govbus_ca_seal", document=document, agency=agency, ctx=ctx
        )

    return seal


def verifier(ctx: CallContext):
    def verify(signed):
        return call(plugin_manager(), CA, "govbus_ca_verify_signature", signed=signed, ctx=ctx)

    return verify


def issue_and_announce(
    request: IssueRequest,
    issuer: str,
    actor: str,
    ctx: CallContext,
    conditions: Sequence[dict[str, Any]] = (),
) -> Licence:
    licence = licences.issue(request, issuer, sealer(ctx), conditions)
    publish(
        [
            Event.create(
                "licence.issued",
                LicenceIssued(
                    licence_id=licence.id,
                    type_code=licence.type_code,
                    issuer=issuer,
                    holder_key=licences.holder_key_of(licence),
                    case_id=licence.case_id,
                ),
                source=SOURCE,
                subject=licence.id,
                correlation_id=ctx.correlation_id,
            )
        ]
    )
    audit.record("licence.issued", actor=actor, target=licence.holder_code, detail=licence.id)
    return licence


MAX_CASE_ID = 200


def issue_by_department(
    request: IssueRequest, agency: str, actor: str, ctx: CallContext
) -> Licence:
    """A licence a department issues itself (``POST /licences``).

    One that names a case is that case's result: the case must exist, be the issuing
    agency's, be ``approved`` (at the moment of the write too, in one transaction) and
    the holder must be its applicant. Otherwise nothing is issued: 422 for a case or
    holder that does not fit, 403 for another agency's case, 409 for a case that is not
    (or no longer) approved.
    """
    require_issuer(request.type_code, agency)
    if request.case_id is None:
        return issue_and_announce(request, agency, actor, ctx)
    if not request.case_id.strip() or len(request.case_id) > MAX_CASE_ID:
        # no case has such an id; DynamoDB would refuse the key itself (a 5xx)
        raise ValidationFailed(f"no case {request.case_id[:40]!r}", field="case_id")
    try:
        case, applicant = cases.head_and_applicant(request.case_id)
    except (NotFound, ValidationFailed):
        raise ValidationFailed(f"no case {request.case_id!r}", field="case_id") from None
    if case.agency != agency:
        raise Forbidden("the case is another agency's: its licence is that agency's to issue")
    if case.state != CaseState.approved:
        state = case.state.value.replace("_", " ")
        raise Conflict(f"the case is {state}: a case's licence is issued while it is approved")
    if applicant != subject_key(request.holder_code.strip().upper()):
        raise ValidationFailed("the holder is not the case's applicant", field="holder_code")
    try:
        return issue_and_announce(
            request,
            agency,
            actor,
            ctx,
            conditions=[cases.state_check(case.id, CaseState.approved)],
        )
    except licences.ConditionNotMet:
        raise Conflict(
            "the case changed while the licence was issued: it is not approved"
        ) from None


def require_issuer(type_code: str, agency: str) -> None:
    """403 unless ``agency`` is an issuer of the licence type in the licence directory.

    An unknown type is left to the store's validation (422): there is no issuer to ask.
    """
    kind = LICENCE_TYPES.get(type_code.strip())
    if kind is not None and not kind.issued_by(agency):
        raise Forbidden(
            f"agency {agency} does not issue licence type {kind.code} ({kind.name}); "
            f"its issuer is {', '.join(kind.issuers) or 'no agency of this city'}"
        )


def issue_for_case(wanted: LicenceRequested, ctx: CallContext) -> Licence | None:
    """The e-licence an approved case results in, or None if the case is no longer approved.

    The request is sent when the case is approved, and a clerk may still reject the case
    (approved -> rejected) before it is served: a licence is issued only while the case
    is still ``approved``; otherwise nothing is issued and the refusal is logged. The
    state is read first (no seal is asked for a rejected case), and the licence's write
    holds only if the case is still approved at that moment (a rejection that lands
    between the read and the write stops it too).
    """
    try:
        state = cases.get(wanted.case_id).state.value
    except NotFound:
        state = "unknown"
    if state != CaseState.approved:
        return _ignored(wanted, state)
    try:
        return issue_and_announce(
            _request_of(wanted),
            wanted.issuer,
            "govbus",
            ctx,
            conditions=[cases.state_check(wanted.case_id, CaseState.approved)],
        )
    except licences.ConditionNotMet:
        return _ignored(wanted, "changed while the licence was issued")


def _ignored(wanted: LicenceRequested, state: str) -> None:
    logger.info(
        "licence request ignored: the case is no longer approved",
        extra={"case_id": wanted.case_id, "case_state": state},
    )
    return None


def _request_of(wanted: LicenceRequested) -> IssueRequest:
    return IssueRequest(
        type_code=wanted.type_code,
        holder_code=wanted.holder_code,
        holder_name=wanted.holder_name,
        fields=wanted.fields,
        case_id=wanted.case_id,
    )
