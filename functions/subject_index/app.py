"""Keeps the one-code subject index up to date from the events on the bus."""

from govbus import init_phase  # noqa: F401 - first: see govbus/init_phase.py

# isort: split

import json

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from govbus.bus import event_from_detail
from govbus.observability import logger, metrics, tracer
from govbus.subject_index import index

processor = BatchProcessor(event_type=EventType.SQS)


def handle(record: SQSRecord) -> None:
    event = event_from_detail(json.loads(record.body)["detail"])
    if index(event):
        logger.info(
            "subject record indexed", extra={"event_id": event.id, "event_type": event.type}
        )


@metrics.log_metrics
@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process_partial_response(
        event=event, record_handler=handle, processor=processor, context=context
    )
