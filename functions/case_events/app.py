"""Moves cases on from what happens elsewhere: the e-licence issued, the result delivered,
the provincial hall's receipt and decisions for a forwarded case.

Redelivered or out-of-date events find the case already moved on and change nothing.
"""

from govbus import init_phase  # noqa: F401 - first: see govbus/init_phase.py

# isort: split

from aws_lambda_powertools.utilities.typing import LambdaContext

from contracts.cases import CaseState
from contracts.delivery import TrackingState, TrackingUpdated
from contracts.errors import Conflict, NotFound
from contracts.licences import LicenceIssued
from contracts.province import ProvinceCaseReceived, ProvinceCaseStatusChanged
from govbus import applications, province_cases
from govbus.batch import SQSRecord, process_partial_response
from govbus.observability import logger, metrics, tracer
from govbus.stores import cases


def react(record: SQSRecord) -> None:
    event = record.event()
    data = event.payload()
    # the province's answers: applied once each, never backwards; a Conflict that
    # outlasts the re-reads fails the record, and SQS brings it back
    if isinstance(data, ProvinceCaseReceived):
        return _province(event.id, lambda: province_cases.record_receipt(data.receipt))
    if isinstance(data, ProvinceCaseStatusChanged):
        return _province(event.id, lambda: province_cases.apply_status(data))
    try:
        if isinstance(data, LicenceIssued) and data.case_id:
            case = cases.get(data.case_id)
            if case.state == CaseState.approved:
                applications.result_issued(case, data.licence_id)
        elif isinstance(data, TrackingUpdated) and data.update.state == TrackingState.delivered:
            case = cases.get(data.update.case_id)
            if case.state == CaseState.licence_issued:
                applications.delivered(case, data.update.waybill_no)
    except (NotFound, Conflict) as exc:
        # not a case of ours, or already moved on: the event changes nothing
        logger.info(
            "event left the case as it is", extra={"event_id": event.id, "reason": str(exc)}
        )


def _province(event_id: str, apply) -> None:
    try:
        moved = apply()
    except NotFound as exc:
        logger.info("not a case of ours", extra={"event_id": event_id, "reason": str(exc)})
        return
    logger.info(
        "province answer applied" if moved else "province answer changed nothing",
        extra={"event_id": event_id},
    )


@metrics.log_metrics
@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process_partial_response(event, react)
