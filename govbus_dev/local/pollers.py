"""Event source mappings, as the Lambda service runs them: SQS queues and DynamoDB streams.

Honours ``BatchSize`` and ``FunctionResponseTypes: [ReportBatchItemFailures]``:
successful records are deleted, failed ones are made visible again after a short
local retry delay (Lambda waits out the queue's visibility timeout; locally that
would make a DLQ test take minutes), so the queue's redrive policy moves a message
to its DLQ after ``maxReceiveCount`` receives, as in AWS.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as _dt
import hashlib
import json
import logging
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any

from govbus_dev.local.background import Background
from govbus_dev.local.runtime import LocalFunction

log = logging.getLogger("govbus_dev")
# the local endpoint's long poll for a stream's next record (``endpoint.stream_waits``),
# asked on loopback: never through a proxy
STREAM_WAIT_PATH = "/_govbus/stream-wait"
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    attributes = dict(message.get("Attributes") or {})
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": attributes,
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value.get("DataType"),
            }
            for name, value in (message.get("MessageAttributes") or {}).items()
        },
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),  # noqa: S324 - SQS's own checksum
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


class SqsPoller(Background):
    def __init__(
        self,
        function: LocalFunction,
        sqs: Any,
        queue_url: str,
        queue_arn: str,
        batch_size: int = 10,
        report_failures: bool = False,
        retry_delay_seconds: int = 1,
    ) -> None:
        self.function = function
        self.sqs = sqs
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.batch_size = max(1, min(batch_size, 10))
        self.report_failures = report_failures
        self.retry_delay_seconds = retry_delay_seconds
        super().__init__()
        self._paused = threading.Event()
        self._busy = threading.Lock()

    def poll_once(self, wait_seconds: int = 0) -> int:
        """Receive one batch and run the function on it; returns the records handled."""
        answer = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = answer.get("Messages") or []
        if not messages:
            return 0
        with self._busy:
            if self._paused.is_set():
                # received just as a pause began: give them back at once; left alone they
                # would stay invisible for the queue's whole VisibilityTimeout (minutes)
                self._give_back(messages)
                return 0
            return self._handle(messages)

    def _give_back(self, messages: list[dict[str, Any]]) -> None:
        for m in messages:
            try:
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
                )
            except Exception:  # the queue is being reset: nothing left to give back
                log.debug("could not give back a message of %s", self.function.logical_id)

    def _handle(self, messages: list[dict[str, Any]]) -> int:
        region = self.function.region
        event = {"Records": [sqs_record(m, self.queue_arn, region) for m in messages]}
        failed: set[str]
        try:
            result = self.function.invoke(event)
        except Exception:
            log.exception("%s failed on a batch of %d", self.function.logical_id, len(messages))
            failed = {m["MessageId"] for m in messages}
        else:
            failed = set()
            if self.report_failures and isinstance(result, dict):
                failed = {f["itemIdentifier"] for f in result.get("batchItemFailures") or []}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)
                ],
            )
        for m in messages:
            if m["MessageId"] in failed:
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url,
                    ReceiptHandle=m["ReceiptHandle"],
                    VisibilityTimeout=self.retry_delay_seconds,
                )
        return len(messages)

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._paused.is_set():
                self._stop.wait(0.05)
                continue
            try:
                # a long poll: the endpoint answers as soon as a message arrives (moto
                # waits on the queue's condition, which each send notifies), so no sleep
                # between polls, only where an endpoint answered an empty poll at once
                started = time.monotonic()
                if not self.poll_once(wait_seconds=1) and time.monotonic() - started < 0.05:
                    self._stop.wait(0.05)
            except self.sqs.exceptions.QueueDoesNotExist:
                self._stop.wait(0.2)  # the emulator is being reset and re-provisioned
            except Exception:
                if self._stop.is_set():
                    return
                log.exception("poller for %s hit an error", self.function.logical_id)
                self._stop.wait(1.0)

    def pause(self) -> None:
        """Stop handling batches, and wait for the one being handled to finish."""
        self._paused.set()
        with self._busy:
            pass

    def resume(self) -> None:
        self._paused.clear()

    def _thread_name(self) -> str:
        return f"sqs-{self.function.logical_id}"


# --- DynamoDB streams ----------------------------------------------------------


def _lambda_json(value: Any) -> Any:
    """boto3's stream record as Lambda sends it: binary attributes in base64, times as epoch."""
    if isinstance(value, dict):
        return {k: _lambda_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_lambda_json(v) for v in value]
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if isinstance(value, _dt.datetime):
        return value.timestamp()
    return value


def stream_record(record: dict[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """One record of a DynamoDB stream event, as the Lambda event source mapping sends it."""
    event = {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": record.get("eventVersion", "1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": _lambda_json(record["dynamodb"]),
        "eventSourceARN": stream_arn,
    }
    if "userIdentity" in record:
        event["userIdentity"] = record["userIdentity"]
    return event


def _iso(when: Any) -> str:
    if isinstance(when, int | float):
        when = _dt.datetime.fromtimestamp(when, _dt.UTC)
    if not isinstance(when, _dt.datetime):
        when = _dt.datetime.now(_dt.UTC)
    return when.astimezone(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclasses.dataclass
class _Shard:
    """Where the event source mapping stands in one shard."""

    shard_id: str
    iterator: str | None = None
    checkpoint: str | None = None  # the last sequence number done with
    retry_from: str | None = None  # read again from here (a failed batch)
    attempts: int = 0  # invocations that failed starting at ``retry_from``
    planned: list[int] = dataclasses.field(default_factory=list)  # bisected batch sizes
    not_before: float = 0.0  # retry delay


class DynamoDBStreamPoller(Background):
    """A ``DynamoDB`` event source: a table's stream, read shard by shard, in order.

    As the Lambda event source mapping: batches of up to ``BatchSize`` records from
    ``StartingPosition``; a function error retries the batch, ``BisectBatchOnFunctionError``
    splits a failing batch in two first (splitting uses no retry); with
    ``ReportBatchItemFailures`` the records before the lowest reported sequence number
    are done and the batch is read again from it. After ``MaximumRetryAttempts`` retries
    the batch is skipped, and with an ``OnFailure`` SQS destination its description
    (``DDBStreamBatchInfo``) is sent there. The stream is found through the table's
    ``LatestStreamArn``, so after a reset the poller follows the table's new stream.

    Where it stands in each shard (its checkpoint) is kept across a pause and an
    emulator error, as the event source mapping keeps it across its own restarts: only
    a new stream (the table re-created) starts again from ``StartingPosition``; reading
    the same stream from its start again would hand the function every record twice.
    """

    def __init__(
        self,
        function: LocalFunction,
        session: Any,
        table_name: str,
        batch_size: int = 100,
        starting_position: str = "TRIM_HORIZON",
        maximum_retry_attempts: int = -1,
        bisect_on_error: bool = False,
        report_failures: bool = False,
        on_failure_queue_url: str | None = None,
        retry_delay_seconds: float = 1,
        poll_interval_seconds: float = 0.25,
        idle_poll_max_seconds: float = 1.0,
    ) -> None:
        self.function = function
        self.dynamodb = session.client("dynamodb")
        self.streams = session.client("dynamodbstreams")
        self.sqs = session.client("sqs")
        self.table_name = table_name
        self.batch_size = max(1, min(batch_size, 10000))
        self.starting_position = starting_position
        self.maximum_retry_attempts = maximum_retry_attempts
        self.bisect_on_error = bisect_on_error
        self.report_failures = report_failures
        self.on_failure_queue_url = on_failure_queue_url
        self.retry_delay_seconds = retry_delay_seconds
        self.poll_interval_seconds = poll_interval_seconds
        self.idle_poll_max_seconds = max(idle_poll_max_seconds, poll_interval_seconds)
        self.stream_arn: str | None = None
        self._shards_of: str | None = None  # the stream ``_shards`` are positions in
        self._shards: dict[str, _Shard] = {}
        self._wake_on_write = True  # until the endpoint shows it has no stream-wait hook
        self._woken_for_nothing = False
        super().__init__()
        self._paused = threading.Event()
        self._busy = threading.Lock()

    # --- reading ----------------------------------------------------------------

    def _current_stream(self) -> str | None:
        if self.stream_arn is None:
            table = self.dynamodb.describe_table(TableName=self.table_name)["Table"]
            self.stream_arn = table.get("LatestStreamArn")
            if self.stream_arn != self._shards_of:
                self._shards = {}  # another stream: its own positions, from the start
                self._shards_of = self.stream_arn
            for state in self._shards.values():
                state.iterator = None  # read on from the checkpoint with a fresh iterator
        return self.stream_arn

    def poll_once(self) -> int:
        """Read each shard once and run the function on what it holds; records handled."""
        with self._busy:
            if self._paused.is_set():
                return 0
            arn = self._current_stream()
            if arn is None:
                return 0
            shards = self.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
            shards.sort(key=lambda s: int(s["SequenceNumberRange"]["StartingSequenceNumber"]))
            handled = 0
            for shard in shards:
                state = self._shards.setdefault(shard["ShardId"], _Shard(shard["ShardId"]))
                handled += self._poll_shard(arn, state)
            return handled

    def _iterator(self, arn: str, state: _Shard) -> str:
        if state.iterator is not None:
            return state.iterator
        args: dict[str, Any] = {"StreamArn": arn, "ShardId": state.shard_id}
        if state.retry_from is not None:
            args.update(ShardIteratorType="AT_SEQUENCE_NUMBER", SequenceNumber=state.retry_from)
        elif state.checkpoint is not None:
            args.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=state.checkpoint)
        else:
            args.update(ShardIteratorType=self.starting_position)
        return self.streams.get_shard_iterator(**args)["ShardIterator"]

    def _poll_shard(self, arn: str, state: _Shard) -> int:
        if time.monotonic() < state.not_before:
            return 0
        limit = state.planned[-1] if state.planned else self.batch_size
        answer = self.streams.get_records(ShardIterator=self._iterator(arn, state), Limit=limit)
        records = answer.get("Records") or []
        if not records:
            state.iterator = answer.get("NextShardIterator")
            return 0
        failed_from, function_error = self._deliver(arn, records)
        if failed_from is None:
            state.checkpoint = records[-1]["dynamodb"]["SequenceNumber"]
            state.retry_from, state.attempts = None, 0
            state.iterator = answer.get("NextShardIterator")
            if state.planned:
                state.planned.pop()
            return len(records)
        # the records before the first failure are done
        state.iterator = None
        state.not_before = time.monotonic() + self.retry_delay_seconds
        first = records[0]["dynamodb"]["SequenceNumber"]
        if failed_from != first:
            state.checkpoint = _before(records, failed_from)
        if function_error and self.bisect_on_error and len(records) > 1:
            half = len(records) // 2
            if state.planned:
                state.planned.pop()
            state.planned.extend([len(records) - half, half])  # the first half is read next
            state.retry_from, state.attempts = failed_from, 0
            return len(records)
        state.attempts = state.attempts + 1 if state.retry_from == failed_from else 1
        state.retry_from = failed_from
        retries = state.attempts - 1
        if 0 <= self.maximum_retry_attempts <= retries:
            batch = [r for r in records if int(r["dynamodb"]["SequenceNumber"]) >= int(failed_from)]
            self._discard(arn, state, batch, function_error)
            state.checkpoint = records[-1]["dynamodb"]["SequenceNumber"]
            state.retry_from, state.attempts = None, 0
            state.not_before = 0.0
            if state.planned:
                state.planned.pop()
        return len(records)

    def _deliver(self, arn: str, records: list[dict[str, Any]]) -> tuple[str | None, bool]:
        """Invoke the function; (the sequence number to retry from or None, function error?)."""
        region = self.function.region
        event = {"Records": [stream_record(r, arn, region) for r in records]}
        first = records[0]["dynamodb"]["SequenceNumber"]
        try:
            result = self.function.invoke(event)
        except Exception as exc:
            log.warning(
                "%s failed on a stream batch of %d: %s", self.function.logical_id, len(records), exc
            )
            return first, True
        if not self.report_failures or not isinstance(result, dict):
            return None, False
        reported = result.get("batchItemFailures") or []
        if not reported:
            return None, False
        sequence_numbers = {r["dynamodb"]["SequenceNumber"] for r in records}
        identifiers = [f.get("itemIdentifier") if isinstance(f, dict) else None for f in reported]
        if any(i not in sequence_numbers for i in identifiers):
            return first, False  # an unknown identifier fails the whole batch, as in Lambda
        return min(identifiers, key=int), False

    def _discard(
        self, arn: str, state: _Shard, batch: list[dict[str, Any]], function_error: bool
    ) -> None:
        first, last = batch[0]["dynamodb"], batch[-1]["dynamodb"]
        log.warning(
            "%s: retries exhausted, skipping %d stream record(s) %s..%s",
            self.function.logical_id,
            len(batch),
            first["SequenceNumber"],
            last["SequenceNumber"],
        )
        if not self.on_failure_queue_url:
            return
        response_context: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
        if function_error:
            response_context["functionError"] = "Unhandled"
        record = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": self.function.arn,
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": state.attempts,
            },
            "responseContext": response_context,
            "version": "1.0",
            "timestamp": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "DDBStreamBatchInfo": {
                "shardId": state.shard_id,
                "startSequenceNumber": first["SequenceNumber"],
                "endSequenceNumber": last["SequenceNumber"],
                "approximateArrivalOfFirstRecord": _iso(first.get("ApproximateCreationDateTime")),
                "approximateArrivalOfLastRecord": _iso(last.get("ApproximateCreationDateTime")),
                "batchSize": len(batch),
                "streamArn": arn,
            },
        }
        self.sqs.send_message(QueueUrl=self.on_failure_queue_url, MessageBody=json.dumps(record))

    # --- running ----------------------------------------------------------------

    def _run(self) -> None:
        # An idle stream is read less and less often (up to ``idle_poll_max_seconds``):
        # every GetRecords makes the emulator keep one more shard iterator, so a
        # long-running `govbus dev` would otherwise grow the emulator's memory by the
        # hour. The first record read brings the interval back down. On the stack's own
        # endpoint the wait ends as soon as the table is written (``_idle``).
        idle_wait = self.poll_interval_seconds
        while not self._stop.is_set():
            if self._paused.is_set():
                self._stop.wait(0.05)
                continue
            try:
                if self.poll_once():
                    idle_wait = self.poll_interval_seconds
                    self._woken_for_nothing = False
                else:
                    self._idle(idle_wait)
                    idle_wait = min(idle_wait * 2, self.idle_poll_max_seconds)
            except Exception as exc:
                if self._stop.is_set():
                    return
                # the table is being reset and re-provisioned: find its stream again
                self.stream_arn = None
                if "ResourceNotFound" not in type(exc).__name__ + str(exc):
                    log.exception("stream poller for %s hit an error", self.function.logical_id)
                self._stop.wait(0.2)

    def _idle(self, seconds: float) -> None:
        """Wait ``seconds``, or less: until the stream has a record after where the poller
        stands, when the endpoint can tell (the local stack's, ``endpoint.stream_waits``),
        or until a failed batch's retry is due."""
        now = time.monotonic()
        due = [s.not_before for s in self._shards.values() if s.not_before > now]
        arn = self.stream_arn
        if due or arn is None or not self._wake_on_write or self._woken_for_nothing:
            self._woken_for_nothing = False
            self._stop.wait(min([seconds, *(d - now for d in due)]))
            return
        endpoint = getattr(getattr(self.streams, "meta", None), "endpoint_url", None)
        if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://")):
            self._wake_on_write = False  # a client with no endpoint of ours to ask
            self._stop.wait(seconds)
            return
        after = max((int(s.checkpoint) for s in self._shards.values() if s.checkpoint), default=-1)
        query = urllib.parse.urlencode({"arn": arn, "after": after, "timeout": seconds})
        url = f"{endpoint.rstrip('/')}{STREAM_WAIT_PATH}?{query}"
        try:
            with _NO_PROXY.open(url, timeout=seconds + 5) as answer:
                written = json.loads(answer.read()).get("written") is True
        except (OSError, ValueError) as exc:  # another endpoint: it cannot wake us
            if not (isinstance(exc, urllib.error.HTTPError) and exc.code >= 500):
                self._wake_on_write = False
            log.debug("%s: no stream-wait hook at the endpoint (%s)", self.function.logical_id, exc)
            self._stop.wait(seconds)
            return
        # a record after the checkpoint that the next read does not find (a starting
        # position of LATEST, say) would wake every wait at once: the next one sleeps
        self._woken_for_nothing = written

    def pause(self) -> None:
        """Stop reading, and wait for the batch being handled to finish."""
        self._paused.set()
        with self._busy:
            pass

    def resume(self) -> None:
        """Read again: on from the checkpoints, or from the start of the table's new stream."""
        with self._busy:
            self.stream_arn = None
        self._paused.clear()

    def _thread_name(self) -> str:
        return f"ddb-stream-{self.function.logical_id}"


def _before(records: list[dict[str, Any]], sequence_number: str) -> str:
    """The sequence number of the record just before ``sequence_number`` in the batch."""
    previous = records[0]["dynamodb"]["SequenceNumber"]
    for record in records:
        current = record["dynamodb"]["SequenceNumber"]
        if int(current) >= int(sequence_number):
            break
        previous = current
    return previous
