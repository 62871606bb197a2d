"""The outbox publisher: every event a committed change caused reaches the bus, once.

Two ways in, one idempotent path (``govbus.outbox.publish_pending``, claimed per event
id, marked published after EventBridge took it):
- the outbox table's DynamoDB stream (new rows within a second; a row that cannot be
  published now is reported as a batch item failure, so the stream tries it again,
  and after the retry budget the event source sends the batch's coordinates to the
  outbox DLQ for operators);
- a schedule that sweeps rows still pending after ``OUTBOX_SWEEP_AFTER_SECONDS``:
  whatever the stream gave up on is published once the bus is back.
"""

from govbus import init_phase  # noqa: F401 - first: see govbus/init_phase.py

# isort: split

import datetime as dt

from aws_lambda_powertools.utilities.typing import LambdaContext

from govbus import outbox, settings
from govbus.observability import logger, metrics, tracer

SWEEP_AFTER = dt.timedelta(seconds=settings.tuning().outbox_sweep_after_seconds)


def from_stream(records: list[dict], time_left_ms=None) -> dict:
    inserted = [r for r in records if r.get("eventName") == "INSERT"]
    by_id = {
        r["dynamodb"]["NewImage"]["event_id"]["S"]: r["dynamodb"]["SequenceNumber"]
        for r in inserted
    }
    failed = outbox.publish_pending([r["dynamodb"]["NewImage"] for r in inserted], time_left_ms)
    if failed:
        logger.warning(
            "outbox events not published yet; the stream retries them",
            extra={"failed": len(failed), "reasons": sorted(set(failed.values()))},
        )
    return {"batchItemFailures": [{"itemIdentifier": by_id[eid]} for eid in failed]}


def sweep(time_left_ms=None) -> dict:
    waiting = list(outbox.waiting(SWEEP_AFTER))
    failed = outbox.publish_pending(waiting, time_left_ms) if waiting else {}
    summary = {"waiting": len(waiting), "published": len(waiting) - len(failed)}
    if waiting:
        logger.info("outbox sweep", extra=summary)
    return summary


@metrics.log_metrics
@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    # no chunk starts that the invocation's timeout could cut off half-marked
    time_left_ms = getattr(context, "get_remaining_time_in_millis", None)
    if "Records" in event:
        return from_stream(event["Records"], time_left_ms)
    return sweep(time_left_ms)
