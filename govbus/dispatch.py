"""Outbound commands: which event calls which adapter hook, with what, and what follows.

The dispatcher function consumes command events and, for each, calls the named
adapter's hook with a timeout, retrying retryable failures with exponential backoff
and full jitter, behind the partner's shared circuit breaker. A command is data
here, so a new outbound integration is one entry, not a new function.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime as _dt
import random
import time
from collections.abc import Callable
from typing import Any

import pluggy
from pydantic import BaseModel

from contracts.adapters import CallContext
from contracts.delivery import WaybillCreated
from contracts.errors import GovbusError, PartnerTimeout, RetryableError
from contracts.events import Event
from contracts.province import ProvinceCaseReceived, ProvinceCaseStatusChanged
from govbus.beside import beside
from govbus.circuit import CircuitBreaker
from govbus.observability import count, logger
from govbus.plugins import call


@dataclasses.dataclass(frozen=True)
class Command:
    hook: str
    adapter: Callable[[Any], str]  # which partner, from the command's data
    arguments: Callable[[Any], dict[str, Any]]
    result_event: str | None = None
    result_data: Callable[[Any, Any], BaseModel] | None = None


COMMANDS: dict[str, Command] = {
    "delivery.requested": Command(
        hook="govbus_delivery_create_waybill",
        adapter=lambda d: d.carrier,
        arguments=lambda d: {"request": d.request},
        result_event="delivery.waybill_created",
        result_data=lambda d, waybill: WaybillCreated(waybill=waybill),
    ),
    # the hall answers a repeated SubmitCase of one city case with the same case number,
    # so a retry after a timeout (or a redrive) forwards nothing twice
    "province.forward_requested": Command(
        hook="govbus_province_forward_case",
        adapter=lambda d: d.partner,
        arguments=lambda d: {"forward": d.forward},
        result_event="province.case_received",
        result_data=lambda d, receipt: ProvinceCaseReceived(receipt=receipt),
    ),
    "province.withdraw_requested": Command(
        hook="govbus_province_withdraw_case",
        adapter=lambda d: d.partner,
        arguments=lambda d: {"province_case_no": d.province_case_no, "reason": d.reason},
        result_event="case.province_status",
        result_data=lambda d, receipt: ProvinceCaseStatusChanged(
            case_id=d.case_id,
            province_case_no=receipt.province_case_no,
            status=receipt.status,
            reason=receipt.reason,
            occurred_at=receipt.updated_at or _now(),
            licence_id=receipt.licence_id,
        ),
    ),
}


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    base_delay: float = 0.2
    max_delay: float = 2.0
    timeout_seconds: float = 5.0

    # besides the call itself: publishing the result, the idempotency record, the reply
    reserve_seconds: float = 1.5

    def attempt_budget_ms(self) -> float:
        """What one more attempt may take at worst (its hard deadline plus the reserve)."""
        return (self.timeout_seconds + 0.5 + self.reserve_seconds) * 1000

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Full jitter: uniform in [0, min(max, base * 2^attempt)]."""
        return rng.uniform(0, min(self.max_delay, self.base_delay * (2**attempt)))


class OutOfTime(Exception):
    """Not enough of the invocation is left for another attempt: give the record back.

    Not a domain error: the command did not fail, it was not tried (again). The SQS
    consumer reports it as a batch item failure, so the queue redelivers it.
    """


_POOL = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="dispatch")
_RNG = random.Random()  # noqa: S311 - jitter, not security


def call_with_timeout(fn: Callable[[], Any], timeout: float) -> Any:
    """Run ``fn`` with a hard deadline; a hook that hangs becomes a retryable timeout."""
    future = _POOL.submit(fn)
    try:
        return future.result(timeout=timeout)
    except concurrent.futures.TimeoutError:
        raise PartnerTimeout(f"no answer within {timeout:.1f} s") from None


def read_beside(event: Event, pm: pluggy.PluginManager, breaker: CircuitBreaker) -> None:
    """Start, beside the command's claim, the two reads its first attempt makes: the
    partner's circuit (taken by ``breaker.before_call``) and, unless cached, the
    partner's credentials (which the adapter then finds in :func:`govbus.aws.get_secret`'s
    cache, or waits for). Nothing here may fail a command: the attempt reads again."""
    from govbus.aws import get_secret, secret_is_cached
    from govbus.plugins import adapter_info

    command = COMMANDS.get(event.type)
    if command is None:
        return
    try:
        partner = command.adapter(event.payload())
        breaker.read_beside(partner)
        secret = adapter_info(pm, partner).secret_name
    except Exception:  # an unknown adapter, a malformed command: execute() says why
        return
    if secret and not secret_is_cached(secret):
        beside(lambda: _quietly(get_secret, secret), f"secret-{partner}")


def _quietly(read: Callable[[str], Any], name: str) -> None:
    try:
        read(name)
    except Exception:  # noqa: S110 - the adapter's own read reports it, with its context
        pass


def execute(
    event: Event,
    pm: pluggy.PluginManager,
    breaker: CircuitBreaker,
    policy: RetryPolicy,
    sleep: Callable[[float], None] = time.sleep,
    time_left_ms: Callable[[], float] | None = None,
) -> Event | None:
    """Carry out one command; returns the result event to publish, if any.

    Raises the last :class:`RetryableError` when every attempt failed (the message is
    retried by SQS, then dead-lettered), or a non-retryable domain error at once.
    Before each attempt, ``time_left_ms`` (the Lambda context's remaining time) must
    leave room for one at worst; if not, :class:`OutOfTime` gives the record back.
    """
    command = COMMANDS[event.type]
    data = event.payload()
    partner = command.adapter(data)
    ctx = CallContext(
        correlation_id=event.correlationid,
        idempotency_key=event.id,
        timeout_seconds=policy.timeout_seconds,
    )
    arguments = {**command.arguments(data), "ctx": ctx}
    last: RetryableError | None = None
    for attempt in range(policy.attempts):
        if time_left_ms is not None and time_left_ms() < policy.attempt_budget_ms():
            raise OutOfTime(
                f"{time_left_ms():.0f} ms left, an attempt may take "
                f"{policy.attempt_budget_ms():.0f} ms; attempt {attempt + 1} left to SQS"
            ) from last
        seen = breaker.before_call(partner)  # CircuitOpen is retryable: SQS retries later
        count("DispatchAttempt", {"partner": partner, "command": event.type})
        try:
            result = call_with_timeout(
                lambda: call(pm, partner, command.hook, **arguments),
                policy.timeout_seconds + 0.5,
            )
        except RetryableError as exc:
            count("DispatchFailure", {"partner": partner, "reason": type(exc).__name__})
            # expected (the partner is down, slow or busy): one line, no traceback
            logger.warning(
                "partner call failed; retryable",
                extra={
                    "partner": partner,
                    "operation": command.hook.removeprefix("govbus_"),
                    "reason": f"{type(exc).__name__}: {exc}",
                    "attempt": attempt + 1,
                    "attempts": policy.attempts,
                    "event_id": event.id,
                },
            )
            last = exc
            if breaker.record_failure(partner, f"{type(exc).__name__}: {exc}") == "open":
                break
            if attempt + 1 < policy.attempts:
                sleep(policy.delay(attempt, _RNG))
            continue
        except GovbusError as exc:  # the partner refused: no retry can help
            count("DispatchFailure", {"partner": partner, "reason": type(exc).__name__})
            raise
        breaker.record_success(partner, seen)
        if command.result_event and command.result_data:
            return Event.create(
                command.result_event,
                command.result_data(data, result),
                source="govbus.dispatcher",
                subject=event.subject,
                correlation_id=event.correlationid,
            )
        return None
    assert last is not None
    raise last
