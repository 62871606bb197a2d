"""A command's effect happens once per event id (govbus.idempotency), against the local
stack's idempotency table: a repeat answers the first result, a failure lets a retry
run, a claim still held refuses a second runner, a lapsed claim is taken over, and two
consumers of the same event (both Lambda modules named ``app``) each carry it out once."""

from __future__ import annotations

import importlib.util
import uuid

import pytest

from govbus import idempotency, settings


class Context:
    def __init__(self, ms: float) -> None:
        self.ms = ms

    def get_remaining_time_in_millis(self) -> float:
        return self.ms


@pytest.fixture
def table(stack):
    with settings.override(idempotency=stack.resolver.refs["IdempotencyTable"]):
        idempotency.command_config.register_lambda_context(Context(30_000))
        yield stack.resolver.refs["IdempotencyTable"]
        idempotency.command_config.register_lambda_context(None)


def command() -> dict:
    return {"id": str(uuid.uuid4()), "type": "delivery.requested"}


def scope() -> str:
    """A consumer's name of its own: a scope is held by one handler in a process."""
    return f"test-{uuid.uuid4().hex[:12]}"


def test_a_repeated_command_runs_once_and_answers_its_first_result(table):
    runs = []

    @idempotency.once_per_event(scope())
    def carry_out(command: dict) -> dict:
        runs.append(command["id"])
        return {"waybill": f"W{len(runs)}"}

    sent = command()
    assert carry_out(command=sent) == {"waybill": "W1"}
    assert carry_out(command=sent) == {"waybill": "W1"}
    assert runs == [sent["id"]]
    assert carry_out(command=command()) == {"waybill": "W2"}, "another event id runs"


def test_a_failed_run_gives_its_claim_back_for_the_retry(table):
    attempts = []

    @idempotency.once_per_event(scope())
    def carry_out(command: dict) -> dict:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("the partner timed out")
        return {"ok": True}

    sent = command()
    with pytest.raises(RuntimeError):
        carry_out(command=sent)
    assert carry_out(command=sent) == {"ok": True}
    assert len(attempts) == 2


def test_a_claim_still_held_refuses_a_second_runner_and_a_lapsed_one_is_taken_over(table):
    sent = command()
    inside = []
    consumer = scope()

    @idempotency.once_per_event(consumer)
    def carry_out(command: dict) -> dict:
        if not inside:
            inside.append(1)
            # a second delivery arrives while the first is running
            with pytest.raises(idempotency.CommandInProgress):
                carry_out(command=command)
        return {"done": True}

    assert carry_out(command=sent) == {"done": True}

    # a runner that died holding its claim: once its invocation's time is over, the
    # command is carried out by the next delivery
    lapsed = command()
    idempotency.command_config.register_lambda_context(Context(-1_000))
    idempotency._claim(f"command#{consumer}#{lapsed['id']}")
    idempotency.command_config.register_lambda_context(Context(30_000))
    assert carry_out(command=lapsed) == {"done": True}


LAMBDA_APP = """
from govbus.idempotency import once_per_event

RUNS = []


@once_per_event({scope!r})
def react(command: dict) -> dict:
    RUNS.append(command["id"])
    return {{"runs": len(RUNS)}}
"""


def lambda_app(folder, consumer: str):
    """A function's handler module as Lambda loads it: a file ``app.py`` imported as ``app``."""
    folder.mkdir()
    (folder / "app.py").write_text(LAMBDA_APP.format(scope=consumer), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("app", folder / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_two_consumers_named_alike_each_carry_out_the_same_event_once(table, tmp_path):
    # Given two functions whose handler modules are both `app` and whose handlers are
    # both `react`, consuming the same event (as two queues subscribed to one rule do)
    payments = lambda_app(tmp_path / "payments", scope())
    notices = lambda_app(tmp_path / "notices", scope())
    assert payments.react.__module__ == notices.react.__module__ == "app"
    assert payments.react.__qualname__ == notices.react.__qualname__
    sent = command()

    # When the event reaches each, then reaches each again (SQS redelivers)
    assert payments.react(command=sent) == {"runs": 1}
    assert notices.react(command=sent) == {"runs": 1}, "the second consumer ran too"
    assert payments.react(command=sent) == {"runs": 1}
    assert notices.react(command=sent) == {"runs": 1}

    # Then each carried it out exactly once
    assert payments.RUNS == [sent["id"]]
    assert notices.RUNS == [sent["id"]]


def test_a_success_clears_the_failures_counted_before_the_call(stack):
    """The circuit's common case costs no read after the call; a call that started after
    failures were counted clears them."""
    from govbus.circuit import CircuitBreaker

    breaker = CircuitBreaker(stack.resolver.refs["CircuitTable"])
    partner = f"bench-{uuid.uuid4().hex[:6]}"
    seen = breaker.before_call(partner)
    assert seen["state"] == "closed" and seen["failures"] == 0
    breaker.record_success(partner, seen)
    assert breaker.state(partner)["failures"] == 0
    breaker.record_failure(partner, "PartnerUnavailable: 503")
    seen = breaker.before_call(partner)
    assert seen["failures"] == 1
    breaker.record_success(partner, seen)
    assert breaker.state(partner) == {**breaker.state(partner), "state": "closed", "failures": 0}
