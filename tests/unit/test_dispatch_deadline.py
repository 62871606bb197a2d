"""The dispatcher never starts an attempt it has no time to finish: the record goes back."""

from __future__ import annotations

import pluggy
import pytest

from contracts import hookimpl, hookspecs
from contracts.adapters import AdapterFamily, AdapterInfo
from contracts.delivery import Address, DeliveryRequested, WaybillRequest
from contracts.errors import PartnerUnavailable
from contracts.events import Event
from govbus.dispatch import OutOfTime, RetryPolicy, execute
from govbus.plugins import register


class Courier:
    """A courier that is down: every call fails retryably, and is counted."""

    def __init__(self) -> None:
        self.calls = 0

    @hookimpl
    def govbus_adapter_info(self) -> AdapterInfo:
        return AdapterInfo(name="slowpost", family=AdapterFamily.delivery, title="Slow post")

    @hookimpl
    def govbus_delivery_create_waybill(self, request, ctx):
        self.calls += 1
        raise PartnerUnavailable("503 from the courier")


class OpenBreaker:
    def before_call(self, partner: str) -> dict:
        return {"state": "closed", "failures": 0}

    def record_failure(self, partner: str, reason: str) -> str:
        return "closed"

    def record_success(self, partner: str, seen: dict | None = None) -> None:
        pass


@pytest.fixture
def courier():
    pm = pluggy.PluginManager("govbus")
    pm.add_hookspecs(hookspecs)
    courier = Courier()
    register(pm, "slowpost", courier)
    return pm, courier


def command() -> Event:
    home = Address(name="林", phone="13812345678", province="福建省", city="福州市", street="路1号")
    request = WaybillRequest(case_id="CASE-1", sender=home, receiver=home)
    return Event.create(
        "delivery.requested",
        DeliveryRequested(carrier="slowpost", request=request),
        source="govbus.test",
    )


POLICY = RetryPolicy(attempts=3, base_delay=0, max_delay=0, timeout_seconds=5)


def test_with_time_for_every_attempt_all_attempts_are_made(courier):
    pm, slow = courier
    with pytest.raises(PartnerUnavailable):
        execute(
            command(), pm, OpenBreaker(), POLICY, sleep=lambda _s: None, time_left_ms=lambda: 30_000
        )
    assert slow.calls == 3


def test_an_attempt_that_could_not_finish_in_time_is_not_started(courier):
    pm, slow = courier
    clock = {"left": 14_000.0}

    def time_left() -> float:
        return clock["left"]

    def sleep(_seconds: float) -> None:
        clock["left"] -= 5_500  # each failed attempt took its whole timeout

    with pytest.raises(OutOfTime):
        execute(command(), pm, OpenBreaker(), POLICY, sleep=sleep, time_left_ms=time_left)
    # 14 s: one attempt (7 s budget), then 8.5 s left: a second; then 3 s: given back
    assert slow.calls == 2


def test_no_time_at_all_gives_the_record_back_untried(courier):
    pm, slow = courier
    with pytest.raises(OutOfTime):
        execute(command(), pm, OpenBreaker(), POLICY, time_left_ms=lambda: 2_000)
    assert slow.calls == 0


def test_a_retryable_partner_failure_is_one_structured_line_per_attempt_without_traceback(
    courier, capsys
):
    import json

    pm, _ = courier
    with pytest.raises(PartnerUnavailable):
        execute(command(), pm, OpenBreaker(), POLICY, sleep=lambda _s: None)
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    failed = [x for x in lines if x.get("message") == "partner call failed; retryable"]
    assert [x["attempt"] for x in failed] == [1, 2, 3]
    for line in failed:
        assert line["partner"] == "slowpost"
        assert line["operation"] == "delivery_create_waybill"
        assert line["reason"] == "PartnerUnavailable: 503 from the courier"
        assert "exception" not in line
