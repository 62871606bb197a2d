"""Online application (网上申请) and the case's life.

POST /applications                      apply for a published item; materials reused from the
                                        e-licence library are listed, the rest get upload forms
POST /applications/{id}/uploads         fresh upload forms, while a draft or returned
POST /applications/{id}/submit          submit: automatic pre-review, pinning each upload
GET  /applications/{id}/materials/{i}   a link to one material (as pinned at submit)
GET  /applications/{id}                 the case with its timeline
GET  /applications?mine=true            the caller's cases
GET  /applications?state=pre_reviewed   a department's work queue: its agency's cases waiting
                                        in that state, the earliest submitted first, paged
POST /applications/{id}/actions         a department's action (accept, approve, reject ...)
POST /applications/{id}/withdraw        the applicant withdraws
POST /applications/{id}/evaluation      the applicant rates a closed case (1-5), once
"""

from govbus import init_phase  # noqa: F401 - first: see govbus/init_phase.py

# isort: split


from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from contracts.adapters import CallContext
from contracts.cases import (
    DEPARTMENT_ACTIONS,
    Actor,
    ApplicationRequest,
    Case,
    CaseState,
    Evaluation,
    QueueState,
    WorkQueue,
    masked_timeline,
)
from contracts.constrained import FeeAmount, Text, bounded_text
from contracts.errors import Conflict, Forbidden, NotFound, ValidationFailed
from govbus import applications, paging
from govbus.auth import SELF, caller
from govbus.http import documented, install_problem_handlers, json_response
from govbus.licensing import verifier
from govbus.observability import logger, metrics, tracer
from govbus.privacy import subject_key
from govbus.routing import HttpResolver
from govbus.stores import cases

app = HttpResolver()
install_problem_handlers(app)


class CaseView(BaseModel):
    """A case as its applicant or its department sees it (identifiers masked)."""

    id: str
    state: str
    version: int
    reused: list[str] = Field(description="materials taken from the e-licence library")
    still_needed: list[str]


class NewCase(CaseView):
    uploads: list[dict] = Field(description="an upload form per material still needed")


class CaseSummary(BaseModel):
    id: str
    item_name: str
    state: str
    due: str | None
    overdue: bool


class CaseList(BaseModel):
    cases: list[CaseSummary]


class SignedMaterial(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # a JSON integer: true or "1" is a mistake of the caller's, not material 1
    index: StrictInt = Field(ge=0, description="the material signed: its position in the case")
    signature: str = Field(min_length=16, max_length=2_000, description="base64")
    certificate_pem: str = Field(min_length=100, max_length=20_000)
    algorithm: str = Field(default="ECDSA-P256-SHA256", max_length=40)


class Submission(BaseModel):
    model_config = ConfigDict(extra="forbid")

    signatures: list[SignedMaterial] = Field(default_factory=list)


class DepartmentAction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: bounded_text(40)
    reason: Text = ""
    amount: FeeAmount | None = None
    # a JSON integer: true or "7" is a mistake of the caller's, not version 1 or 7
    version: StrictInt | None = Field(default=None, description="the case version the clerk saw")


def _ctx() -> CallContext:
    rid = app.current_event.request_context.request_id or "local"
    return CallContext(correlation_id=rid, idempotency_key=rid, timeout_seconds=5)


def _view(case: Case) -> dict:
    doc = case.model_dump(mode="json")
    doc["timeline"] = masked_timeline(doc["timeline"])
    doc["reused"] = [m.name for m in case.materials if m.status == "reused"]
    doc["still_needed"] = [m.name for m in case.materials if m.status in ("needed", "missing")]
    return doc


def _own_case(case_id: str) -> Case:
    case = cases.get(case_id)
    if not applications.owned_by(case, caller(app)):
        # who may not see a case learns nothing about it, not even that it exists
        raise NotFound(f"no case {case_id}")
    return case


@app.post(
    "/applications",
    **documented(
        "Apply for a published service item (网上申请)",
        ok=NewCase,
        status=201,
        body=ApplicationRequest,
        errors=(404, 409),
        scopes=("self", "cases:proxy"),
    ),
)
def apply():
    who = caller(app)
    if not applications.may_apply(who):  # before the body: who may not apply learns nothing
        raise Forbidden("only a citizen, an organisation or a proxy clerk may apply")
    request = ApplicationRequest.model_validate(app.current_event.json_body or {})
    case, forms = applications.apply(who, request)
    return json_response({**_view(case), "uploads": forms}, 201)


@app.post(
    "/applications/<case_id>/submit",
    **documented(
        "Submit a case for automatic pre-review (预审)",
        ok=CaseView,
        body=Submission,
        errors=(404, 409, 422, 503),
        scopes=("self",),
    ),
)
def submit(case_id: str):
    case = _own_case(case_id)
    body = Submission.model_validate(app.current_event.json_body or {})
    signatures = [s.model_dump() for s in body.signatures]
    done = applications.submit(case, caller(app), signatures, verifier(_ctx()))
    return json_response(_view(cases.get(done.id)))


class MaterialLink(BaseModel):
    index: int
    name: str
    object_key: str
    signed: bool
    signature_verified: bool
    pinned: bool = Field(
        description="true: the upload as pre-review checked it at submit (that version, "
        "whatever was uploaded since); false: the applicant's latest upload, not submitted"
    )
    version_id: str | None = Field(description="the S3 version the link reads")
    sha256: str | None = Field(description="the SHA-256 (hex) of the pinned bytes")
    content_type: str = Field(description="the type the file is served as, an attachment")
    size: int | None
    url: str = Field(
        description="a presigned GET of that version of the file, as an attachment, valid "
        "expires_in seconds"
    )
    expires_in: int


class UploadForms(BaseModel):
    uploads: list[dict] = Field(
        description="an upload form per uploaded material: url, fields (a PDF's), "
        "fields_by_type (one per allowed Content-Type), object_key, max_bytes"
    )


@app.post(
    "/applications/<case_id>/uploads",
    **documented(
        "Fresh upload forms for a case's materials, while it is a draft or returned for "
        "materials (409 once submitted: what pre-review checked is frozen)",
        ok=UploadForms,
        errors=(404, 409),
        scopes=("self", "cases:proxy"),
    ),
)
def uploads(case_id: str):
    return json_response({"uploads": applications.upload_forms(_own_case(case_id))})


@app.get(
    "/applications/<case_id>/materials/<index>",
    **documented(
        "A link to read one uploaded material: for the applicant, or the implementing "
        "agency's reviewers (each read by a reviewer is recorded in the audit chain); a "
        "withdrawn case's materials are its applicant's alone (409 to a reviewer)",
        ok=MaterialLink,
        errors=(404, 409, 422),
        scopes=("self", "cases:review"),
    ),
)
def read_material(case_id: str, index: str):
    return json_response(applications.material_for(cases.get(case_id), caller(app), index))


@app.get(
    "/applications/<case_id>",
    **documented(
        "A case with its timeline", ok=CaseView, errors=(404,), scopes=("self", "cases:review")
    ),
)
def read(case_id: str):
    who = caller(app)
    case = cases.get(case_id)
    if not (applications.owned_by(case, who) or applications.may_act(case, who)):
        raise NotFound(f"no case {case_id}")
    return json_response(_view(case))


@app.get(
    "/applications",
    **documented(
        "The caller's own cases (?mine=true); or, for a department's reviewers, its "
        "agency's work queue (?state=): the cases waiting in that state, the earliest "
        "submitted first, a page at a time (?limit=, ?next=)",
        ok=CaseList | WorkQueue,
        errors=(403, 422),
        scopes=("self", "cases:review"),
        query={
            "mine": "true: the caller's own cases (a citizen)",
            "state": "a department's work queue: one of " + ", ".join(QueueState),
            "limit": f"work queue rows a page: 1 to {paging.MAX_LIMIT}, "
            f"default {paging.DEFAULT_LIMIT}",
            "next": "the previous page's next, to read the page after it",
        },
    ),
)
def listing():
    who = caller(app)
    query = app.current_event.query_string_parameters or {}
    citizen = not who.is_department and who.may(SELF)
    if not (citizen or applications.may_list_queue(who)):  # refused before the query is read
        raise Forbidden(
            "cases are listed by their applicant (?mine=true) or by the implementing "
            "agency's reviewers (a client granted cases:review, ?state=)"
        )
    if "state" not in query and "mine" not in query:
        raise ValidationFailed(
            "say which cases: ?mine=true for your own, or ?state= (one of "
            f"{', '.join(QueueState)}) for your agency's work queue",
            field="mine",
        )
    if "state" in query:
        if not applications.may_list_queue(who):
            raise Forbidden(
                "?state= lists a department's work queue, for its agency's reviewers (a "
                "client granted cases:review); your own cases are ?mine=true"
            )
        if "mine" in query:
            raise ValidationFailed(
                "a department lists its agency's work queue: leave out ?mine", field="mine"
            )
        state = applications.queue_state(query.get("state"))
        limit = paging.limit_of(query.get("limit"))
        return json_response(applications.work_queue(who, state, limit, query.get("next")))
    if not citizen:
        raise Forbidden(
            "a department lists the cases waiting for its agency with ?state= (its work "
            "queue, e.g. ?state=pre_reviewed) and reads each with GET /applications/{id}; "
            "?mine=true lists a citizen's own"
        )
    if (query.get("mine") or "").lower() != "true":
        raise ValidationFailed("list your own cases with ?mine=true", field="mine")
    found = cases.by_applicant(subject_key(who.subject))
    return json_response(
        {
            "cases": [
                {
                    "id": c.id,
                    "item_name": c.item_name,
                    "state": c.state,
                    "due": c.due.isoformat() if c.due else None,
                    "overdue": c.overdue,
                }
                for c in found
            ]
        }
    )


@app.post(
    "/applications/<case_id>/actions",
    **documented(
        "A department's action on a case (accept, approve, reject ...)",
        ok=CaseView,
        body=DepartmentAction,
        errors=(403, 404, 409),
        scopes=("cases:review",),
    ),
)
def department_action(case_id: str):
    body = DepartmentAction.model_validate(app.current_event.json_body or {})
    if body.action not in DEPARTMENT_ACTIONS:
        raise ValidationFailed(f"action is one of {', '.join(DEPARTMENT_ACTIONS)}", field="action")
    case = cases.get(case_id)
    who = caller(app)
    if not applications.may_act(case, who):
        if applications.owned_by(case, who):  # the applicant: the case is theirs to see
            raise Forbidden(
                "only the implementing agency's reviewers act on a case; its applicant may "
                f"withdraw it (POST /applications/{case_id}/withdraw)"
            )
        raise NotFound(f"no case {case_id}")
    if body.version is not None and body.version != case.version:
        raise Conflict(
            f"the case changed since you read it (version {body.version}, now "
            f"{case.version}: {case.state.value.replace('_', ' ')})"
        )
    done = applications.act(case, caller(app), body.action, body.reason, body.amount)
    return json_response(_view(cases.get(done.id)))


@app.post(
    "/applications/<case_id>/withdraw",
    **documented(
        "The applicant withdraws a case", ok=CaseView, errors=(404, 409), scopes=("self",)
    ),
)
def withdraw(case_id: str):
    case = _own_case(case_id)
    done = applications.move(
        case, "withdraw", caller(app).subject, Actor.applicant, "withdrawn by the applicant"
    )
    return json_response(_view(cases.get(done.id)))


@app.post(
    "/applications/<case_id>/evaluation",
    **documented(
        "The applicant rates a closed case (1-5), once",
        ok=CaseView,
        body=Evaluation,
        errors=(404, 409),
        scopes=("self",),
    ),
)
def evaluate(case_id: str):
    case = _own_case(case_id)
    if case.state != CaseState.closed:
        raise Conflict("a case is evaluated once it is closed")
    if case.evaluation is not None:
        raise Conflict("this case was already evaluated")
    evaluation = Evaluation.model_validate(app.current_event.json_body or {})
    cases.update_fields(case, evaluation=evaluation)
    return json_response(_view(cases.get(case.id)))


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
