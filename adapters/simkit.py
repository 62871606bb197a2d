"""What the built-in simulators share: an HTTP server on a free loopback port, and the
operator's ``/_sim/*`` handles answered in one way.

A subclass implements ``_dispatch(handler, method)``; the server runs in the
background until ``stop()``. A ``/_sim/*`` request goes to :meth:`LoopbackSimulator.serve_admin`,
which reads the body into an :class:`AdminBody` and calls the subclass's
``_admin(path, doc)``: whatever the handle cannot do is answered as a sentence a person
reads (400 for a body that does not fit, 404 for a record the simulator does not hold),
never as a bare ``KeyError`` or parser text, and never as a dropped connection.
(A department's adapter has its own: adapters depend on ``contracts`` only, and this
module is not part of that SDK.)
"""

from __future__ import annotations

import enum
import json
import math
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

from pydantic import ValidationError

from contracts.identity import CitizenId, CreditCode, code_problem, parse_subject_code

_MISSING: Any = object()


class SimRefused(Exception):
    """A ``/_sim/*`` call the simulator cannot carry out; the message is for a person."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UnknownRecord(SimRefused, KeyError):
    """The call names a record (waybill, order, case ...) the simulator does not hold: 404.

    A ``KeyError`` too, so Python callers that caught the bare lookup still do."""

    status = 404


class AdminBody(dict):
    """A ``/_sim/*`` request's JSON object; a missing or ill-typed field is a
    :class:`SimRefused` that names it."""

    def __init__(self, values: dict[str, Any] | None = None, *, sent: bool = False) -> None:
        super().__init__(values or {})
        self.sent = sent  # a body was sent at all (an empty POST reads, {} sets)

    def __missing__(self, key: str) -> Any:
        raise SimRefused(f"the body needs {key!r}")

    def text(self, key: str, default: Any = _MISSING) -> str:
        value = self.get(key, default) if default is not _MISSING else self[key]
        if value is None or isinstance(value, dict | list | bool):
            raise SimRefused(f"{key!r} is a string, not {json.dumps(value)[:40]}")
        return str(value)

    def boolean(self, key: str, default: Any = _MISSING) -> bool:
        """The field as JSON true or false; ``"no"``, ``0`` or ``null`` is refused, never
        read as truthy."""
        value = self.get(key, default) if default is not _MISSING else self[key]
        if not isinstance(value, bool):
            raise SimRefused(f"{key!r} is true or false, not {json.dumps(value)[:40]}")
        return value

    def integer(self, key: str, default: Any = _MISSING, *, minimum: int | None = None) -> int:
        value = self.get(key, default) if default is not _MISSING else self[key]
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise SimRefused(f"{key!r} is a whole number, not {json.dumps(value)[:40]}")
        try:
            whole = int(value)
        except ValueError:
            raise SimRefused(f"{key!r} is a whole number, not {value[:40]!r}") from None
        return _at_least(key, whole, minimum)

    def number(self, key: str, default: Any = _MISSING, *, minimum: float | None = None) -> float:
        value = self.get(key, default) if default is not _MISSING else self[key]
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise SimRefused(f"{key!r} is a number, not {json.dumps(value)[:40]}")
        try:
            number = float(value)
        except ValueError:
            raise SimRefused(f"{key!r} is a number, not {value[:40]!r}") from None
        if not math.isfinite(number):
            raise SimRefused(f"{key!r} is a finite number, not {value!r}")
        return _at_least(key, number, minimum)

    def citizen_id(self, key: str) -> CitizenId:
        """The field as a citizen ID (GB 11643 check character and all)."""
        try:
            return CitizenId(self.text(key))
        except ValidationError as exc:
            raise SimRefused(f"{key!r} is not a citizen ID: {code_problem(exc)}") from None

    def subject_code(self, key: str) -> CitizenId | CreditCode:
        """The field as a citizen ID or a unified social credit code, checked."""
        try:
            return parse_subject_code(self.text(key))
        except ValidationError as exc:
            raise SimRefused(
                f"{key!r} is a citizen ID or a credit code: {code_problem(exc)}"
            ) from None

    def choice(self, key: str, choices: Iterable[Any], default: Any = _MISSING) -> Any:
        """The field's value among ``choices`` (an Enum class or strings)."""
        value = self.get(key, default) if default is not _MISSING else self[key]
        options = list(choices)
        for option in options:
            if value == option or (isinstance(option, enum.Enum) and value == option.value):
                return option
        names = ", ".join(str(o.value if isinstance(o, enum.Enum) else o) for o in options)
        raise SimRefused(f"{key!r} is one of {names}; not {json.dumps(value)[:40]}")


def _at_least(key: str, value: Any, minimum: float | None) -> Any:
    if minimum is not None and value < minimum:
        floor = "negative" if minimum == 0 else f"less than {minimum}"
        raise SimRefused(f"{key!r} cannot be {floor}; not {value}")
    return value


FAULTS_EXAMPLE = '{"error_rate": 1.0}'


def admin_body(body: bytes, example: str = "{}") -> AdminBody:
    """The body of a ``/_sim/*`` request: nothing, or a JSON object (``example`` is the
    handle's own body, shown when what came is not JSON)."""
    if not body.strip():
        return AdminBody(sent=bool(body))
    try:
        doc = json.loads(body)
    except UnicodeDecodeError:
        raise SimRefused("the body is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise SimRefused(
            f"the body is not JSON (line {exc.lineno}, column {exc.colno}): send e.g. '{example}'"
        ) from None
    if not isinstance(doc, dict):
        raise SimRefused("the body is a JSON object, e.g. {}")
    return AdminBody(doc, sent=True)


class UnknownHandle(SimRefused):
    """No ``/_sim/*`` handle of that name: 404."""

    status = 404


def _validation_sentence(exc: ValidationError) -> str:
    parts = [
        f"{'.'.join(str(p) for p in err['loc']) or '(body)'}: {err['msg']}"
        for err in exc.errors(include_input=False, include_url=False)
    ]
    return "; ".join(parts)


LISTEN_BACKLOG = 1024  # as the local gateway's: a burst of clients is queued, not reset


class _QuietServer(ThreadingHTTPServer):
    # http.server's default is 5: 20 operators' /_sim/* calls at once saw connection resets
    request_queue_size = LISTEN_BACKLOG

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client that goes away between requests on a kept-alive connection is normal
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class LoopbackSimulator:
    # each ``/_sim/*`` handle's example body (a body that is not JSON is shown its own)
    admin_examples: ClassVar[dict[str, str]] = {}
    url: str = ""
    push_url: str | None = None
    thread_name = "simulator"
    _server: ThreadingHTTPServer | None = None

    def _dispatch(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        raise NotImplementedError

    def start(self) -> str:
        sim = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body go out in two writes: without this, Nagle's algorithm and
            # the client's delayed ACK stall every keep-alive answer by ~40 ms
            disable_nagle_algorithm = True

            def do_GET(self) -> None:
                sim._dispatch(self, "GET")

            def do_POST(self) -> None:
                sim._dispatch(self, "POST")

            # any other method: 405 JSON naming the two there are (not http.server's
            # 501 HTML page); HEAD gets the status and headers alone
            def do_HEAD(self) -> None:
                sim._method_not_allowed(self, with_body=False)

            def do_PUT(self) -> None:
                sim._method_not_allowed(self)

            do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = do_PUT

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, daemon=True, name=self.thread_name
        ).start()
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}"
        return self.url

    def _admin(self, path: str, doc: AdminBody) -> tuple[int, Any]:
        """Answer the operator's ``/_sim/<path>``: ``(status, JSON-able answer)``.

        Raise :class:`SimRefused` (400) or :class:`UnknownRecord` (404) for what cannot be
        done; :meth:`serve_admin` turns them into ``{"error": "..."}``.
        """
        raise UnknownHandle(f"no such admin path {path}")

    def admin_answer(self, path: str, body: bytes) -> tuple[int, Any]:
        """The status and JSON answer of ``/_sim/<path>`` with ``body`` (no HTTP involved)."""
        try:
            example = FAULTS_EXAMPLE if path == "/_sim/faults" else "{}"
            doc = admin_body(body, self.admin_examples.get(path, example))
            if path == "/_sim/faults":  # every simulator's: any body sets them, {} clears all
                if doc.sent:
                    model = type(self.faults)  # type: ignore[attr-defined]
                    unknown = sorted(set(doc) - set(model.model_fields))
                    if unknown:
                        raise SimRefused(
                            f"no fault {unknown[0]!r}; the faults are: "
                            + ", ".join(model.model_fields)
                        )
                    # strict: "yes" is not true, nor "1" a rate (a typo must not pass)
                    self.set_faults(model.model_validate(dict(doc), strict=True))
                return 200, self.faults.model_dump()  # type: ignore[attr-defined]
            return self._admin(path, doc)
        except SimRefused as exc:
            return exc.status, {"error": exc.message}
        except ValidationError as exc:  # a pydantic model of the handle (faults ...)
            return 400, {"error": _validation_sentence(exc)}
        except (ValueError, TypeError) as exc:  # a simulator's own refusal, in words
            return 400, {"error": str(exc)}

    def serve_admin(self, handler: BaseHTTPRequestHandler, path: str, body: bytes) -> None:
        status, answer = self.admin_answer(path, body)
        self._send(handler, status, json.dumps(answer, ensure_ascii=False).encode())

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    ALLOWED_METHODS = "GET, POST"

    def _method_not_allowed(self, handler: BaseHTTPRequestHandler, with_body: bool = True) -> None:
        body = json.dumps(
            {"error": f"{handler.command} is not answered here; use {self.ALLOWED_METHODS}"}
        ).encode()
        # the request's own body (if any) is left unread: close rather than misread it
        handler.close_connection = True
        try:
            handler.send_response(405)
            handler.send_header("Allow", self.ALLOWED_METHODS)
            handler.send_header("Content-Type", "application/json; charset=utf-8")
            handler.send_header("Content-Length", str(len(body)))
            handler.send_header("Connection", "close")
            handler.end_headers()
            if with_body:
                handler.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    @staticmethod
    def _send(
        handler: BaseHTTPRequestHandler,
        status: int,
        body: bytes,
        content_type: str = "application/json; charset=utf-8",
    ) -> None:
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", content_type)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout it was meant to hit)
