"""moto server as the local AWS endpoint, with DynamoDB's requests made atomic.

DynamoDB applies each request whole: a conditional write is checked and applied as one
step, and no reader sees an item half updated. moto's backend does neither under
concurrent requests (its server answers each on a thread of its own, and its
DynamoDB models take no lock), so two conditional updates racing for the last place of
a slot could both pass their condition, and a reader could see an item while an update
was rewriting it. Here every DynamoDB (and DynamoDB Streams) request holds one lock while
moto handles it; other services run as before. The cost is small: moto's handlers are
Python under one GIL anyway.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def atomic_dynamodb(app: WsgiApp) -> WsgiApp:
    """``app`` with DynamoDB's requests handled one at a time (their bodies read whole)."""
    lock = threading.Lock()

    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB"):
            return app(environ, start_response)
        with lock:
            return list(app(environ, start_response))  # the whole answer, under the lock

    return serve


class AtomicMotoServer(ThreadedMotoServer):
    """:class:`ThreadedMotoServer` whose DynamoDB requests are atomic (see above)."""

    def _server_entry(self) -> None:
        app = atomic_dynamodb(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(
            self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()
