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

import functools
import threading
import time
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


# --- moto's own costs on the event path ---------------------------------------------
#
# Profiled under `python -m bench gateway` (py-spy on the stack's process, where moto's
# server, the gateway and the pollers share one interpreter), three of moto's steps took
# most of its time, none of them part of what it emulates:

# the services whose backend the credential scope of a signed request names alone (and,
# for DynamoDB, the X-Amz-Target's API prefix): their backend is looked up once
_CACHEABLE_SERVICES = frozenset(
    {"dynamodb", "sqs", "events", "secretsmanager", "sns", "ssm", "sts", "kms", "logs"}
)


class QuickDispatcher(DomainDispatcherApplication):
    """moto's dispatcher, finding each signed request's backend once per service.

    moto looks a request's backend up afresh each time: it lists its own package
    directory (~200 ``stat`` calls) and tries every URL pattern under a lock shared by
    all requests. The answer depends only on the service and region of the signature's
    credential scope (and DynamoDB's API prefix), so it is kept per those.
    """

    def __init__(self, create_app: Callable[..., Any]) -> None:
        super().__init__(create_app)
        self._apps: dict[tuple[str, str, str], Any] = {}

    def get_application(self, environ: dict[str, Any]) -> Any:
        key = _dispatch_key(environ)
        if key is None:
            return super().get_application(environ)
        app = self._apps.get(key)
        if app is None:
            app = self._apps[key] = super().get_application(environ)
        return app


def _dispatch_key(environ: dict[str, Any]) -> tuple[str, str, str] | None:
    path = environ.get("PATH_INFO", "")
    if not isinstance(path, str) or path.startswith(("/moto-api", "/latest/", "/@")):
        return None
    try:  # "AWS4-HMAC-SHA256 Credential=key/20260101/us-east-1/sqs/aws4_request, ..."
        scope = environ["HTTP_AUTHORIZATION"].split(",")[0].split()[1]
        _, _, region, service, _ = scope.split("/")
    except (KeyError, IndexError, ValueError):
        return None
    service = service.lower()
    if service not in _CACHEABLE_SERVICES:
        return None
    target = environ.get("HTTP_X_AMZ_TARGET", "").split(".", 1)[0]
    return service, region, target


@functools.cache
def _jsonpath(expression: str) -> Any:
    from jsonpath_ng.ext import parser

    return parser.parse(expression)


def quicken_moto() -> None:
    """Patch moto's two per-event costs that do not depend on what is emulated (idempotent).

    - EventBridge compiles each target's input paths (eight JSONPath expressions, even
      with no ``InputTransformer``) for every event it delivers, building a new PLY
      parser each time: a third of the stack's CPU at 16 webhook senders. The compiled
      expressions are kept (they are immutable; ``find`` does not change them).
    - SQS checks each message's retention period on receipt by computing all of the
      queue's attributes three times, each counting every message in the queue: the
      retention period is read from the queue instead.
    """
    import jsonpath_ng.ext
    from moto.dynamodb.models import DynamoDBBackend
    from moto.sqs.models import SQSBackend

    jsonpath_ng.ext.parse = _jsonpath  # moto's EventTemplateParser imports it per call
    SQSBackend.is_message_valid_based_on_retention_period = _retained  # type: ignore[method-assign]
    if not getattr(DynamoDBBackend.transact_write_items, "keeps_streams", False):
        DynamoDBBackend.transact_write_items = _keeping_streams(  # type: ignore[method-assign]
            DynamoDBBackend.transact_write_items
        )


def _retained(self: Any, queue_name: str, message: Any) -> bool:
    queue = self.get_queue(queue_name)
    retain_until = int(queue.message_retention_period) + message.sent_timestamp / 1000
    return bool(retain_until > time.time())


def _keeping_streams(transact_write_items: Callable[..., Any]) -> Callable[..., Any]:
    """moto's ``transact_write_items``, whose rollback keeps each table's stream.

    moto rolls a cancelled transaction back by putting a deep copy of each table, taken
    before the transaction, in the table's place. The copy has a stream shard of its own,
    so every shard iterator a reader holds (the local stream pollers) stays on the old
    shard, which no later write reaches: after one lost race every outbox event waited
    for the sweep (issue 21 item 6). Worse, the writes the transaction made before its
    failing step had added their records to that old shard, so a reader was handed
    events of changes that never happened. Here the table keeps its shard object, holding
    again just the records from before the transaction (DynamoDB's requests, streams'
    included, run one at a time, so no reader saw the cancelled ones in between).
    """

    @functools.wraps(transact_write_items)
    def transact(self: Any, *args: Any, **kwargs: Any) -> Any:
        shards = {
            name: (table, table.stream_shard)
            for name, table in self.tables.items()
            if getattr(table, "stream_shard", None) is not None
        }
        try:
            return transact_write_items(self, *args, **kwargs)
        finally:
            for name, (table, shard) in shards.items():
                restored = self.tables.get(name)
                if restored is None or restored is table or restored.stream_shard is None:
                    continue  # not rolled back (or the table is gone)
                shard.items[:] = restored.stream_shard.items  # the records from before
                shard.table = restored
                restored.stream_shard = shard

    transact.keeps_streams = True  # type: ignore[attr-defined]
    return transact


class AtomicMotoServer(ThreadedMotoServer):
    """:class:`ThreadedMotoServer` whose DynamoDB requests are atomic (see above)."""

    def _server_entry(self) -> None:
        quicken_moto()
        app = atomic_dynamodb(QuickDispatcher(create_backend_app))
        self._server = make_server(
            self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()
