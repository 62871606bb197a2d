"""Issuing an e-licence with the issuer's seal, and telling the bus; shared by the
licences API and the consumer of ``licence.requested`` (approval of a case)."""

from __future__ import annotations

from contracts.adapters import CallContext
from contracts.events import Event
from contracts.licences import IssueRequest, Licence, LicenceIssued
from govbus import audit
from govbus.bus import publish
from govbus.plugins import call, plugin_manager
from govbus.stores import licences

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
