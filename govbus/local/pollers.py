"""SQS event sources, as the Lambda service polls them.

Honours ``BatchSize`` and ``FunctionResponseTypes: [ReportBatchItemFailures]``:
successful records are deleted, failed ones are made visible again after a short
local retry delay (Lambda waits out the queue's visibility timeout; locally that
would make a DLQ test take minutes), so the queue's redrive policy moves a message
to its DLQ after ``maxReceiveCount`` receives, as in AWS.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from typing import Any

from govbus.local.runtime import LocalFunction

log = logging.getLogger("govbus_dev")


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


class SqsPoller:
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
        self._stop = threading.Event()
        self._paused = threading.Event()
        self._busy = threading.Lock()
        self._thread: threading.Thread | None = None

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
                return 0  # received just as a pause began: they come back after it
            return self._handle(messages)

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
                handled = self.poll_once(wait_seconds=1)
                if not handled:
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

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, daemon=True, name=f"sqs-{self.function.logical_id}"
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
