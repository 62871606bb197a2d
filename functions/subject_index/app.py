"""Keeps the one-code subject index up to date from the events on the bus."""

from govbus import init_phase  # noqa: F401 - first: see govbus/init_phase.py

# isort: split

from aws_lambda_powertools.utilities.typing import LambdaContext

from govbus.batch import SQSRecord, process_partial_response
from govbus.observability import logger, metrics, tracer
from govbus.subject_index import index


def handle(record: SQSRecord) -> None:
    event = record.event()
    if index(event):
        logger.info(
            "subject record indexed", extra={"event_id": event.id, "event_type": event.type}
        )


@metrics.log_metrics
@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process_partial_response(event, handle)
