"""The e-licence library.

POST /licences                 issue (a department with licences:issue, for its own agency)
GET  /licences/{id}            the holder, the issuer, or a department with licences:read
GET  /licences?holder=CODE     the holder themself, or a department with licences:read
GET  /licences?mine=true       the caller's own licences
POST /licences/{id}/verify     anyone relying on a licence: seal, validity, revocation
POST /licences/{id}/revoke     the issuer, with a reason (another agency: 403)
"""

from govbus import init_phase  # noqa: F401 - first: see govbus/init_phase.py

# isort: split

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from contracts.adapters import CallContext
from contracts.constrained import bounded_text
from contracts.errors import Forbidden, NotFound, ValidationFailed
from contracts.events import Event
from contracts.identity import mask_identifier
from contracts.licences import IssueRequest, Licence, LicenceRevoked
from govbus import audit
from govbus.auth import SELF, Caller, caller
from govbus.bus import publish
from govbus.http import documented, install_problem_handlers, json_response
from govbus.licensing import issue_by_department, verifier
from govbus.observability import logger, metrics, tracer
from govbus.routing import HttpResolver
from govbus.stores import licences

ISSUE, READ = "licences:issue", "licences:read"
SOURCE = "govbus.licences"
app = HttpResolver()
install_problem_handlers(app)


class HolderLicences(BaseModel):
    holder: str = Field(description="masked")
    licences: list[Licence]


class LicenceCheck(BaseModel):
    """Every check a relying party needs, each with its outcome."""

    valid: bool
    checks: dict


class Revocation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: bounded_text(500) = Field(min_length=4)


def _ctx() -> CallContext:
    rid = app.current_event.request_context.request_id or "local"
    return CallContext(correlation_id=rid, idempotency_key=rid, timeout_seconds=5)


def _issued_by(who: Caller, licence: Licence) -> bool:
    """A client of the issuing agency that may issue (and so revoke) its licences."""
    return who.agency == licence.issuer and who.may(ISSUE)


def view(licence: Licence, who: Caller) -> dict:
    """Full data for the holder and entitled departments; masked for the rest."""
    doc = licence.model_dump(mode="json", exclude={"signing_certificate_pem"})
    entitled = who.is_self(licence.holder_code) or who.may(READ) or _issued_by(who, licence)
    if not entitled:
        doc.update(
            holder_code=mask_identifier(licence.holder_code),
            holder_name="***",
            fields={k: "***" for k in licence.fields},
        )
    return doc


@app.post(
    "/licences",
    **documented(
        "Issue an e-licence (电子证照)",
        ok=Licence,
        status=201,
        body=IssueRequest,
        errors=(403, 409, 422, 502, 503),
        scopes=("licences:issue",),
    ),
)
def issue():
    who = caller(app)
    who.require(ISSUE)
    if not who.agency:
        raise Forbidden("only a department's client can issue licences")
    request = IssueRequest.model_validate(app.current_event.json_body or {})
    licence = issue_by_department(request, who.agency, who.subject, _ctx())
    return json_response(view(licence, who), 201)


@app.get(
    "/licences",
    **documented(
        "A holder's licences",
        ok=HolderLicences,
        errors=(422,),
        scopes=("self", "licences:read"),
        query={
            "holder": "a citizen ID or credit code",
            "mine": "true: the caller's own licences (a citizen or an organisation)",
        },
    ),
)
def by_holder():
    who = caller(app)
    holder = (app.current_event.get_query_string_value("holder") or "").strip().upper()
    mine = (app.current_event.get_query_string_value("mine") or "").lower() == "true"
    if mine and not holder and not who.is_department and who.may(SELF):
        holder = who.subject  # ?mine=true, as applications, bills and tickets have it
    if not holder:
        raise ValidationFailed(
            "say whose licences: ?mine=true (your own) or ?holder=<citizen ID or credit code>",
            field="holder",
        )
    if not (who.is_self(holder) or who.may(READ)):
        raise Forbidden("only the holder or a department granted licences:read may list these")
    found = licences.by_holder(holder)
    if not who.is_self(holder):
        audit.record(
            "licence.listed", actor=who.subject, target=holder, detail=f"{len(found)} licence(s)"
        )
    return json_response(
        {"holder": mask_identifier(holder), "licences": [view(lic, who) for lic in found]}
    )


@app.get(
    "/licences/<licence_id>",
    **documented(
        "One licence (masked unless the caller is entitled)",
        ok=Licence,
        errors=(404, 422),
        scopes=(),
    ),
)
def read(licence_id: str):
    who = caller(app)
    licence = licences.get(licence_id)
    if not (who.is_self(licence.holder_code) or who.may(READ) or _issued_by(who, licence)):
        # another's licence is as unknown as one never issued (a holder, the issuer or a
        # department granted licences:read reads it; anyone may verify it by its id)
        raise NotFound(f"no licence {licence_id}")
    return json_response(view(licence, who))


@app.post(
    "/licences/<licence_id>/verify",
    **documented(
        "Verify a licence: seal, issuer, validity, revocation",
        ok=LicenceCheck,
        errors=(404, 422, 502, 503),
        scopes=None,
    ),
)
def verify(licence_id: str):
    return json_response(licences.verify(licence_id, verifier(_ctx())))


@app.post(
    "/licences/<licence_id>/revoke",
    **documented(
        "Revoke a licence",
        ok=Licence,
        body=Revocation,
        errors=(403, 404, 409, 422),
        scopes=("licences:issue",),
    ),
)
def revoke(licence_id: str):
    who = caller(app)
    who.require(ISSUE)
    licence = licences.get(licence_id)
    if not _issued_by(who, licence):  # refused before the body is read
        raise Forbidden(
            f"only the issuer can revoke a licence: this one was issued by {licence.issuer}"
        )
    why = Revocation.model_validate(app.current_event.json_body or {})
    licence = licences.revoke(licence_id, who.agency or "", why.reason)
    publish(
        [
            Event.create(
                "licence.revoked",
                LicenceRevoked(
                    licence_id=licence.id,
                    type_code=licence.type_code,
                    issuer=licence.issuer,
                    holder_key=licences.holder_key_of(licence),
                    reason=why.reason,
                ),
                source=SOURCE,
                subject=licence.id,
            )
        ]
    )
    audit.record(
        "licence.revoked",
        actor=who.subject,
        target=licence.holder_code,
        detail=f"{licence.id}: {why.reason}",
    )
    return json_response(view(licence, who))


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
