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

import copy
import functools
import json
import logging
import math
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

from govbus_dev.local.pollers import STREAM_WAIT_PATH

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


# held by each DynamoDB request while moto handles it, and by a snapshot being taken or
# restored (so neither sees a table half written)
_DYNAMODB_LOCK = threading.Lock()


def atomic_dynamodb(app: WsgiApp, lock: Any = _DYNAMODB_LOCK) -> WsgiApp:
    """``app`` with DynamoDB's requests handled one at a time (their bodies read whole)."""

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
    - SQS asks each message of a queue whether it is visible (on every send, receive
      and count), each asking the time as a datetime and subtracting the epoch from
      it: the time is read as a number.
    - DynamoDB's ``TransactWriteItems`` deep-copied every table a transaction names,
      once per item, to roll a cancelled one back: a 3-item transaction took 30 ms at
      100 items in the table, 2.4 s at 10,000. It keeps copies of just the items it
      touches instead (``_transact_write_items``).
    """
    import jsonpath_ng.ext
    from moto.dynamodb.models import DynamoDBBackend
    from moto.sqs.models import SQSBackend

    jsonpath_ng.ext.parse = _jsonpath  # moto's EventTemplateParser imports it per call
    SQSBackend.is_message_valid_based_on_retention_period = _retained  # type: ignore[method-assign]
    import moto.sqs.models as sqs_models

    if not getattr(sqs_models.unix_time, "quick", False):
        sqs_models.unix_time = _quick_clock(sqs_models.unix_time, 1.0)
        sqs_models.unix_time_millis = _quick_clock(sqs_models.unix_time_millis, 1000.0)
    if not getattr(DynamoDBBackend.transact_write_items, "keeps_streams", False):
        DynamoDBBackend.transact_write_items = _keeping_streams(  # type: ignore[method-assign]
            _transact_write_items
        )


def _quick_clock(clock: Callable[..., float], scale: float) -> Callable[..., float]:
    """moto's ``unix_time``/``unix_time_millis``: ``time.time()`` when asked for now."""

    def now(dt: Any = None) -> float:
        return time.time() * scale if dt is None else clock(dt)

    now.quick = True  # type: ignore[attr-defined]
    return now


def _retained(self: Any, queue_name: str, message: Any) -> bool:
    queue = self.get_queue(queue_name)
    retain_until = int(queue.message_retention_period) + message.sent_timestamp / 1000
    return bool(retain_until > time.time())


class _Touched:
    """What a transaction touched, as it was before: each item it named (a copy: moto's
    updates change an item in place) and each table's stream, to put back if it is
    cancelled. Nothing else of a table changes on a write: moto keeps no item count
    and builds its indexes' answers from the items at each read."""

    def __init__(self, backend: Any) -> None:
        self._backend = backend
        # (table, hash key, range key or None, the hash key's range map was there,
        #  the item or None), in the order touched
        self._items: list[tuple[Any, Any, Any, bool, Any]] = []
        self._streams: dict[int, tuple[Any, list[Any], int]] = {}  # id(table): shard

    def keep(self, table_name: str, key: dict[str, Any]) -> None:
        table = self._backend.tables.get(table_name)
        if table is None:
            return  # the step fails on the missing table, before any write
        try:
            hash_key, range_key = self._backend.get_keys_value(table, key)
        except Exception:  # the step fails on the same key, before any write
            return
        if id(table) not in self._streams and getattr(table, "stream_shard", None) is not None:
            shard = table.stream_shard
            self._streams[id(table)] = (table, shard.items, len(shard.items))
        bucket_there = hash_key in table.items  # not table.items[...]: a defaultdict
        if range_key is None:
            item = table.items.get(hash_key) if bucket_there else None
        else:
            item = table.items[hash_key].get(range_key) if bucket_there else None
        copied = copy.deepcopy(item) if item is not None else None
        self._items.append((table, hash_key, range_key, bucket_there, copied))

    def roll_back(self) -> None:
        """Every touched item and stream as before the transaction (the latest first)."""
        for table, hash_key, range_key, bucket_there, item in reversed(self._items):
            if range_key is None:
                if item is None:
                    table.items.pop(hash_key, None)
                else:
                    table.items[hash_key] = item
                continue
            if item is not None:
                table.items[hash_key][range_key] = item
            elif hash_key in table.items:
                table.items[hash_key].pop(range_key, None)
            if not bucket_there and hash_key in table.items and not table.items[hash_key]:
                del table.items[hash_key]  # moto's reads leave an empty range map behind
        for table, records, length in self._streams.values():
            del records[length:]  # the records from before, in the list readers were handed
            if table.stream_shard is not None:
                table.stream_shard.items = records
        self._items.clear()
        self._streams.clear()


def _transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
    """moto's ``DynamoDBBackend.transact_write_items`` (moto 5.2.6), rolling a cancelled
    transaction back from copies of just the items it touched (``_Touched``) instead of
    deep copies of its whole tables, once per item. Otherwise step for step as moto's:
    the same checks, the same errors, the same cancellation reasons."""
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (
        ConditionalCheckFailed,
        MockValidationException,
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    touched = _Touched(self)
    target_items: set[tuple[str, str]] = set()

    def check_unicity(table_name: str, key: dict[str, Any]) -> None:
        item = (str(table_name), str(dict(sorted(key.items()))))
        if item in target_items:
            raise MultipleTransactionsException()
        target_items.add(item)

    errors: list[tuple[str | None, str | None, dict[str, Any] | None]] = []
    for item in transact_items:
        original_item: dict[str, Any] | None = None
        if len(list(item.keys())) > 1:
            raise TransactWriteSingleOpException
        try:
            op_type, op = next(iter(item.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            condition_expression = op.get("ConditionExpression")
            names = op.get("ExpressionAttributeNames")
            values = op.get("ExpressionAttributeValues")
            return_values = op.get("ReturnValuesOnConditionCheckFailure")
            if op_type == "Put":
                attrs = op["Item"]
                table = self.get_table(table_name)
                key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs[table.range_key_attr]
            else:
                key = op["Key"]
            check_unicity(table_name, key)
            touched.keep(table_name, key)
            current = self.get_item(table_name, key)
            if condition_expression is not None:
                condition_op = get_filter_expression(condition_expression, names, values)
                if not condition_op.expr(current):
                    if return_values == "ALL_OLD" and current:
                        original_item = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=original_item)
            if op_type == "Put":
                self.put_item(
                    table_name,
                    op["Item"],
                    condition_expression=condition_expression,
                    expression_attribute_names=names,
                    expression_attribute_values=values,
                )
            elif op_type == "Delete":
                self.delete_item(
                    table_name,
                    key,
                    condition_expression=condition_expression,
                    expression_attribute_names=names,
                    expression_attribute_values=values,
                )
            elif op_type == "Update":
                self.update_item(
                    table_name,
                    key,
                    update_expression=op["UpdateExpression"],
                    condition_expression=condition_expression,
                    expression_attribute_names=names,
                    expression_attribute_values=values,
                )
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            touched.roll_back()  # and the request is refused whole
            raise
        except ConditionalCheckFailed as e:
            errors.append(("ConditionalCheckFailed", str(e.message), original_item))
        except Exception as e:  # moto's: any other failure cancels the step
            errors.append((type(e).__name__, str(e), original_item))
    if any(code is not None for code, _, _ in errors):
        touched.roll_back()
        raise TransactionCanceledException(errors)


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


# --- a stream reader woken by the write ------------------------------------------------
#
# DynamoDB Streams has no long poll: a reader asks GetRecords again and again. The local
# stream pollers ask this endpoint instead to wait until a stream has a record after the
# one they stand at (or ``timeout`` seconds, at most a few): moto's stream shards tell a
# condition each time they take a record, and the waiting request answers at once.

_MAX_STREAM_WAIT_SECONDS = 5.0
_stream_written = threading.Condition()


def _notify_stream_writes() -> None:
    from moto.dynamodb.models.table import StreamShard

    if getattr(StreamShard.add, "notifies", False):
        return
    add = StreamShard.add

    @functools.wraps(add)
    def add_and_notify(self: Any, *args: Any, **kwargs: Any) -> None:
        add(self, *args, **kwargs)
        with _stream_written:
            _stream_written.notify_all()

    add_and_notify.notifies = True  # type: ignore[attr-defined]
    StreamShard.add = add_and_notify  # type: ignore[method-assign]


def _stream_end(stream_arn: str) -> int | None:
    """The sequence number of the last record of the stream ``stream_arn`` (None: none yet)."""
    from moto.dynamodb.models import dynamodb_backends

    for backends in list(dynamodb_backends.values()):
        for backend in list(backends.values()):
            for table in list(backend.tables.values()):
                shard = table.stream_shard
                if shard is None or not table.latest_stream_label:
                    continue
                if f"{table.table_arn}/stream/{table.latest_stream_label}" == stream_arn:
                    if not shard.items:
                        return None
                    return int(shard.starting_sequence_number) + len(shard.items) - 1
    return None


def stream_waits(app: WsgiApp) -> WsgiApp:
    """``app``, answering ``GET /_govbus/stream-wait?arn=..&after=..&timeout=..`` itself:
    ``{"written": true}`` as soon as the stream holds a record after sequence number
    ``after`` (any record when ``after`` is empty), ``false`` after ``timeout`` seconds."""

    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != STREAM_WAIT_PATH:
            return app(environ, start_response)
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
        arn = (query.get("arn") or [""])[0]
        try:
            after = int((query.get("after") or ["-1"])[0] or -1)
            timeout = min(float((query.get("timeout") or ["1"])[0]), _MAX_STREAM_WAIT_SECONDS)
            if math.isnan(timeout):  # min() keeps a NaN, and a wait for NaN never ends
                raise ValueError(timeout)
        except ValueError:
            start_response("400 Bad Request", [("Content-Type", "application/json")])
            return [b'{"message": "after is a sequence number, timeout a number of seconds"}']

        def written() -> bool:
            end = _stream_end(arn)
            return end is not None and end > after

        with _stream_written:
            found = _stream_written.wait_for(written, timeout=max(timeout, 0.0))
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps({"written": bool(found)}).encode()]

    return serve


# --- what the platform asks of AWS, counted where it is served (`make cost`) ----------
#
# With GOVBUS_ENDPOINT_USAGE=1 in its environment the endpoint counts DynamoDB request
# units (a read or write per item; a transaction's items twice, as DynamoDB bills them)
# and EventBridge entries put, and answers ``GET /_govbus/usage`` with the totals so far.
# Off by default: it reads every such request's body.

USAGE_PATH = "/_govbus/usage"
_READS = {"GetItem": 1, "Query": 1, "Scan": 1}
_WRITES = {"PutItem": 1, "UpdateItem": 1, "DeleteItem": 1}


def _units(target: str, body: dict[str, Any]) -> tuple[str, int] | None:
    service, _, op = target.partition(".")
    if service.startswith("AWSEvents"):
        return ("eventbridge_event", len(body.get("Entries", []))) if op == "PutEvents" else None
    if op in _READS:
        return "dynamodb_read_unit", 1
    if op in _WRITES:
        return "dynamodb_write_unit", 1
    items = body.get("RequestItems", {})
    if op == "BatchGetItem":
        return "dynamodb_read_unit", sum(len(t.get("Keys", [])) for t in items.values())
    if op == "BatchWriteItem":
        return "dynamodb_write_unit", sum(len(v) for v in items.values())
    if op == "TransactWriteItems":
        return "dynamodb_write_unit", 2 * len(body.get("TransactItems", []))
    if op == "TransactGetItems":
        return "dynamodb_read_unit", 2 * len(body.get("TransactItems", []))
    return None


def aws_usage(app: WsgiApp) -> WsgiApp:
    """``app``, counting DynamoDB units and EventBridge entries, answering ``USAGE_PATH``."""
    import collections
    import io

    counts: collections.Counter[str] = collections.Counter()
    lock = threading.Lock()

    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == USAGE_PATH:
            with lock:
                body = json.dumps(dict(counts)).encode()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body]
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target.startswith(("DynamoDB_", "AWSEvents.")):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            raw = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(raw)
            try:
                counted = _units(target, json.loads(raw or b"{}"))
            except ValueError:
                counted = None
            if counted:
                with lock:
                    counts[counted[0]] += counted[1]
        return app(environ, start_response)

    return serve


# --- snapshots of the emulator, taken and restored where it runs ----------------------
#
# The test session keeps the emulator as just provisioned (and as just seeded) and writes
# it back before each test (govbus_dev/local/snapshot.py). moto's state lives in this
# process, so the stack asks for both over the wire.


def snapshots(app: WsgiApp) -> WsgiApp:
    """``app``, answering ``POST {SNAPSHOT_PATH}?name=..`` (keep the state as ``name``),
    ``POST {RESTORE_PATH}?name=..`` (write it back; the answer names each table's new
    stream) and ``GET {FINGERPRINT_PATH}`` (a digest of the state but for stream
    readers' iterators) itself."""
    from govbus_dev.local import snapshot

    kept: dict[str, snapshot.Snapshot] = {}

    def answer(start_response: Callable[..., Any], status: str, body: dict) -> list[bytes]:
        start_response(status, [("Content-Type", "application/json")])
        return [json.dumps(body).encode()]

    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO")
        if path not in (snapshot.SNAPSHOT_PATH, snapshot.RESTORE_PATH, snapshot.FINGERPRINT_PATH):
            return app(environ, start_response)
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
        name = (query.get("name") or [""])[0]
        with _DYNAMODB_LOCK:
            if path == snapshot.FINGERPRINT_PATH:
                return answer(start_response, "200 OK", {"fingerprint": snapshot.fingerprint()})
            if not name:
                return answer(start_response, "400 Bad Request", {"message": "name a snapshot"})
            if path == snapshot.SNAPSHOT_PATH:
                kept[name] = snapshot.Snapshot()
                return answer(start_response, "200 OK", {"taken": name})
            if name not in kept:
                return answer(start_response, "404 Not Found", {"message": f"no snapshot {name}"})
            kept[name].restore()
            return answer(start_response, "200 OK", {"streams": snapshot.fresh_streams()})

    return serve


class AtomicMotoServer:
    """moto server, its DynamoDB requests atomic (see above), in a process of its own.

    In the stack's process moto shared one interpreter lock with the gateway, every
    poller and the bench's senders: profiled under `python -m bench gateway` it was
    60% of a process pinned at one core, while the second core ran only the workers.
    The process is its own session (a Ctrl-C in the terminal reaches the stack, which
    stops it last) and ends when its standard input closes, so it never outlives the
    process that started it, however that one ends.
    """

    def __init__(self, ip_address: str = "127.0.0.1", port: int = 0, verbose: bool = False) -> None:
        self._ip_address = ip_address
        self._port = port
        self._process: subprocess.Popen[bytes] | None = None
        self._address: tuple[str, int] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(  # noqa: S603 - this interpreter, this module
            [sys.executable, "-m", "govbus_dev.local.endpoint", self._ip_address, str(self._port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline().decode().strip()
        if not line.isdigit():
            code = self._process.wait(timeout=10)
            raise RuntimeError(f"the local AWS endpoint did not start (exit status {code})")
        self._process.stdout.close()  # nothing more is written there
        self._address = (self._ip_address, int(line))

    def get_host_and_port(self) -> tuple[str, int]:
        assert self._address is not None, "Make sure to call start() first"
        return self._address

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        try:
            assert process.stdin is not None
            process.stdin.close()  # the server's cue to end
            process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            process.kill()
            process.wait(timeout=5)


class _Handler(MotoRequestHandler):
    """moto's request handler, its answers sent without waiting on Nagle's algorithm.

    werkzeug writes an answer's headers and its body as two sends: with Nagle's algorithm
    the second waits for the client to acknowledge the first, which a client waiting
    for the rest delays (up to 40 ms on Linux) on a kept-alive connection.
    """

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def serve(ip_address: str, port: int) -> int:
    """Serve until standard input closes; the port is the first line written out."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per AWS call
    quicken_moto()
    _notify_stream_writes()
    app = atomic_dynamodb(QuickDispatcher(create_backend_app))
    if os.environ.get("GOVBUS_ENDPOINT_USAGE") == "1":
        app = aws_usage(app)
    app = snapshots(stream_waits(app))
    server = make_server(ip_address, port, app, True, request_handler=_Handler)
    threading.Thread(target=server.serve_forever, daemon=True, name="moto").start()
    sys.stdout.write(f"{server.server_address[1]}\n")
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # moto's own prints: not to the pipe
    try:
        sys.stdin.buffer.read()  # until the stack closes it, or its process ends
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1], int(sys.argv[2])))
