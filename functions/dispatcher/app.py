"""Outbound commands to partners: timeout, retries with jitter, shared circuit breaker.

A command that still fails after the queue's last receive, or that the partner
refuses outright, is moved to the DLQ by this function with its failure reason, so
`govbus dlq list` can say why; the queue's own redrive policy is the safety net
for a crash.
"""

from govbus import init_phase  # noqa: F401 - first: see govbus/init_phase.py

# isort: split

import datetime as dt
from collections.abc import Callable

from aws_lambda_powertools.utilities.typing import LambdaContext

from contracts.errors import GovbusError, RetryableError
from contracts.events import Event
from contracts.masking import mask_text
from govbus import settings
from govbus.aws import client
from govbus.batch import SQSRecord, process_partial_response
from govbus.bus import publish
from govbus.circuit import BreakerPolicy, CircuitBreaker
from govbus.dispatch import COMMANDS, RetryPolicy, execute, read_beside
from govbus.idempotency import command_config, once_per_event
from govbus.observability import count, logger, metrics, tracer
from govbus.plugins import plugin_manager

DLQ_URL = settings.require(settings.platform(), "dlq_url")
MAX_RECEIVE_COUNT = settings.tuning().max_receive_count
breaker = CircuitBreaker(settings.table("circuit"), BreakerPolicy.from_env())
retry = RetryPolicy(
    attempts=settings.tuning().retry_attempts,
    timeout_seconds=settings.tuning().partner_timeout_seconds or 5.0,
)


# the invocation's remaining time, set per batch: no attempt starts that cannot finish
_time_left_ms: Callable[[], float] | None = None


@once_per_event("dispatcher")
def carry_out(command: dict) -> dict:
    event = Event.model_validate(command)
    result = execute(event, plugin_manager(), breaker, retry, time_left_ms=_time_left_ms)
    if result is not None:
        publish([result])
    logger.info("command carried out", extra={"event_id": event.id, "event_type": event.type})
    return {"result_event_id": result.id if result else None}


def dead_letter(record: SQSRecord, reason: str, event: Event | None) -> None:
    attributes = {
        "failure_reason": reason[:1000],
        "failed_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "attempts": record.attributes.approximate_receive_count,
        "event_type": event.type if event else "(unreadable)",
        "subject": mask_text(event.subject or "") if event else "",
        "event_id": event.id if event else "",
    }
    client("sqs").send_message(
        QueueUrl=DLQ_URL,
        MessageBody=record.body,
        MessageAttributes={
            k: {"DataType": "String", "StringValue": str(v) or "-"} for k, v in attributes.items()
        },
    )
    logger.warning("command dead-lettered", extra={k: v for k, v in attributes.items()})
    count("DeadLettered", {"queue": "dispatch", "event_type": attributes["event_type"]})


def handle(record: SQSRecord) -> None:
    try:
        event = record.event()
        if event.type not in COMMANDS:
            raise ValueError(f"no command is defined for event type {event.type!r}")
    except (ValueError, KeyError, TypeError) as exc:
        return dead_letter(record, f"unreadable command: {exc}", None)
    read_beside(event, plugin_manager(), breaker)  # the circuit and credentials, beside the claim
    try:
        carry_out(command=event.model_dump(mode="json"))
    except RetryableError as exc:
        if int(record.attributes.approximate_receive_count) >= MAX_RECEIVE_COUNT:
            return dead_letter(record, f"{type(exc).__name__}: {exc}", event)
        raise  # reported as a batch item failure: SQS brings it back
    except GovbusError as exc:  # the partner refused: retrying cannot help
        return dead_letter(record, f"{type(exc).__name__}: {exc}", event)
    finally:
        breaker.forget_early_reads()  # a read no attempt took (the command was done before)
    return None


@metrics.log_metrics
@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    global _time_left_ms
    command_config.register_lambda_context(context)
    _time_left_ms = getattr(context, "get_remaining_time_in_millis", None)
    return process_partial_response(event, handle)
