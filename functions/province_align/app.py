"""Scheduled (weekly): catalogue alignment with the provincial hall. Pulls the province's
items and logs the city's province-level items whose code, name or time limit disagree
(the report is also the function's result); ``govbus province align`` prints the same."""

from govbus import init_phase  # noqa: F401 - first: see govbus/init_phase.py

# isort: split

from aws_lambda_powertools.utilities.typing import LambdaContext

from contracts.adapters import CallContext
from govbus import province_align, settings
from govbus.observability import logger, metrics, tracer
from govbus.plugins import plugin_manager

TIMEOUT_SECONDS = settings.tuning().partner_timeout_seconds or 10.0


@metrics.log_metrics
@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    run_id = str(event.get("id") or getattr(context, "aws_request_id", "local"))
    ctx = CallContext(
        correlation_id=run_id, idempotency_key=run_id, timeout_seconds=TIMEOUT_SECONDS
    )
    report = province_align.run(plugin_manager(), ctx)
    for line in report.disagreements:
        logger.warning("catalogue disagrees with the province", extra=line.as_dict())
    logger.info(
        "province catalogue alignment",
        extra={"checked": report.checked, "disagreements": len(report.disagreements)},
    )
    return report.as_dict()
