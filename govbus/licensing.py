"""Issuing an e-licence with the issuer's seal, and telling the bus; shared by the
licences API and the consumer of ``licence.requested`` (approval of a case)."""

from __future__ import annotations

from contracts.adapters import CallContext
from contracts.cases import CaseState, LicenceRequested
from contracts.errors import NotFound
from contracts.events import Event
from contracts.licences import IssueRequest, Licence, LicenceIssued
from govbus import audit
from govbus.bus import publish
from govbus.observability import logger
from govbus.plugins import call, plugin_manager
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


def issue_and_announce(request: IssueRequest, issuer: str, actor: str, ctx: CallContext) -> Licence:
    licence = licences.issue(request, issuer, sealer(ctx))
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


def issue_for_case(wanted: LicenceRequested, ctx: CallContext) -> Licence | None:
    """The e-licence an approved case results in, or None if the case is no longer approved.

    The request is sent when the case is approved, and a clerk may still reject the case
    (approved -> rejected) before it is served: a licence is issued only while the case
    is still ``approved``; otherwise nothing is issued and the refusal is logged.
    """
    try:
        state = cases.get(wanted.case_id).state.value
    except NotFound:
        state = "unknown"
    if state != CaseState.approved:
        logger.info(
            "licence request ignored: the case is no longer approved",
            extra={"case_id": wanted.case_id, "case_state": state},
        )
        return None
    return issue_and_announce(
        IssueRequest(
            type_code=wanted.type_code,
            holder_code=wanted.holder_code,
            holder_name=wanted.holder_name,
            fields=wanted.fields,
            case_id=wanted.case_id,
        ),
        wanted.issuer,
        "govbus",
        ctx,
    )
