"""DynamoDB stream event sources, as Lambda's event source mapping reads them.

Reads the table's stream over the wire (moto server serves DynamoDB Streams), shard by
shard in order, and invokes the function with batches of records in Lambda's format.
Honours ``BatchSize``, ``FunctionResponseTypes: [ReportBatchItemFailures]`` (the batch
is retried from the lowest failed sequence number), ``MaximumRetryAttempts`` (then the
batch's coordinates go to the ``DestinationConfig.OnFailure`` SQS queue, as AWS sends
them, and the shard moves on). After the emulator is reset the table has a new stream;
the poller follows it.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import threading
from typing import Any

from govbus.local.runtime import LocalFunction
from govbus.local.template import ACCOUNT_ID

log = logging.getLogger("govbus_dev")


def stream_record(raw: dict[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """A record as the Lambda service hands it to a function (eventSourceARN added)."""
    dynamodb = dict(raw["dynamodb"])
    created = dynamodb.get("ApproximateCreationDateTime")
    if isinstance(created, _dt.datetime):
        dynamodb["ApproximateCreationDateTime"] = created.timestamp()
    return {
        "eventID": raw.get("eventID"),
        "eventName": raw.get("eventName"),
        "eventVersion": raw.get("eventVersion", "1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    }


class DynamoDbStreamPoller:
    def __init__(
        self,
        function: LocalFunction,
        session: Any,
        table_name: str,
        batch_size: int = 100,
        report_failures: bool = False,
        max_retries: int = -1,
        on_failure_queue_url: str | None = None,
        starting_position: str = "TRIM_HORIZON",
        retry_delay_seconds: float = 0.5,
    ) -> None:
        self.function = function
        self.ddb = session.client("dynamodb")
        self.streams = session.client("dynamodbstreams")
        self.sqs = session.client("sqs")
        self.table_name = table_name
        self.batch_size = max(1, min(batch_size, 10000))
        self.report_failures = report_failures
        self.max_retries = max_retries
        self.on_failure_queue_url = on_failure_queue_url
        self.starting_position = starting_position
        self.retry_delay_seconds = retry_delay_seconds
        self._stream_arn: str | None = None
        self._iterators: dict[str, str | None] = {}
        self._buffers: dict[str, list[dict[str, Any]]] = {}
        self._attempts: dict[str, int] = {}
        self._stop = threading.Event()
        self._paused = threading.Event()
        self._busy = threading.Lock()
        self._thread: threading.Thread | None = None

    # --- the stream --------------------------------------------------------------

    def _follow_stream(self) -> str | None:
        arn = self.ddb.describe_table(TableName=self.table_name)["Table"].get("LatestStreamArn")
        if arn != self._stream_arn:
            self._stream_arn = arn
            self._iterators.clear()
            self._buffers.clear()
            self._attempts.clear()
        return arn

    def _fill(self, arn: str) -> None:
        shards = self.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
        for shard in shards:
            sid = shard["ShardId"]
            if sid not in self._iterators:
                self._iterators[sid] = self.streams.get_shard_iterator(
                    StreamArn=arn, ShardId=sid, ShardIteratorType=self.starting_position
                )["ShardIterator"]
                self._buffers[sid] = []
            iterator = self._iterators[sid]
            if iterator is None or len(self._buffers[sid]) >= self.batch_size:
                continue
            answer = self.streams.get_records(ShardIterator=iterator, Limit=1000)
            self._buffers[sid].extend(answer.get("Records") or [])
            self._iterators[sid] = answer.get("NextShardIterator")

    def poll_once(self) -> int:
        """Fetch what the stream has and hand one batch per shard to the function."""
        with self._busy:
            if self._paused.is_set():
                return 0
            arn = self._follow_stream()
            if not arn:
                return 0
            self._fill(arn)
            handled = 0
            for sid, buffer in self._buffers.items():
                if buffer:
                    handled += self._deliver(arn, sid, buffer)
            return handled

    def _deliver(self, arn: str, sid: str, buffer: list[dict[str, Any]]) -> int:
        batch = buffer[: self.batch_size]
        region = self.function.region
        event = {"Records": [stream_record(r, arn, region) for r in batch]}
        failed_from: int | None = None
        try:
            result = self.function.invoke(event)
        except Exception:
            log.exception("%s failed on a stream batch of %d", self.function.logical_id, len(batch))
            failed_from = 0
        else:
            if self.report_failures and isinstance(result, dict):
                failed = {f.get("itemIdentifier") for f in result.get("batchItemFailures") or []}
                positions = [
                    i for i, r in enumerate(batch) if r["dynamodb"]["SequenceNumber"] in failed
                ]
                if positions:
                    failed_from = min(positions)
        if failed_from is None:
            del buffer[: len(batch)]
            self._attempts.pop(sid, None)
            return len(batch)
        del buffer[:failed_from]  # those before the first failure are done
        attempts = self._attempts.get(sid, 0) + 1
        self._attempts[sid] = attempts
        if 0 <= self.max_retries < attempts:
            rest = buffer[: len(batch) - failed_from]
            self._send_failure(arn, sid, rest, attempts)
            del buffer[: len(rest)]
            self._attempts.pop(sid, None)
        else:
            self._stop.wait(self.retry_delay_seconds)
        return len(batch)

    def _send_failure(
        self, arn: str, sid: str, records: list[dict[str, Any]], attempts: int
    ) -> None:
        log.warning(
            "%s gave up on %d stream records after %d attempts",
            self.function.logical_id,
            len(records),
            attempts,
        )
        if not self.on_failure_queue_url or not records:
            return
        now = _dt.datetime.now(_dt.UTC).isoformat()
        first = records[0]["dynamodb"].get("ApproximateCreationDateTime")
        last = records[-1]["dynamodb"].get("ApproximateCreationDateTime")
        message = {
            "requestContext": {
                "requestId": records[0].get("eventID"),
                "functionArn": f"arn:aws:lambda:{self.function.region}:{ACCOUNT_ID}:function:{self.function.name}",
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": attempts,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "version": "1.0",
            "timestamp": now,
            "DDBStreamBatchInfo": {
                "shardId": sid,
                "startSequenceNumber": records[0]["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": records[-1]["dynamodb"]["SequenceNumber"],
                "approximateArrivalOfFirstRecord": str(first),
                "approximateArrivalOfLastRecord": str(last),
                "batchSize": len(records),
                "streamArn": arn,
            },
        }
        self.sqs.send_message(QueueUrl=self.on_failure_queue_url, MessageBody=json.dumps(message))

    # --- the thread --------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._paused.is_set():
                self._stop.wait(0.05)
                continue
            try:
                if not self.poll_once():
                    self._stop.wait(0.1)
            except Exception as exc:
                if self._stop.is_set():
                    return
                # the table is gone while the emulator is reset and re-provisioned
                log.debug("stream poller for %s: %s", self.function.logical_id, exc)
                self._stream_arn = None
                self._stop.wait(0.2)

    def pause(self) -> None:
        self._paused.set()
        with self._busy:
            pass

    def resume(self) -> None:
        self._paused.clear()

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, daemon=True, name=f"ddb-stream-{self.function.logical_id}"
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
