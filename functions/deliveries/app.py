"""Events out: fan each bus event out to the subscriptions it matches, and send them.

Three inputs, one job:
* bus events (every ``govbus.*`` event, through its queue): one delivery row per
  matching subscription, written once (idempotent on event id and subscription);
* retry messages (the attempts queue, delayed by the retry schedule);
* the scheduled sweep: deliveries whose next attempt is due and not yet made
  (waits longer than SQS can delay, attempts lost to a crash).
A batch's attempts run in parallel, so a slow endpoint holds up no other subscriber.
"""

from govbus import init_phase  # noqa: F401 - first: see govbus/init_phase.py

# isort: split

from aws_lambda_powertools.utilities.typing import LambdaContext

from govbus import outbound
from govbus.batch import SQSRecord, process_partial_response
from govbus.bus import event_from_detail
from govbus.observability import logger, metrics, tracer

_pending: list[tuple[str, int]] = []


def handle(record: SQSRecord) -> None:
    body = record.json()
    if "delivery_id" in body:  # a retry, due now
        _pending.append((str(body["delivery_id"]), int(body["attempt"])))
        return
    event = event_from_detail(body["detail"])
    found = outbound.fan_out(event)
    if found:
        logger.info(
            "event fanned out",
            extra={"event_id": event.id, "event_type": event.type, "deliveries": len(found)},
        )
    _pending.extend(found)


@metrics.log_metrics
@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    if event.get("source") == "aws.events":  # the scheduled retry sweep
        return {"attempted": outbound.sweep()}
    _pending.clear()
    try:
        result = process_partial_response(event, handle)
        # rows are written; their attempts never fail the batch (a lost one is swept)
        outbound.attempt_all(list(_pending))
    finally:
        _pending.clear()
    return result
