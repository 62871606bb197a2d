"""Scheduled: publish ``platform.heartbeat`` so the bus is proven to route end to end."""

from govbus import init_phase  # noqa: F401 - first: see govbus/init_phase.py

# isort: split

from aws_lambda_powertools.utilities.typing import LambdaContext

from contracts.events import Event, Heartbeat
from govbus.bus import publish
from govbus.observability import logger, metrics, tracer

SOURCE = "govbus.heartbeat"


@metrics.log_metrics
@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    beat = Event.create(
        "platform.heartbeat",
        Heartbeat(emitted_by=context.function_name, note=str(event.get("time", ""))),
        source=SOURCE,
    )
    publish([beat])
    logger.info("heartbeat published", extra={"event_id": beat.id})
    return {"event_id": beat.id}
