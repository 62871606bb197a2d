"""Shipments per case: reacts to delivery.requested, waybill creation and tracking pushes."""

from govbus import init_phase  # noqa: F401 - first: see govbus/init_phase.py

# isort: split

from aws_lambda_powertools.utilities.typing import LambdaContext

from contracts.delivery import DeliveryRequested, TrackingUpdated, WaybillCreated
from govbus import settings
from govbus.batch import SQSRecord, process_partial_response
from govbus.observability import logger, metrics, tracer
from govbus.stores.shipments import ShipmentStore

store = ShipmentStore(settings.table("shipments"))


def react(record: SQSRecord) -> None:
    event = record.event()
    data = event.payload()
    if isinstance(data, DeliveryRequested):
        first = store.requested(data.request.case_id, data.carrier, event.time)
    elif isinstance(data, WaybillCreated):
        first = store.waybill_created(data.waybill, event.time)
    elif isinstance(data, TrackingUpdated):
        if not store.is_own_waybill(data.update.case_id, data.update.waybill_no):
            logger.warning(
                "tracking push for a waybill not created for that case: ignored",
                extra={"event_id": event.id, "waybill_no": data.update.waybill_no},
            )
            return
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
    return process_partial_response(event, react)
