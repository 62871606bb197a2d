"""The service-item catalogue: public reads, department writes, the star-level report.

GET  /catalog/items?q=&agency=&min_star=      search published items (public)
GET  /catalog/items/{code}?version=           one item, latest published or a version (public)
GET  /catalog/report                          shares at 3★+, 4★+ per agency and overall (public)
POST /catalog/items                           a department creates an item (draft v1)
PUT  /catalog/items/{code}                    a change: a new draft version
POST /catalog/items/{code}/publish            publish a version ({"version": n})
GET  /catalog/items/{code}/versions           every version, drafts included (owner)
"""

from govbus import init_phase  # noqa: F401 - first: see govbus/init_phase.py

# isort: split

import hashlib
import json
from collections import defaultdict

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from contracts.catalog import TARGETS, ServiceItem, ServiceItemDraft, StarLevel, agency_of
from contracts.errors import (
    Forbidden,
    InvalidRequest,
    NotFound,
    PreconditionFailed,
    ValidationFailed,
)
from govbus import audit
from govbus.auth import caller
from govbus.http import documented, install_problem_handlers, json_response, whole_number
from govbus.observability import logger, metrics, tracer
from govbus.routing import HttpResolver, Response
from govbus.stores import catalog

WRITE_SCOPE = "catalog:write"
app = HttpResolver()
install_problem_handlers(app)


class ItemSummary(BaseModel):
    code: str
    version: int
    name: str
    agency: str
    agency_name: str
    star_level: int
    level: str
    promised_days: int
    channels: list[str]


class ItemList(BaseModel):
    count: int
    items: list[ItemSummary]


class StarReport(BaseModel):
    """The standardisation report (星级): shares of items at each star level, per agency."""

    overall: dict
    agencies: list[dict]
    targets: list[dict]
    definitions: dict


class ItemVersion(BaseModel):
    version: int
    etag: str = Field(description="this version's ETag: If-Match of a PUT drafting after it")
    status: str
    created_at: str
    published_at: str | None


class ItemVersions(BaseModel):
    code: str
    versions: list[ItemVersion]


class Publish(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # a JSON integer: true or "7" is a mistake of the caller's, not version 1 or 7
    version: StrictInt = Field(ge=1)


def _body(document: dict | list) -> str:
    return json.dumps(document, ensure_ascii=False, sort_keys=True)


def etag_of(document: dict | list) -> str:
    """A representation's ETag: the same for a public read and an editor's answer."""
    return '"' + hashlib.sha256(_body(document).encode()).hexdigest()[:32] + '"'


def cached(document: dict | list) -> Response:
    """A public read with an ETag; If-None-Match answers 304 with no body."""
    body = _body(document)
    etag = etag_of(document)
    headers = {"ETag": etag, "Cache-Control": "public, max-age=60"}
    wanted = app.current_event.headers.get("if-none-match", "")
    if etag in [t.strip() for t in wanted.split(",")] or wanted.strip() == "*":
        return Response(status_code=304, headers=headers, body="")
    return Response(status_code=200, content_type="application/json", headers=headers, body=body)


# a version number a read may ask for; a larger one is a typing error, not a version
MAX_VERSION = 999_999


def _summary(item: ServiceItem) -> dict:
    return {
        "code": item.code,
        "version": item.version,
        "name": item.name,
        "agency": str(item.agency),
        "agency_name": item.agency_name,
        "star_level": int(item.star_level),
        "level": item.level.value,  # province: decided by the provincial department
        "promised_days": item.promised_days,
        "channels": [c.value for c in item.channels],
    }


@app.get(
    "/catalog/items",
    **documented(
        "Search the published service catalogue (办事指南)",
        ok=ItemList,
        errors=(422,),
        scopes=None,
        query={
            "q": "words in the name or guide",
            "agency": "the agency's credit code",
            "min_star": "1-5",
        },
    ),
)
def search():
    q = (app.current_event.get_query_string_value("q") or "").strip().lower()
    agency = app.current_event.get_query_string_value("agency")
    raw_star = app.current_event.get_query_string_value("min_star")
    min_star = whole_number(raw_star, "min_star", 1, 5, default=1)
    found = [
        i
        for i in catalog.published_items()
        if (not q or q in i.name.lower() or q in i.guide.lower())
        and (not agency or str(i.agency) == agency.upper())
        and int(i.star_level) >= min_star
    ]
    return cached({"count": len(found), "items": [_summary(i) for i in found]})


@app.get(
    "/catalog/items/<code>",
    **documented(
        "One published service item's guide",
        ok=ServiceItem,
        errors=(404, 422),
        scopes=None,
        query={"version": "a version number; the latest published if absent"},
    ),
)
def read(code: str):
    raw = app.current_event.get_query_string_value("version")
    version = whole_number(raw, "version", 1, MAX_VERSION)
    return cached(catalog.public_version(code.upper(), version).model_dump(mode="json"))


def share(items: list[ServiceItem], at_least: StarLevel) -> float:
    return (
        round(sum(1 for i in items if i.star_level >= at_least) / len(items), 4) if items else 0.0
    )


def measures(items: list[ServiceItem]) -> dict:
    return {
        "items": len(items),
        "at_least_3_star": share(items, StarLevel.online_application),
        "at_least_4_star": share(items, StarLevel.fully_online),
        "five_star": share(items, StarLevel.no_visit),
    }


@app.get(
    "/catalog/report",
    **documented(
        "The star-level report per agency, with the plan's targets", ok=StarReport, scopes=None
    ),
)
def report():
    items = catalog.published_items()
    by_agency: dict[str, list[ServiceItem]] = defaultdict(list)
    names: dict[str, str] = {}
    for item in items:
        by_agency[str(item.agency)].append(item)
        names[str(item.agency)] = item.agency_name
    overall = measures(items)
    return cached(
        {
            "overall": overall,
            "agencies": [
                {"agency": code, "agency_name": names[code], **measures(group)}
                for code, group in sorted(by_agency.items())
            ],
            "targets": [{**t, "met": overall[t["measure"]] >= t["share"]} for t in TARGETS],
            "definitions": {
                "at_least_3_star": "online application and pre-review (在线申请、网上预审), 3★+",
                "at_least_4_star": "fully online handling (全程网办), 4★+",
                "five_star": "results delivered without a visit, 5★",
            },
        }
    )


def _writer(agency: str):
    who = caller(app)
    who.require(WRITE_SCOPE)
    if who.agency != agency:
        raise Forbidden("a department edits only its own agency's items")
    return who


@app.post(
    "/catalog/items",
    **documented(
        "Draft a new service item",
        ok=ServiceItem,
        status=201,
        body=ServiceItemDraft,
        errors=(409,),
        scopes=("catalog:write",),
    ),
)
def create():
    caller(app).require(WRITE_SCOPE)  # who may not write learns nothing of the body's rules
    draft = ServiceItemDraft.model_validate(app.current_event.json_body or {})
    who = _writer(str(draft.agency))
    item = catalog.create(draft)
    audit.record("catalog.created", actor=who.subject, target=item.code)
    return _editor_answer(item, 201)


def _owned(code: str) -> str:
    try:
        return str(agency_of(code.upper()))
    except ValueError as exc:
        raise ValidationFailed(str(exc), field="code") from None


@app.put(
    "/catalog/items/<code>",
    **documented(
        "Draft a new version of a service item (the body may be what a read answered; "
        "send If-Match with the latest version's ETag so no one's edit is lost)",
        ok=ServiceItem,
        status=201,
        body=ServiceItemDraft,
        errors=(400, 404, 409, 412, 422),
        scopes=("catalog:write",),
    ),
)
def change(code: str):
    code = code.upper()
    who = _writer(_owned(code))
    body = app.current_event.json_body
    if isinstance(body, dict):
        body = _without_read_only(code, body)
    draft = ServiceItemDraft.model_validate(body or {})
    base = _if_match_version(code)
    item = catalog.new_version(code, draft, after=base)
    audit.record("catalog.changed", actor=who.subject, target=code, detail=f"v{item.version}")
    return _editor_answer(item, 201)


# what a read answers beside the draft's fields: the server's, so a PUT of what GET
# returned (changed where the editor changed it) is accepted, and they are ignored
READ_ONLY = ("version", "status", "created_at", "published_at")


def _without_read_only(code: str, body: dict) -> dict:
    if "code" in body and str(body["code"]).upper() != code:
        raise ValidationFailed(
            f"code: the body is item {str(body['code'])[:40]}, the path item {code}", field="code"
        )
    return {k: v for k, v in body.items() if k != "code" and k not in READ_ONLY}


def _if_match_version(code: str) -> int | None:
    """The latest version the editor read, when ``If-Match`` names it (the ETag of that
    version as a read or an edit answered it); 412 when a later version exists. Without
    If-Match, None: the draft follows whatever is latest. An empty If-Match is a
    mistake (a client that lost the ETag), not an absent one: 400."""
    sent = app.current_event.headers.get("if-match")
    wanted = (sent or "").strip()
    if sent is not None and not wanted:
        raise InvalidRequest(
            f"If-Match is empty: send the ETag of the version you read (GET "
            f"/catalog/items/{code}/versions lists them), or leave the header out",
            field="If-Match",
        )
    if not wanted or wanted == "*":
        return None
    existing = catalog.versions(code)
    if not existing:
        raise NotFound(f"no item {code}")
    latest = max(existing, key=lambda v: v.version)
    tags = {t.strip() for t in wanted.split(",")}
    if etag_of(latest.model_dump(mode="json")) not in tags:
        if all(t.startswith("W/") for t in tags):
            # RFC 9110 13.1.1: If-Match compares strongly, so a weak tag never matches
            raise PreconditionFailed(
                'If-Match compares strong ETags only: a weak tag (W/"...") never matches; '
                f"send item {code}'s ETag as a read or an edit answered it"
            )
        raise PreconditionFailed(
            f"item {code} changed since it was read: its latest version is {latest.version} "
            f"({latest.status.value}); read it again (GET /catalog/items/{code}/versions, "
            "or the answer of the last change) and send that ETag"
        )
    return latest.version


def _editor_answer(item: ServiceItem, status: int) -> Response:
    document = item.model_dump(mode="json")
    return Response(
        status_code=status,
        content_type="application/json",
        headers={"ETag": etag_of(document)},
        body=_body(document),
    )


@app.post(
    "/catalog/items/<code>/publish",
    **documented(
        "Publish a drafted version (send If-Match with that version's ETag, the latest "
        "version's, so nothing drafted since you read it is passed over)",
        ok=ServiceItem,
        body=Publish,
        errors=(400, 404, 409, 412, 422),
        scopes=("catalog:write",),
    ),
)
def publish(code: str):
    code = code.upper()
    who = _writer(_owned(code))
    request = Publish.model_validate(app.current_event.json_body or {})
    read = _if_match_version(code)
    if read is not None and read != request.version:
        # the ETag vouches for the version it was read from: publishing another one under
        # it would publish a version the editor never read
        raise PreconditionFailed(
            f"If-Match is the ETag of version {read} of item {code}, but the body publishes "
            f"version {request.version}: send the ETag of the version you publish"
        )
    item = catalog.publish(code, request.version, after=read)
    audit.record("catalog.published", actor=who.subject, target=code, detail=f"v{item.version}")
    return _editor_answer(item, 200)


@app.get(
    "/catalog/items/<code>/versions",
    **documented(
        "Every version of an item, drafts included",
        ok=ItemVersions,
        errors=(404, 422),
        scopes=("catalog:write",),
    ),
)
def list_versions(code: str):
    code = code.upper()
    _writer(_owned(code))
    return json_response(
        {
            "code": code,
            "versions": [
                {
                    "version": v.version,
                    "etag": etag_of(v.model_dump(mode="json")),  # If-Match of the next PUT
                    "status": v.status.value,
                    "created_at": v.created_at.isoformat(),
                    "published_at": v.published_at.isoformat() if v.published_at else None,
                }
                for v in sorted(catalog.versions(code), key=lambda v: v.version)
            ],
        }
    )


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
