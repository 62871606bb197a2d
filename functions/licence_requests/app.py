"""Issues the e-licence an approved case results in (``licence.requested``), once, and
only while the case is still approved (a case rejected meanwhile gets none)."""

from govbus import init_phase  # noqa: F401 - first: see govbus/init_phase.py

# isort: split

from aws_lambda_powertools.utilities.typing import LambdaContext

from contracts.adapters import CallContext
from contracts.cases import LicenceRequested
from contracts.events import Event
from govbus.batch import SQSRecord, process_partial_response
from govbus.idempotency import command_config, once_per_event
from govbus.licensing import issue_for_case
from govbus.observability import logger, metrics, tracer


@once_per_event("licence_requests")
def issue(command: dict) -> dict:
    event = Event.model_validate(command)
    wanted: LicenceRequested = event.payload()  # type: ignore[assignment]
    licence = issue_for_case(
        wanted,
        CallContext(
            correlation_id=event.correlationid, idempotency_key=event.id, timeout_seconds=5
        ),
    )
    if licence is None:
        return {"licence_id": None}
    logger.info(
        "licence issued for a case", extra={"case_id": wanted.case_id, "licence_id": licence.id}
    )
    return {"licence_id": licence.id}


def handle(record: SQSRecord) -> None:
    event = record.event()
    issue(command=event.model_dump(mode="json"))


@metrics.log_metrics
@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    command_config.register_lambda_context(context)
    return process_partial_response(event, handle)
