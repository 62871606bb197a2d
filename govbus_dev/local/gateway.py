"""The local API Gateway: template routes -> proxy events -> the functions' environments.

``HttpApi`` events get payload format 2.0, ``Api`` events format 1.0, exactly as API
Gateway sends them. Lambda authorizers declared on the API (``Auth.Authorizers``,
``DefaultAuthorizer``, per-route ``Auth.Authorizer``, ``NONE`` for public routes)
are called first, as API Gateway would. A function that fails (an unhandled error, a
timeout, a crash) is answered as API Gateway answers a failed Lambda integration: HTTP
API ``500 {"message": "Internal Server Error"}``, REST API ``502 {"message": "Internal
server error"}``.

``GET /console`` serves the ops console's static page (``console/``), as CloudFront
serves it from S3 in AWS: the page and the API share the gateway's origin.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as _dt
import hashlib
import importlib.resources
import json
import logging
import re
import sys
import threading
import time
import uuid
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from contracts.masking import mask_text
from govbus_dev.local.runtime import FunctionError, LocalFunction
from govbus_dev.local.template import ACCOUNT_ID

_log = logging.getLogger("govbus_dev.gateway")

TEXT_TYPES = (
    "text/",
    "application/json",
    "application/xml",
    "application/x-www-form-urlencoded",
    "+json",
    "+xml",
    "application/javascript",
)
MAX_REQUEST_BYTES = 10 * 1024 * 1024  # API Gateway's own payload limit
# the API's contract (``make openapi``) and Swagger UI's files, which Powertools ships: the
# page works offline, no CDN
OPENAPI_DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
SWAGGER_UI = "aws_lambda_powertools.event_handler.openapi.swagger_ui"
SWAGGER_INIT = """
    window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui",
                                 persistAuthorization: false, deepLinking: true});
"""
SWAGGER_PAGE = (
    """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>govbus API (local)</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui">Loading the govbus API&hellip;</div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script>"""
    + SWAGGER_INIT
    + """</script>
</body>
</html>
"""
)
# same-origin files and the one inline script above (by its hash); a token pasted into
# "Authorize" is not kept in the browser's storage (persistAuthorization: false)
DOCS_HEADERS = [
    (
        "content-security-policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self' 'sha256-"
        + base64.b64encode(hashlib.sha256(SWAGGER_INIT.encode()).digest()).decode()
        + "'; frame-ancestors 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
]
LISTEN_BACKLOG = 1024  # a burst of clients connecting at once is queued, not reset


class _GatewayServer(ThreadingHTTPServer):
    request_queue_size = LISTEN_BACKLOG
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client that hung up before its answer was written: nothing went wrong here,
        # and the traceback socketserver prints would look as if it had
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            _log.debug("client %s hung up before its answer was written", client_address[0])
            return
        super().handle_error(request, client_address)


@dataclasses.dataclass
class Authorizer:
    name: str
    function: LocalFunction
    payload_version: str = "2.0"
    simple_responses: bool = True
    identity_headers: tuple[str, ...] = ("authorization",)


@dataclasses.dataclass
class Route:
    function: LocalFunction
    method: str  # upper case, or ANY
    path: str  # template path, e.g. /webhooks/{partner}
    payload_version: str  # "2.0" (HttpApi) or "1.0" (Api)
    authorizer: Authorizer | None = None
    pattern: re.Pattern[str] = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        regex = ""
        for part in re.split(r"(\{[^}]+\})", self.path):
            if part.startswith("{") and part.endswith("+}"):
                regex += f"(?P<{part[1:-2]}>.+)"
            elif part.startswith("{"):
                regex += f"(?P<{part[1:-1]}>[^/]+)"
            else:
                regex += re.escape(part)
        self.pattern = re.compile(f"^{regex}$")

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def specificity(self) -> tuple[int, int]:
        # literal routes win over parameters, parameters over greedy paths
        return (self.path.count("+}"), self.path.count("{"))


def request_target(requestline: str, collapsed: str) -> tuple[str, str]:
    """The path and query the client sent, as API Gateway routes them.

    ``http.server`` rewrites a path that starts with ``//`` to one slash (gh-87389, an
    open-redirect guard), so ``GET //health`` would reach ``/health``; API Gateway
    matches the path as sent, and no route is ``//health``. The request line still has it.
    """
    words = requestline.split()
    target = words[1] if len(words) >= 2 else collapsed
    if target.lower().startswith(("http://", "https://")):  # absolute-form: a proxy's
        url = urlsplit(target)
        return url.path or "/", url.query
    target = target.split("#", 1)[0]
    path, _, query = target.partition("?")
    return _utf8(path), _utf8(query)


_NON_ASCII = re.compile(rb"[\x80-\xff]")


def percent_encode_non_ascii(request_line: bytes) -> bytes:
    """A request line with its bytes over 0x7F percent-encoded, as a browser sends them.

    curl sends ``?q=执照`` as raw UTF-8, which API Gateway reads as UTF-8. ``http.server``
    decodes the line as ISO-8859-1 and splits it on whitespace *of that text*: 照 is
    ``E7 85 A7`` and 0x85 is NEL, 0xA0 is NBSP, so the line fell apart into four words and
    was refused (400) before the gateway saw it, while 食品 (no such byte) got through.
    Encoded, the target is plain ASCII and means what the client meant."""
    return _NON_ASCII.sub(lambda byte: b"%%%02X" % byte[0][0], request_line)


def _utf8(text: str) -> str:
    """``http.server`` reads the request line as ISO-8859-1; a client that sends UTF-8 in
    the URL as it is (curl with ``?q=食品``) meant UTF-8, as API Gateway reads it."""
    return text.encode("latin-1", "replace").decode("utf-8", "replace")


def decoded_path(raw: str) -> str:
    """The path HTTP API routes and hands a function (``rawPath``, ``pathParameters``):
    percent-decoded, as UTF-8. ``/catalog/items/%E9%A3%9F`` is the item ``食``; an encoded
    ``%2F`` becomes a ``/`` that separates segments, so it can name no path parameter."""
    return unquote(raw, errors="replace")


def _is_text(content_type: str) -> bool:
    ct = content_type.lower()
    return any(t in ct for t in TEXT_TYPES)


def _body(raw: bytes, content_type: str) -> tuple[str | None, bool]:
    if not raw:
        return None, False
    if _is_text(content_type):
        try:
            return raw.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(raw).decode(), True


@dataclasses.dataclass
class IncomingRequest:
    method: str
    path: str  # as sent (percent-encoded): a REST API's ``path`` (payload 1.0)
    query: str
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str

    @property
    def routed_path(self) -> str:
        """What HTTP API matches routes on and hands on: the path percent-decoded."""
        return decoded_path(self.path)


def _headers_v2(req: IncomingRequest) -> dict[str, str]:
    merged: dict[str, str] = {}
    for k, v in req.headers:
        k = k.lower()
        merged[k] = f"{merged[k]},{v}" if k in merged else v
    return merged


def _request_context_common(req: IncomingRequest, route: Route) -> dict[str, Any]:
    now = time.time()
    return {
        "accountId": ACCOUNT_ID,
        "apiId": "local",
        "requestId": str(uuid.uuid4()),
        "stage": "$default" if route.payload_version == "2.0" else "local",
        "timeEpoch": int(now * 1000),
        "time": _dt.datetime.fromtimestamp(now, _dt.UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
    }


def build_event_v2(req: IncomingRequest, route: Route, params: dict[str, str]) -> dict[str, Any]:
    headers = _headers_v2(req)
    query: dict[str, str] = {}
    for k, v in parse_qsl(req.query, keep_blank_values=True):
        query[k] = f"{query[k]},{v}" if k in query else v
    body, b64 = _body(req.body, headers.get("content-type", ""))
    context = _request_context_common(req, route)
    context.update(
        {
            "domainName": headers.get("host", "localhost"),
            "domainPrefix": "localhost",
            "http": {
                "method": req.method,
                "path": req.routed_path,
                "protocol": "HTTP/1.1",
                "sourceIp": req.source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "routeKey": route.route_key,
        }
    )
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": req.routed_path,  # HTTP API hands it on decoded
        "rawQueryString": req.query,
        "headers": headers,
        "requestContext": context,
        "isBase64Encoded": b64,
    }
    cookies = [c.strip() for c in headers.get("cookie", "").split(";") if c.strip()]
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if params:
        event["pathParameters"] = params
    if body is not None:
        event["body"] = body
    return event


def build_event_v1(req: IncomingRequest, route: Route, params: dict[str, str]) -> dict[str, Any]:
    headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for k, v in req.headers:
        headers[k] = v
        multi_headers.setdefault(k, []).append(v)
    query: dict[str, str] = {}
    multi_query: dict[str, list[str]] = {}
    for k, v in parse_qsl(req.query, keep_blank_values=True):
        query[k] = v
        multi_query.setdefault(k, []).append(v)
    content_type = next((v for k, v in req.headers if k.lower() == "content-type"), "")
    body, b64 = _body(req.body, content_type)
    context = _request_context_common(req, route)
    context.update(
        {
            "resourcePath": route.path,
            "httpMethod": req.method,
            "path": req.path,
            "protocol": "HTTP/1.1",
            "identity": {"sourceIp": req.source_ip, "userAgent": headers.get("User-Agent", "")},
            "resourceId": "local",
        }
    )
    return {
        "resource": route.path,
        "path": req.path,
        "httpMethod": req.method,
        "headers": headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": params or None,
        "stageVariables": None,
        "requestContext": context,
        "body": body,
        "isBase64Encoded": b64,
    }


@dataclasses.dataclass
class GatewayResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def _json_response(status: int, body: dict[str, Any]) -> GatewayResponse:
    return GatewayResponse(
        status, [("content-type", "application/json")], json.dumps(body).encode()
    )


def to_gateway_response(result: Any, payload_version: str) -> GatewayResponse:
    if payload_version == "2.0" and not (isinstance(result, dict) and "statusCode" in result):
        # HTTP API infers a 200 JSON response from any other return value
        return GatewayResponse(
            200, [("content-type", "application/json")], json.dumps(result).encode()
        )
    if not isinstance(result, dict) or "statusCode" not in result:
        return _json_response(502, {"message": "Internal server error"})
    headers = [(k, str(v)) for k, v in (result.get("headers") or {}).items()]
    for k, values in (result.get("multiValueHeaders") or {}).items():
        headers.extend((k, str(v)) for v in values)
    for cookie in result.get("cookies") or []:
        headers.append(("set-cookie", cookie))
    raw = result.get("body") or ""
    body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
    return GatewayResponse(int(result["statusCode"]), headers, body)


def integration_failure(payload_version: str) -> GatewayResponse:
    """API Gateway's own answer when the Lambda integration fails or times out."""
    if payload_version == "2.0":
        return _json_response(500, {"message": "Internal Server Error"})
    return _json_response(502, {"message": "Internal server error"})


CONSOLE = "/console"
CONSOLE_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
# the page loads its own script and style and calls its own origin's API, nothing else
CONSOLE_HEADERS = [
    (
        "content-security-policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("cache-control", "no-cache"),
]


def console_file(console_dir: Path, req: IncomingRequest) -> GatewayResponse:
    """The ops console's page (``/console``) or one of its files (``/console/NAME``).

    Only the files directly in ``console_dir`` are served, by exact name: no path
    from the request ever reaches the file system.
    """
    if req.method not in ("GET", "HEAD"):
        return _json_response(404, {"message": "Not Found"})
    if req.path in (CONSOLE + "/", CONSOLE + "/index.html"):
        # the page's links are relative to /console (console/console.js): from any other
        # address they would miss, so there is one canonical address
        return GatewayResponse(301, [("location", CONSOLE)], b"")
    wanted = "index.html" if req.path == CONSOLE else req.path[len(CONSOLE) + 1 :]
    files = {f.name: f for f in console_dir.iterdir() if f.is_file()}
    found = files.get(wanted)
    if found is None or found.suffix not in CONSOLE_TYPES:
        return _json_response(404, {"message": "Not Found"})
    return GatewayResponse(
        200, [("content-type", CONSOLE_TYPES[found.suffix]), *CONSOLE_HEADERS], found.read_bytes()
    )


def _as_head(req: IncomingRequest, response: GatewayResponse) -> GatewayResponse:
    """A static page's answer to HEAD: GET's status and headers (its length too), no body."""
    if req.method != "HEAD":
        return response
    named = {k.lower() for k, _ in response.headers}
    length = [] if "content-length" in named else [("content-length", str(len(response.body)))]
    return GatewayResponse(response.status, [*response.headers, *length], b"")


class Gateway:
    """Routes requests; usable without a socket (``handle``) and over HTTP (``serve``)."""

    def __init__(
        self, routes: list[Route], log: Any = None, console_dir: Path | None = None
    ) -> None:
        self.routes = sorted(routes, key=lambda r: r.specificity)
        self.log = log
        self.console_dir = console_dir if console_dir and console_dir.is_dir() else None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | str | None:
        path_matched = False
        for route in self.routes:
            m = route.pattern.match(path)
            if not m:
                continue
            path_matched = True
            if route.method in (method, "ANY"):
                return route, m.groupdict()
        return "method" if path_matched else None

    def authorize(
        self, req: IncomingRequest, route: Route, event: dict[str, Any]
    ) -> GatewayResponse | None:
        auth = route.authorizer
        if auth is None:
            return None
        headers = _headers_v2(req)
        identity = [headers.get(h) for h in auth.identity_headers]
        if any(not v for v in identity):
            return _json_response(401, {"message": "Unauthorized"})
        request = dict(event)
        request["type"] = "REQUEST"
        request["routeArn"] = (
            f"arn:aws:execute-api:{auth.function.region}:{ACCOUNT_ID}:local/$default/"
            f"{req.method}{req.path}"
        )
        request["identitySource"] = identity
        try:
            answer = auth.function.invoke(request)
        except Exception:
            return _json_response(500, {"message": "Internal server error"})
        if auth.simple_responses:
            allowed = bool(isinstance(answer, dict) and answer.get("isAuthorized"))
            context = (answer or {}).get("context") or {}
        else:
            statements = ((answer or {}).get("policyDocument") or {}).get("Statement") or []
            allowed = any(s.get("Effect") == "Allow" for s in statements) and not any(
                s.get("Effect") == "Deny" for s in statements
            )
            context = (answer or {}).get("context") or {}
        if not allowed:
            return _json_response(403, {"message": "Forbidden"})
        key = "authorizer"
        if route.payload_version == "2.0":
            event["requestContext"][key] = {"lambda": context}
        else:
            event["requestContext"][key] = {
                **context,
                "principalId": (answer or {}).get("principalId"),
            }
        return None

    def developer_page(self, req: IncomingRequest) -> GatewayResponse | None:
        """The local stack's own pages (not API routes): Swagger UI and the OpenAPI document."""
        if req.method not in ("GET", "HEAD"):
            return None
        if req.path == "/openapi.json":
            if not OPENAPI_DOCUMENT.is_file():
                return _json_response(404, {"message": "docs/openapi.json: run `make openapi`"})
            return GatewayResponse(
                200, [("content-type", "application/json")], OPENAPI_DOCUMENT.read_bytes()
            )
        if req.path in ("/docs", "/docs/"):
            return GatewayResponse(
                200,
                [("content-type", "text/html; charset=utf-8"), *DOCS_HEADERS],
                SWAGGER_PAGE.encode(),
            )
        assets = {
            "/docs/swagger-ui-bundle.js": ("swagger-ui-bundle.min.js", "application/javascript"),
            "/docs/swagger-ui.css": ("swagger-ui.min.css", "text/css"),
        }
        if req.path in assets:
            name, content_type = assets[req.path]
            body = importlib.resources.files(SWAGGER_UI).joinpath(name).read_bytes()
            return GatewayResponse(200, [("content-type", content_type), *DOCS_HEADERS], body)
        return None

    def handle(self, req: IncomingRequest) -> GatewayResponse:
        if self.console_dir and (req.path == CONSOLE or req.path.startswith(CONSOLE + "/")):
            return _as_head(req, console_file(self.console_dir, req))
        page = self.developer_page(req)
        if page is not None:
            return _as_head(req, page)
        found = self.match(req.method, req.routed_path)
        if found is None or found == "method":
            # API Gateway answers unmatched routes itself, without calling a function
            return _json_response(404, {"message": "Not Found"})
        route, params = found  # type: ignore[misc]
        build = build_event_v2 if route.payload_version == "2.0" else build_event_v1
        event = build(req, route, params)
        refused = self.authorize(req, route, event)
        if refused is not None:
            return refused
        try:
            result = route.function.invoke(event)
        except FunctionError as exc:
            if self.log:
                self.log.error("function %s failed: %s", route.function.logical_id, exc)
            return integration_failure(route.payload_version)
        except Exception:
            if self.log:
                self.log.exception("function %s failed", route.function.logical_id)
            return integration_failure(route.payload_version)
        return to_gateway_response(result, route.payload_version)

    # --- HTTP ---------------------------------------------------------------

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> str:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # no 40 ms stall per kept-alive answer
            timeout = 30  # a client that stops sending mid-request loses its connection

            def parse_request(self) -> bool:
                self.raw_requestline = percent_encode_non_ascii(self.raw_requestline)
                if len(self.raw_requestline.split()) == 2:
                    # HTTP/0.9 (no version): it has no status line to answer with, and
                    # http.server would wait for headers it never sends
                    self.command, self.request_version = None, "HTTP/1.1"
                    self.requestline = self.raw_requestline.decode("iso-8859-1").rstrip("\r\n")
                    self.send_error(400, "HTTP/0.9 is not served: send HTTP/1.1")
                    return False
                if not super().parse_request():
                    return False
                if self.headers.defects:
                    # a line that is not `name: value` (RFC 9112 5.1: "Transfer-Encoding :
                    # chunked"), which the parser took for the end of the headers
                    self.send_error(400, "Bad Request: a header line that is not `name: value`")
                    return False
                return True

            def _any(self) -> None:
                raw = self._body()
                if raw is None:
                    return  # refused (answered, connection closed) or the client went away
                path, query = request_target(self.requestline, self.path)
                req = IncomingRequest(
                    method=self.command,
                    path=path,
                    query=query,
                    headers=list(self.headers.items()),
                    body=raw,
                    source_ip=self.client_address[0],
                )
                self._send(gateway.handle(req))

            def _refuse(self, status: int, message: str) -> None:
                # framing we cannot trust: answer once and close, so no bytes of this
                # request are ever read as the next one (no request smuggling)
                self.close_connection = True
                self._send(_json_response(status, {"message": message}))

            def _body(self) -> bytes | None:
                """The request body, framed as API Gateway frames it, or None if refused."""
                lengths = self.headers.get_all("content-length") or []
                codings = self.headers.get_all("transfer-encoding") or []
                if codings and (len(codings) > 1 or codings[0].strip().lower() != "chunked"):
                    self._refuse(501, "Not Implemented: the only transfer coding is chunked")
                    return None
                chunked = bool(codings)
                if (chunked and lengths) or len(lengths) > 1:
                    self._refuse(400, "Bad Request")  # ambiguous framing
                    return None
                try:
                    if chunked:
                        return self._chunked()
                    if not lengths:
                        return b""
                    if not lengths[0].strip().isdigit():
                        self._refuse(400, "Bad Request")
                        return None
                    length = int(lengths[0])
                    if length > MAX_REQUEST_BYTES:
                        self._refuse(413, "Request Entity Too Large")
                        return None
                    raw = self.rfile.read(length) if length else b""
                except ValueError:
                    self._refuse(400, "Bad Request")  # a chunk size that is not hex
                    return None
                except OSError:  # timed out or reset mid-body
                    self.close_connection = True
                    return None
                if len(raw) < length:  # the client closed before sending it all
                    self.close_connection = True
                    return None
                return raw

            def _chunked(self) -> bytes | None:
                body = bytearray()
                while True:
                    size_line = self.rfile.readline(1024).split(b";", 1)[0].strip()
                    if not size_line or size_line.strip(b"0123456789abcdefABCDEF"):
                        raise ValueError(size_line)  # hex digits only: refused by the caller
                    size = int(size_line, 16)
                    if size == 0:
                        while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                            pass  # trailers
                        return bytes(body)
                    if len(body) + size > MAX_REQUEST_BYTES:
                        self._refuse(413, "Request Entity Too Large")
                        return None
                    body += self.rfile.read(size)
                    self.rfile.readline(1024)

            def _send(self, response: GatewayResponse) -> None:
                self.send_response(response.status)
                names = {k.lower() for k, _ in response.headers}
                for k, v in response.headers:
                    self.send_header(k, v)
                if "content-length" not in names:
                    self.send_header("content-length", str(len(response.body)))
                self.end_headers()
                self.wfile.write(response.body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _any

            def send_error(self, code: int, message: str | None = None, explain: Any = None):
                # what http.server refuses itself (a line or headers too long, a method it
                # has no handler for) gets API Gateway's JSON, never an HTML page or a 501
                self.close_connection = True
                if code == 501:  # TRACE, PROPFIND ...: no route has that method
                    code, message = 404, "Not Found"
                status = HTTPStatus(code) if code in HTTPStatus._value2member_map_ else None
                # http.server's own messages quote the request line: masked, as logs are
                text = mask_text(message or (status.phrase if status else "Error"))
                if self.command is None or self.request_version == "HTTP/0.9":
                    self.request_version = "HTTP/1.1"  # answer with headers all the same
                self._send(_json_response(code, {"message": text}))

            def log_message(self, format: str, *args: Any) -> None:
                command, path = getattr(self, "command", None), getattr(self, "path", "")
                if gateway.log and command:  # not for a connection that timed out idle
                    gateway.log.info("%s %s", command, (path or "").split("?", 1)[0])

        self._server = _GatewayServer((host, port), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, daemon=True, name="govbus-gateway"
        )
        self._thread.start()
        bound_host, bound_port = self._server.server_address[:2]
        return f"http://{bound_host}:{bound_port}"

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
