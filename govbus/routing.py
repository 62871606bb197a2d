"""A small resolver for API Gateway HTTP API events (payload format 2.0).

The subset of Powertools' ``APIGatewayHttpResolver`` our functions use, with the same
behaviour (route matching, parameters, exception handlers, the rendered answer), without
importing Powertools' ``event_handler`` package: its ``__init__`` loads every resolver
Powertools has (AppSync, Bedrock, VPC Lattice ...) and its event data classes, 30-50 ms
CPU of every HTTP function's cold start.

- ``@app.get("/items/<code>", **documented(...))``: ``<name>`` matches one path segment
  (word characters and the URI characters API Gateway passes through, ``%`` included: a
  value arrives as the client encoded it) and is passed to the route as a keyword
  argument. No trailing-slash tolerance: ``/items/`` is not ``/items``. Static routes are
  tried before dynamic ones, each in the order they were declared. The decorator's
  keyword arguments are kept with the route (``govbus_dev/openapi.py`` documents them).
- A route returns a :class:`Response`, or a dict (or pydantic model): 200 JSON, written
  as UTF-8 text (食品; Powertools wrote ``\\u98df\\u54c1``), as a model's JSON is.
- ``@app.exception_handler(Exc)``: the handler of the most specific class in the
  exception's MRO answers; an exception no handler takes propagates (the Lambda fails,
  API Gateway answers 500). ``@app.not_found`` answers a path and method no route serves.
- ``app.current_event.json_body`` reads the body (base64 decoded) with the resolver's
  ``json_deserializer`` (govbus.http sets its bounded parser); a body whose Content-Type
  is neither ``application/json`` nor ``+json`` raises ``UnsupportedMediaType`` (415).
"""

from __future__ import annotations

import base64
import dataclasses
import decimal
import json
import re
from collections.abc import Callable, Iterator, Mapping
from functools import cached_property
from typing import Any

from contracts.errors import UnsupportedMediaType, ValidationFailed

# a path parameter is one segment, whatever it holds: HTTP API hands the path on
# percent-decoded, and a segment it routed here (any character but "/") reaches the
# route (but "?" and "#", which end a path), which says what is wrong with it (Powertools' narrower class of characters
# would answer "no route" for a decoded control or other character instead)
_PARAMETER = re.compile(r"<(\w+)>")


def _route_regex(rule: str) -> re.Pattern[str]:
    # as Powertools does it: the rule's static text is used as a pattern as is
    return re.compile("^" + _PARAMETER.sub(r"(?P<\1>[^/?#]+)", rule) + "$")


class NotFoundError(Exception):
    """No route serves this path and method (what ``@app.not_found`` handlers receive)."""


class Headers(dict[str, str]):
    """Request headers, read case-insensitively (API Gateway sends them in lower case)."""

    def __init__(self, headers: Mapping[str, str] | None = None) -> None:
        super().__init__((k.lower(), v) for k, v in (headers or {}).items())

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)


class _View(Mapping[str, Any]):
    """Read-only access to one part of the event, as a mapping."""

    def __init__(self, data: Mapping[str, Any] | None) -> None:
        self._data = data or {}

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


class Authorizer(_View):
    @property
    def get_lambda(self) -> dict[str, Any]:
        """The context a Lambda authorizer returned (``authorizer.lambda``)."""
        return self.get("lambda") or {}


class RequestContext(_View):
    @property
    def request_id(self) -> str:
        return self["requestId"]

    @property
    def stage(self) -> str:
        return self.get("stage") or "$default"

    @property
    def authorizer(self) -> Authorizer:
        return Authorizer(self.get("authorizer"))


class HttpEvent(_View):
    """An HTTP API (payload 2.0) event; ``raw_event`` is the dict API Gateway sent."""

    def __init__(
        self, event: Mapping[str, Any], json_deserializer: Callable[[str], Any] = json.loads
    ) -> None:
        super().__init__(event)
        self._json_deserializer = json_deserializer

    @property
    def raw_event(self) -> Mapping[str, Any]:
        return self._data

    @property
    def request_context(self) -> RequestContext:
        return RequestContext(self.get("requestContext"))

    @property
    def http_method(self) -> str:
        return self["requestContext"]["http"]["method"]

    @property
    def path(self) -> str:
        """The request's path without the stage (a named stage prefixes ``rawPath``)."""
        stage = self.request_context.stage
        raw = self["rawPath"]
        return raw if stage == "$default" else raw[len("/" + stage) :]

    @cached_property
    def headers(self) -> Headers:
        return Headers(self.get("headers"))

    @property
    def query_string_parameters(self) -> dict[str, str]:
        return self.get("queryStringParameters") or {}

    def get_query_string_value(self, name: str, default_value: str | None = None) -> str | None:
        return self.query_string_parameters.get(name, default_value)

    @property
    def path_parameters(self) -> dict[str, str]:
        return self.get("pathParameters") or {}

    @property
    def is_base64_encoded(self) -> bool:
        return bool(self.get("isBase64Encoded"))

    @property
    def body(self) -> str | None:
        """The body as API Gateway sent it (base64 text when ``isBase64Encoded``)."""
        return self.get("body")

    @cached_property
    def decoded_body(self) -> str | None:
        """The body as text; a body that is not UTF-8 raises ``UnicodeDecodeError``."""
        body = self.body
        if self.is_base64_encoded and body:
            return base64.b64decode(body.encode()).decode()
        return body

    @property
    def media_type(self) -> str:
        """The Content-Type without its parameters, in lower case ("" when none was sent)."""
        return (self.headers.get("content-type") or "").split(";")[0].strip().lower()

    @cached_property
    def json_body(self) -> Any:
        """The body read as JSON (``None`` for no body).

        A body sent as anything but JSON (``application/json``, ``+json``) is refused
        (415), not guessed at; a body sent with no Content-Type is read as JSON.
        """
        if not self.body:
            return None
        media_type = self.media_type
        declared = (self.headers.get("content-type") or "").strip()
        if declared and not media_type:
            raise UnsupportedMediaType(
                "the Content-Type names no media type; send the body as JSON "
                "(Content-Type: application/json)"
            )
        if media_type and media_type != "application/json" and not media_type.endswith("+json"):
            shown = media_type if len(media_type) <= 80 else media_type[:80] + "..."
            raise UnsupportedMediaType(
                f"the body is sent as {shown!r}; send it as JSON (Content-Type: application/json)"
            )
        text = self.decoded_body
        value = self._json_deserializer(text) if text else None
        if value is None and text and text.strip():
            # a body of `null` is not no body: its fields would be reported missing
            raise ValidationFailed("the body must be a JSON object, not null", field="(body)")
        if value is not None and not isinstance(value, dict):
            # every request body is an object; `[] or {}` would report its fields missing
            kind = {list: "a list", str: "a string", bool: "true or false"}.get(
                type(value), "a number"
            )
            raise ValidationFailed(f"the body must be a JSON object, not {kind}", field="(body)")
        return value


class Response:
    """What a route answers: rendered as API Gateway (payload 2.0) expects it."""

    def __init__(
        self,
        status_code: int,
        content_type: str | None = None,
        body: Any = None,
        headers: Mapping[str, str | list[str]] | None = None,
    ) -> None:
        self.status_code = status_code
        self.content_type = content_type
        self.body = body
        self.headers: dict[str, str | list[str]] = dict(headers or {})
        if content_type:
            self.headers.setdefault("Content-Type", content_type)

    def is_json(self) -> bool:
        content_type = self.headers.get("Content-Type", "")
        if isinstance(content_type, list):
            content_type = content_type[0]
        return content_type.startswith("application/json")

    def render(self) -> dict[str, Any]:
        body = self.body
        if self.is_json() and not isinstance(body, str | bytes):
            # UTF-8 as a pydantic model's JSON is: 食品, not \u98df\u54c1
            body = json.dumps(
                body, separators=(",", ":"), default=_json_default, ensure_ascii=False
            )
        encoded = isinstance(body, bytes)
        if encoded:
            body = base64.b64encode(body).decode()
        headers = {
            name: value if isinstance(value, str) else ", ".join(value)
            for name, value in self.headers.items()
            if value is not None
        }
        return {
            "statusCode": self.status_code,
            "body": body,
            "isBase64Encoded": encoded,
            "headers": headers,
            "cookies": [],
        }


def _json_default(value: Any) -> Any:
    """What ``json`` cannot write itself: pydantic models, dataclasses, Decimals (as text)."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


@dataclasses.dataclass
class Route:
    method: str
    rule: str
    func: Callable[..., Any]
    options: dict[str, Any] = dataclasses.field(default_factory=dict)  # the decorator's kwargs
    pattern: re.Pattern[str] = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.pattern = _route_regex(self.rule)

    @property
    def dynamic(self) -> bool:
        return self.pattern.groups > 0


ExceptionHandler = Callable[[Exception], Any]


class HttpResolver:
    """Routes API Gateway HTTP API (payload 2.0) events to the functions declared on it."""

    def __init__(self, json_deserializer: Callable[[str], Any] = json.loads) -> None:
        self.json_deserializer = json_deserializer
        self.routes: list[Route] = []  # in the order they were declared
        self._exception_handlers: dict[type[Exception], ExceptionHandler] = {}
        self.current_event: HttpEvent
        self.lambda_context: Any = None

    # --- declaring routes ------------------------------------------------------------
    def route(
        self, rule: str, method: str | list[str] | tuple[str, ...], **options: Any
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        methods = (method,) if isinstance(method, str) else tuple(method)

        def register(func: Callable[..., Any]) -> Callable[..., Any]:
            for one in methods:
                self.routes.append(Route(one.upper(), rule, func, options))
            return func

        return register

    def get(self, rule: str, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.route(rule, "GET", **options)

    def post(self, rule: str, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.route(rule, "POST", **options)

    def put(self, rule: str, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.route(rule, "PUT", **options)

    def patch(
        self, rule: str, **options: Any
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.route(rule, "PATCH", **options)

    def delete(
        self, rule: str, **options: Any
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.route(rule, "DELETE", **options)

    def exception_handler(
        self, exc_class: type[Exception] | list[type[Exception]]
    ) -> Callable[[ExceptionHandler], ExceptionHandler]:
        classes = exc_class if isinstance(exc_class, list) else [exc_class]

        def register(func: ExceptionHandler) -> ExceptionHandler:
            for cls in classes:
                self._exception_handlers[cls] = func
            return func

        return register

    def not_found(self, func: ExceptionHandler) -> ExceptionHandler:
        return self.exception_handler(NotFoundError)(func)

    # --- answering an event ----------------------------------------------------------
    def resolve(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        self.current_event = HttpEvent(event, self.json_deserializer)
        self.lambda_context = context
        return self._to_response(self._answer()).render()

    def _answer(self) -> Any:
        method = self.current_event.http_method.upper()
        path = self.current_event.path
        try:
            for route in self._matching_order():
                if route.method != method:
                    continue
                found = route.pattern.match(path)
                if found:
                    return route.func(**found.groupdict())
            raise NotFoundError()
        except Exception as exc:
            handler = self._handler_for(exc)
            if handler is not None:
                return handler(exc)
            if isinstance(exc, NotFoundError):
                return Response(
                    404, "application/json", {"statusCode": 404, "message": "Not found"}
                )
            raise

    def _matching_order(self) -> list[Route]:
        # a static route wins over a dynamic one that matches the same path
        return [r for r in self.routes if not r.dynamic] + [r for r in self.routes if r.dynamic]

    def _handler_for(self, exc: Exception) -> ExceptionHandler | None:
        for cls in type(exc).__mro__:
            if cls in self._exception_handlers:
                return self._exception_handlers[cls]
        return None

    @staticmethod
    def _to_response(result: Any) -> Response:
        if isinstance(result, Response):
            return result
        if isinstance(result, tuple) and len(result) == 2:
            body, status = result
            return Response(status, "application/json", body)
        return Response(200, "application/json", result)
