"""Information disclosure (政务公开): agencies publish, everyone reads.

GET  /disclosure/documents?agency=&item=&kind=&from=&to=&q=   published documents (public)
GET  /disclosure/documents/{id}?as_of=YYYY-MM-DD     the version in force (then) (public)
GET  /disclosure/agencies/{code}/feed.atom           an agency's Atom 1.0 feed (public)
GET  /disclosure/items/{code}                        the documents of a service item (public)
POST /disclosure/documents                           an agency drafts a document (v1)
PUT  /disclosure/documents/{id}                      a change: a new draft version
POST /disclosure/documents/{id}/publish              publish a version ({"version": n})
GET  /disclosure/documents/{id}/versions             every version, drafts included (owner)
"""

from govbus import init_phase  # noqa: F401 - first: see govbus/init_phase.py

# isort: split

import datetime as dt
import hashlib
import json

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from contracts.disclosure import DisclosureDocument, DisclosureDraft, DocumentKind, is_document_id
from contracts.errors import Forbidden, NotFound, ValidationFailed
from contracts.identity import CreditCode
from govbus import audit
from govbus.auth import caller
from govbus.disclosure import atom_feed, select, summary
from govbus.http import documented, install_problem_handlers, json_response
from govbus.observability import logger, metrics, tracer
from govbus.routing import HttpResolver, Response
from govbus.stores import disclosure

PUBLISH_SCOPE = "disclosure:publish"
app = HttpResolver()
install_problem_handlers(app)


class DocumentSummary(BaseModel):
    id: str
    version: int
    agency: str
    kind: str
    title: str
    items: list[str]
    effective_from: str
    published_at: str | None


class DocumentList(BaseModel):
    count: int
    documents: list[DocumentSummary]


class ItemDocuments(DocumentList):
    item: str


class DocumentVersions(BaseModel):
    id: str
    versions: list[dict]


class Publish(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # a JSON integer: true or "7" is a mistake of the caller's, not version 1 or 7
    version: StrictInt = Field(ge=1)


def _public(body: str, content_type: str) -> Response:
    """A public read with an ETag; If-None-Match answers 304 with no body."""
    etag = '"' + hashlib.sha256(body.encode()).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": "public, max-age=60"}
    wanted = app.current_event.headers.get("if-none-match", "")
    if etag in [t.strip() for t in wanted.split(",")]:
        return Response(status_code=304, headers=headers, body="")
    return Response(status_code=200, content_type=content_type, headers=headers, body=body)


def _public_json(document: dict) -> Response:
    return _public(json.dumps(document, ensure_ascii=False, sort_keys=True), "application/json")


def _query(name: str) -> str | None:
    value = app.current_event.get_query_string_value(name)
    return value.strip() if value and value.strip() else None


def _date(name: str) -> dt.date | None:
    raw = _query(name)
    try:
        return dt.date.fromisoformat(raw) if raw else None
    except ValueError:
        raise ValidationFailed(f"{name} is a date like 2017-06-30", field=name) from None


def _agency(raw: str, field: str) -> str:
    try:
        return str(CreditCode(raw.strip().upper()))
    except ValueError as exc:
        # a person reads the reason, not the validation library's report
        errors = getattr(exc, "errors", None)
        reason = errors()[0]["msg"] if callable(errors) else str(exc)
        raise ValidationFailed(
            f"{field}: not a valid credit code ({reason})", field=field
        ) from None


def _document_id(raw: str) -> str:
    if not is_document_id(raw):
        raise NotFound(f"no document {raw[:40]}")
    return raw


@app.get(
    "/disclosure/documents",
    **documented(
        "Published notices, policies and guides (政务公开)",
        ok=DocumentList,
        errors=(422,),
        scopes=None,
        query={
            "q": "words",
            "agency": "a credit code",
            "item": "a service item code",
            "kind": "the document kind",
            "from": "YYYY-MM-DD",
            "to": "YYYY-MM-DD",
        },
    ),
)
def list_documents():
    kind = _query("kind")
    if kind and kind not in {k.value for k in DocumentKind}:
        raise ValidationFailed(
            f"kind is one of {', '.join(k.value for k in DocumentKind)}", field="kind"
        )
    agency = _query("agency")
    found = select(
        q=_query("q"),
        agency=_agency(agency, "agency") if agency else None,
        item=(_query("item") or "").upper() or None,
        kind=DocumentKind(kind) if kind else None,
        effective_from=_date("from"),
        effective_to=_date("to"),
    )
    return _public_json({"count": len(found), "documents": [summary(d) for d in found]})


@app.get(
    "/disclosure/documents/<doc_id>",
    **documented(
        "One published document, as in force on a day",
        ok=DisclosureDocument,
        errors=(404, 422),
        scopes=None,
        query={"as_of": "YYYY-MM-DD"},
    ),
)
def read(doc_id: str):
    document = disclosure.in_force(_document_id(doc_id), _date("as_of"))
    return _public_json(document.model_dump(mode="json"))


@app.get(
    "/disclosure/agencies/<code>/feed.atom",
    **documented(
        "An agency's Atom feed of published documents",
        ok=str,
        content_type="application/atom+xml",
        errors=(422,),
        scopes=None,
    ),
)
def feed(code: str):
    agency = _agency(code, "code")
    return _public(atom_feed(agency, disclosure.listed(f"AGENCY#{agency}")), "application/atom+xml")


@app.get(
    "/disclosure/items/<code>",
    **documented("The published documents behind a service item", ok=ItemDocuments, scopes=None),
)
def item_documents(code: str):
    code = code.strip().upper()
    found = select(item=code)
    return _public_json(
        {"item": code, "count": len(found), "documents": [summary(d) for d in found]}
    )


def _publisher(agency: str):
    who = caller(app)
    who.require(PUBLISH_SCOPE)
    if who.agency != agency:
        raise Forbidden("an agency publishes only its own documents")
    return who


def _owned(doc_id: str) -> str:
    existing = disclosure.versions(_document_id(doc_id))
    if not existing:
        raise NotFound(f"no document {doc_id}")
    return str(existing[0].agency)


@app.post(
    "/disclosure/documents",
    **documented(
        "Draft a document",
        ok=DisclosureDocument,
        status=201,
        body=DisclosureDraft,
        errors=(409,),
        scopes=("disclosure:publish",),
    ),
)
def create():
    draft = DisclosureDraft.model_validate(app.current_event.json_body or {})
    who = _publisher(str(draft.agency))
    document = disclosure.create(draft)
    audit.record("disclosure.created", actor=who.subject, target=document.id)
    return json_response(document, 201)


@app.put(
    "/disclosure/documents/<doc_id>",
    **documented(
        "Draft a new version of a document",
        ok=DisclosureDocument,
        status=201,
        body=DisclosureDraft,
        errors=(404, 409),
        scopes=("disclosure:publish",),
    ),
)
def change(doc_id: str):
    who = _publisher(_owned(doc_id))
    draft = DisclosureDraft.model_validate(app.current_event.json_body or {})
    document = disclosure.new_version(doc_id, draft)
    audit.record(
        "disclosure.changed", actor=who.subject, target=doc_id, detail=f"v{document.version}"
    )
    return json_response(document, 201)


@app.post(
    "/disclosure/documents/<doc_id>/publish",
    **documented(
        "Publish a drafted version",
        ok=DisclosureDocument,
        body=Publish,
        errors=(404, 409),
        scopes=("disclosure:publish",),
    ),
)
def publish(doc_id: str):
    who = _publisher(_owned(doc_id))
    request = Publish.model_validate(app.current_event.json_body or {})
    document = disclosure.publish(doc_id, request.version, logger.get_correlation_id())
    audit.record(
        "disclosure.published", actor=who.subject, target=doc_id, detail=f"v{document.version}"
    )
    return json_response(document)


@app.get(
    "/disclosure/documents/<doc_id>/versions",
    **documented(
        "Every version of a document, drafts included",
        ok=DocumentVersions,
        errors=(404,),
        scopes=("disclosure:publish",),
    ),
)
def list_versions(doc_id: str):
    _publisher(_owned(doc_id))
    return json_response(
        {
            "id": doc_id,
            "versions": [
                {
                    "version": v.version,
                    "status": v.status.value,
                    "effective_from": v.effective_from.isoformat(),
                    "created_at": v.created_at.isoformat(),
                    "published_at": v.published_at.isoformat() if v.published_at else None,
                }
                for v in sorted(disclosure.versions(doc_id), key=lambda v: v.version)
            ],
        }
    )


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
