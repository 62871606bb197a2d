"""RFC 9457 problem+json: the one place domain exceptions become HTTP responses."""

from __future__ import annotations

import json
import re
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contracts import errors
from contracts.constrained import loads_bounded
from govbus.observability import logger
from govbus.routing import HttpResolver, Response

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_BASE = "https://govbus.example/problems/"

# (status, type slug, title) per exception; the most specific class wins.
_MAPPING: list[tuple[type[Exception], int, str, str]] = [
    (errors.PayloadTooLarge, 413, "payload-too-large", "Request body too large"),
    (errors.UnsupportedMediaType, 415, "unsupported-media-type", "The body is not JSON"),
    (errors.StaleTimestamp, 401, "stale-timestamp", "Timestamp outside the accepted window"),
    (errors.ReplayedDelivery, 401, "replayed-delivery", "Delivery already received"),
    (errors.SignatureInvalid, 401, "invalid-signature", "Signature does not verify"),
    (errors.Unauthenticated, 401, "unauthenticated", "Authentication required"),
    (errors.Forbidden, 403, "forbidden", "Not allowed"),
    (errors.AdapterNotFound, 404, "unknown-partner", "Unknown partner"),
    (errors.NotFound, 404, "not-found", "Not found"),
    (errors.PreconditionFailed, 412, "precondition-failed", "Changed since it was read"),
    (errors.Conflict, 409, "conflict", "Conflict with the current state"),
    (errors.ValidationFailed, 422, "validation-failed", "The request breaks a rule"),
    (errors.InvalidRequest, 400, "invalid-request", "The request cannot be read"),
    (errors.CircuitOpen, 503, "partner-unavailable", "Partner temporarily unavailable"),
    (errors.RetryableError, 503, "partner-unavailable", "Partner temporarily unavailable"),
    # a card that cannot pay is the payer's to fix (another card, another channel)
    (errors.CardUnusable, 422, "card-unusable", "The citizen card cannot pay"),
    (errors.InsufficientBalance, 422, "insufficient-balance", "The card balance is too low"),
    (errors.PartnerError, 502, "partner-error", "The partner refused the request"),
]


# a detail says why in a sentence; one that quotes a caller's input at length is cut
MAX_DETAIL_CHARS = 300


# what a problem must not carry raw from a caller's input (a path value, a body's key):
# control characters (a newline forges a log line, ESC drives a terminal), line and
# paragraph separators, and the bidi controls that make text read in another order
_UNSHOWABLE = re.compile(
    r"[\x00-\x1f\x7f-\x9f"  # C0 controls, DEL, C1 controls
    r"\u2028\u2029"  # line and paragraph separators
    r"\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"  # bidi marks, overrides, isolates
)


def printable(value: Any) -> Any:
    """``value`` with each control or bidi-override character written out as ``\\uXXXX``
    (strings in lists and dicts too), so a person's terminal or log shows what was sent."""
    if isinstance(value, str):
        return _UNSHOWABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", value)
    if isinstance(value, list):
        return [printable(v) for v in value]
    if isinstance(value, dict):
        return {k: printable(v) for k, v in value.items()}
    return value


def problem(status: int, slug: str, title: str, detail: str, **extensions: Any) -> Response:
    detail = printable(detail)
    if len(detail) > MAX_DETAIL_CHARS:
        detail = detail[: MAX_DETAIL_CHARS - 3] + "..."
    body = {"type": PROBLEM_BASE + slug, "title": title, "status": status, "detail": detail}
    body.update({k: printable(v) for k, v in extensions.items() if v is not None})
    return Response(
        status_code=status,
        content_type=PROBLEM_CONTENT_TYPE,
        body=json.dumps(body, ensure_ascii=False),
    )


def problem_for(exc: Exception) -> Response:
    for cls, status, slug, title in _MAPPING:
        if isinstance(exc, cls):
            field = getattr(exc, "field", None)
            return problem(status, slug, title, str(exc) or title, field=field)
    raise exc


def validation_problem(exc: ValidationError) -> Response:
    """A pydantic error as 422, naming every failing field, never echoing the input."""
    invalid = [
        {"field": ".".join(str(p) for p in err["loc"]) or "(body)", "reason": _reason(err)}
        for err in exc.errors(include_input=False, include_url=False)
    ]
    first = invalid[0]
    detail = (
        f"{first['field']} {first['reason']}"
        if first["reason"] == UNKNOWN_FIELD
        else f"{first['field']}: {first['reason']}"
    )
    return problem(
        422,
        "validation-failed",
        "The request breaks a rule",
        detail,
        field=first["field"],
        invalid_params=invalid,
    )


# pydantic's prefixes for a validator's own exception: the sentence after them is ours
_PREFIXES = ("Value error, ", "Assertion failed, ")


# a field a body does not define (a typo, a field of another route): every request body
# model forbids extras, so a misspelt field is refused rather than silently dropped
UNKNOWN_FIELD = "is not a field of this body"


def _reason(err: Any) -> str:
    if err["type"] == "extra_forbidden":
        return UNKNOWN_FIELD
    message = err["msg"]
    for prefix in _PREFIXES:
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message


E = TypeVar("E", bound=StrEnum)


def one_of[E: StrEnum](enum: type[E], value: str | None, field: str) -> E | None:
    """A query value that names one member of ``enum`` (None when absent); else 422
    naming every value allowed (a listing's ``?status=``, ``?state=``). An empty value
    (``?status=``) is refused too: a filter left blank is a mistake, not "no filter"."""
    if value is None:
        return None
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise errors.ValidationFailed(f"{field} must be one of {allowed}", field=field) from None


def whole_number(
    value: str | None, field: str, low: int, high: int, default: int | None = None
) -> int | None:
    """A number a query or path carries: ASCII digits from ``low`` to ``high``
    (``default`` when absent), else 422 naming ``field`` and the range.

    Never ``int(value)`` alone: it also reads "١" (Arabic-Indic), "１" (fullwidth),
    " 5", "+5" and "1_0" as numbers."""
    if value is None:
        return default
    if not (value.isascii() and value.isdigit()) or not low <= int(value) <= high:
        raise errors.ValidationFailed(
            f"{field} must be a whole number from {low} to {high}, in digits 0-9", field=field
        )
    return int(value)


def parse_json(text: str) -> Any:
    """Every JSON body a route reads: size, depth and numbers bounded (400/413, not 5xx)."""
    return loads_bounded(text)


def install_problem_handlers(app: HttpResolver) -> None:
    """Map every domain exception (and pydantic's) to problem+json on ``app``.

    Also makes ``app.current_event.json_body`` read bodies with :func:`parse_json`, so
    that every route's body parsing is the one bounded parser.
    """
    # the resolvers are built at each function's top level: the deserializer is set here,
    # in the one place they share
    app.json_deserializer = parse_json

    @app.exception_handler(ValidationError)
    def _validation(exc: ValidationError) -> Response:
        return validation_problem(exc)

    @app.exception_handler(UnicodeDecodeError)
    def _not_utf8(exc: UnicodeDecodeError) -> Response:
        return problem(
            400,
            "invalid-request",
            "The request cannot be read",
            "the body is not valid UTF-8",
            field="(body)",
        )

    @app.exception_handler(errors.GovbusError)
    def _domain(exc: errors.GovbusError) -> Response:
        response = problem_for(exc)
        logger.info("request refused", extra={"status": response.status_code, "reason": str(exc)})
        return response

    @app.not_found
    def _not_found(exc: Exception) -> Response:
        return problem(404, "not-found", "Not found", "no route matches this path and method")


def json_response(model: BaseModel | dict[str, Any], status: int = 200) -> Response:
    body = (
        model.model_dump_json()  # UTF-8 (食品): a dict's answer is written the same way
        if isinstance(model, BaseModel)
        else json.dumps(model, ensure_ascii=False)
    )
    return Response(status_code=status, content_type="application/json", body=body)


# --- OpenAPI: what each route documents --------------------------------------------------
# The document is generated from the routes (``make openapi``, govbus_dev/openapi.py):
# each route decorator takes ``**documented(...)``, which is plain data for Powertools'
# schema generator. Nothing here builds a JSON schema at import, so a cold start pays for
# a few small dicts; bodies are still read by :func:`parse_json` and validated by the
# route's own ``Model.model_validate``, never by Powertools' plain ``json.loads``.

TOKEN_SCHEME = "govbusToken"  # noqa: S105 - the security scheme's name, not a secret
COMPONENTS = "#/components/schemas/"


# the three models below only describe answers in the OpenAPI document (the answers are
# written as dicts): built when the document is, never in a function's cold start
_DOCUMENT_ONLY = ConfigDict(defer_build=True)


class InvalidParam(BaseModel):
    model_config = _DOCUMENT_ONLY

    field: str
    reason: str


class Problem(BaseModel):
    """RFC 9457 problem details: every refusal govbus answers itself."""

    model_config = _DOCUMENT_ONLY

    type: str = Field(description="a URI naming the kind of problem")
    title: str
    status: int = Field(ge=400, le=599)
    detail: str = Field(description="why, in words a person understands")
    field: str | None = Field(default=None, description="the input at fault, if one is")
    invalid_params: list[InvalidParam] | None = None


class GatewayMessage(BaseModel):
    """What API Gateway answers itself (no token, a refused token) before any function."""

    model_config = _DOCUMENT_ONLY

    message: str


# every model a route names as its request body, by component name (the tool renders them,
# and refuses two different models of one name)
BODY_MODELS: dict[str, list[type[BaseModel]]] = {}

_ERRORS = {
    400: "The request cannot be read (not JSON, too deep, not UTF-8)",
    401: "No valid token (or signature, for partners)",
    403: "The token lacks the scope this needs, or the account or client was closed",
    404: "No such resource, or not one the caller may see",
    409: "Conflict with the resource's current state",
    412: "If-Match names a version that is no longer the latest: read it again",
    413: "The request body is too large",
    415: "The body's Content-Type is not JSON (application/json or a +json type; none is read as JSON)",
    422: "The request breaks a rule (the fields at fault are named)",
    502: "The partner refused the request",
    503: "A partner (or the platform) is temporarily unavailable",
}


def _problem_response(status: int) -> dict[str, Any]:
    content: dict[str, Any] = {
        PROBLEM_CONTENT_TYPE: {"schema": {"$ref": f"{COMPONENTS}Problem"}},
    }
    if status in (401, 403):
        # API Gateway refuses a missing or rejected token itself, with its own body
        content["application/json"] = {"schema": {"$ref": f"{COMPONENTS}GatewayMessage"}}
    return {"description": _ERRORS.get(status, "Refused"), "content": content}


def documented(
    summary: str,
    *,
    ok: Any = None,
    status: int = 200,
    body: type[BaseModel] | None = None,
    errors: tuple[int, ...] = (),
    scopes: tuple[str, ...] | None = (),
    content_type: str = "application/json",
    query: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Route decorator arguments that document one operation for OpenAPI.

    ``ok``: the pydantic model of the success body (``None``: no body); ``body``: the
    request body's model; ``errors``: the problem+json statuses the route itself answers
    (400/413/415/422 come with any body, 401/403 with any token); ``scopes``: ``None`` for a
    public route, else the token scopes the route checks, any one of which is enough
    (``self``: a citizen's or an enterprise's own certificate login); ``()`` means any
    valid token. ``query``: the optional query parameters the route reads itself, with
    what each means.
    """
    # no ``ok``: no body (Powertools would otherwise describe the handler's return value)
    success: dict[str, Any] = {"description": summary, "content": {}}
    if ok is not None:
        success["content"] = {content_type: {"model": ok}}
    responses: dict[int, Any] = {status: success}
    refusals = set(errors)
    if body is not None:
        refusals |= {400, 413, 415, 422}
    if scopes is not None:
        # a missing, refused or revoked token is refused by the gateway itself (401/403)
        refusals |= {401, 403}
    for code in sorted(refusals):
        responses[code] = _problem_response(code)
    kwargs: dict[str, Any] = {"summary": summary, "responses": responses}
    if scopes is not None:
        kwargs["security"] = [{TOKEN_SCHEME: list(scopes)}]
    extensions: dict[str, Any] = {}
    if body is not None:
        known = BODY_MODELS.setdefault(body.__name__, [])
        if body not in known:
            known.append(body)
        extensions["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": COMPONENTS + body.__name__}}},
        }
    if query:
        # Powertools writes ``parameters`` from the handler's signature (the path's):
        # the tool adds these to them
        extensions["x-govbus-query"] = [
            {
                "name": name,
                "in": "query",
                "required": False,
                "description": what,
                "schema": {"type": "string"},
            }
            for name, what in query.items()
        ]
    if extensions:
        kwargs["openapi_extensions"] = extensions
    return kwargs
