"""What the built-in simulators share: an HTTP server on a free loopback port.

A subclass implements ``_dispatch(handler, method)``; the server runs in the
background until ``stop()``. (A department's adapter has its own: adapters depend on
``contracts`` only, and this module is not part of that SDK.)
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client that goes away between requests on a kept-alive connection is normal
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class LoopbackSimulator:
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

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

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
