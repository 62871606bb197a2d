"""SQS batches with partial failures: each record handled in turn, the failed ones reported.

What Powertools' ``BatchProcessor`` + ``process_partial_response`` did for our consumers,
without its import cost (~58 ms of a cold start: its types module builds the pydantic
parser models of every event source). The contract is Lambda's partial batch response
(``ReportBatchItemFailures`` on every SQS event source mapping):

* each record is handed to the handler in turn; one that raises is logged (masked, by
  the shared logger, traceback included) and its ``messageId`` is reported in
  ``batchItemFailures``, so SQS delivers only that record again;
* when every record of the batch failed, :class:`BatchFailed` is raised instead, as
  Powertools does: the invocation counts as an error (the function's error alarms see a
  consumer that fails everything), and the whole batch is retried even where an event
  source mapping lacks ``ReportBatchItemFailures``.

The EventBridge envelope a bus queue carries is read in one place, :meth:`SQSRecord.event`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from contracts.events import Event
from govbus.bus import event_from_detail
from govbus.observability import logger


@dataclass(frozen=True, slots=True)
class SQSAttributes:
    """The SQS system attributes a consumer reads (strings, as SQS sends them)."""

    approximate_receive_count: str = "1"
    sent_timestamp: str | None = None
    approximate_first_receive_timestamp: str | None = None

    @classmethod
    def from_record(cls, attributes: Mapping[str, str] | None) -> SQSAttributes:
        attributes = attributes or {}
        return cls(
            approximate_receive_count=str(attributes.get("ApproximateReceiveCount", "1")),
            sent_timestamp=attributes.get("SentTimestamp"),
            approximate_first_receive_timestamp=attributes.get("ApproximateFirstReceiveTimestamp"),
        )


@dataclass(frozen=True, slots=True)
class SQSRecord:
    """One message of an SQS batch, as Lambda hands it over."""

    message_id: str
    body: str
    attributes: SQSAttributes = field(default_factory=SQSAttributes)
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_event_record(cls, record: Mapping[str, Any]) -> SQSRecord:
        return cls(
            message_id=str(record["messageId"]),
            body=record.get("body") or "",
            attributes=SQSAttributes.from_record(record.get("attributes")),
            raw=record,
        )

    def json(self) -> Any:
        """The body parsed as JSON (``ValueError`` when it is not JSON)."""
        return json.loads(self.body)

    def event(self) -> Event:
        """The bus event an EventBridge rule put on the queue (the envelope's ``detail``).

        Raises ``ValueError`` (not JSON, or not an event) or ``KeyError`` (no ``detail``).
        """
        return event_from_detail(self.json()["detail"])


class BatchFailed(Exception):
    """Every record of the batch failed: the whole batch goes back to the queue."""

    def __init__(self, failures: list[tuple[SQSRecord, BaseException]]) -> None:
        self.failures = failures
        kinds = sorted({type(exc).__name__ for _, exc in failures})
        super().__init__(
            f"all {len(failures)} records of the batch failed ({', '.join(kinds)}); "
            "each is logged separately"
        )


def process_partial_response(
    event: Mapping[str, Any], handle: Callable[[SQSRecord], object]
) -> dict[str, list[dict[str, str]]]:
    """Hand each record of an SQS ``event`` to ``handle``; the partial batch response.

    Returns ``{"batchItemFailures": [{"itemIdentifier": <messageId>}, ...]}`` for the
    records whose handler raised; raises :class:`BatchFailed` when all of them did.
    """
    records = [SQSRecord.from_event_record(r) for r in event.get("Records") or []]
    failures: list[tuple[SQSRecord, BaseException]] = []
    for record in records:
        try:
            handle(record)
        except Exception as exc:
            logger.warning(
                "record failed; SQS delivers it again",
                exc_info=exc,
                extra={
                    "message_id": record.message_id,
                    "receive_count": record.attributes.approximate_receive_count,
                    "error": f"{type(exc).__name__}: {exc}",
                },
            )
            failures.append((record, exc))
    if failures and len(failures) == len(records):
        raise BatchFailed(failures)
    return {"batchItemFailures": [{"itemIdentifier": r.message_id} for r, _ in failures]}
