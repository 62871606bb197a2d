"""Shipments per case: reacts to delivery.requested, waybill creation and tracking pushes."""

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

from contracts.delivery import DeliveryRequested, TrackingUpdated, WaybillCreated
from govbus import settings
from govbus.bus import event_from_detail
from govbus.observability import logger, metrics, tracer
from govbus.stores.shipments import ShipmentStore

store = ShipmentStore(settings.table("shipments"))
processor = BatchProcessor(event_type=EventType.SQS)


def react(record: SQSRecord) -> None:
    event = event_from_detail(json.loads(record.body)["detail"])
    data = event.payload()
    if isinstance(data, DeliveryRequested):
        first = store.requested(data.request.case_id, data.carrier, event.time)
    elif isinstance(data, WaybillCreated):
        first = store.waybill_created(data.waybill, event.time)
    elif isinstance(data, TrackingUpdated):
        first = store.tracked(data.update)
    else:
        logger.warning("event type not handled here", extra={"event_type": event.type})
        return
    logger.info(
        "shipment updated" if first else "duplicate ignored",
        extra={"event_id": event.id, "event_type": event.type},
    )


@metrics.log_metrics
@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process_partial_response(
        event=event, record_handler=react, processor=processor, context=context
    )
