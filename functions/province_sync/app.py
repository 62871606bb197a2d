"""Scheduled: ask the provincial hall for the status of every case waiting there, and
publish a ``case.province_status`` for each change not yet applied (a push that never
arrived). case_events applies pushes and polls alike, once each and never backwards."""

from govbus import init_phase  # noqa: F401 - first: see govbus/init_phase.py

# isort: split

from aws_lambda_powertools.utilities.typing import LambdaContext

from contracts.adapters import CallContext
from govbus import province_cases, settings
from govbus.bus import publish
from govbus.observability import logger, metrics, tracer
from govbus.plugins import call, plugin_manager

SOURCE = "govbus.province_sync"
TIMEOUT_SECONDS = settings.tuning().partner_timeout_seconds or 5.0


@metrics.log_metrics
@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    run_id = str(event.get("id") or getattr(context, "aws_request_id", "local"))
    ctx = CallContext(
        correlation_id=run_id, idempotency_key=run_id, timeout_seconds=TIMEOUT_SECONDS
    )
    pm = plugin_manager()

    def query(province_case_no: str):
        return call(
            pm, "province", "govbus_province_query_case", province_case_no=province_case_no, ctx=ctx
        )

    changes = province_cases.poll(query, SOURCE)
    if changes:
        publish(changes)
    logger.info("province sync run", extra={"changes": len(changes)})
    return {"changes": len(changes), "event_ids": [e.id for e in changes]}
