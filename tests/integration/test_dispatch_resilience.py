"""A partner outage: the circuit opens, commands dead-letter with a reason, nothing is
lost, and a redrive after recovery completes every one of them exactly once."""

import time

from contracts.adapters import Faults
from govbus.circuit import CircuitBreaker
from govbus.dlq import peek, resolve_queue
from govbus.stores.shipments import ShipmentStore
from govbus_dev.cli import main as govbus
from tests.conftest import wait_for
from tests.integration.conftest import delivery_requested, put_event

CASES = [f"CASE-OUT-{i}" for i in range(4)]


def counts(stack, aws, ems):
    store = ShipmentStore(stack.resolver.refs["ShipmentsTable"])
    delivered = sum(1 for c in CASES if (s := store.get(c)) and s.get("waybill_no"))
    dlq = stack.resolver.refs["DispatchDLQ"]
    attrs = aws["sqs"].get_queue_attributes(
        QueueUrl=dlq,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    in_dlq = int(attrs["ApproximateNumberOfMessages"]) + int(
        attrs["ApproximateNumberOfMessagesNotVisible"]
    )
    return delivered, in_dlq


def test_an_outage_opens_the_circuit_dead_letters_and_a_redrive_recovers_all(
    stack, aws, ems, capsys
):
    ems.set_faults(Faults(error_rate=1.0))
    for case in CASES:
        put_event(aws, stack, delivery_requested(case))

    # every command ends in the DLQ after its retries: requested = delivered + in DLQ
    wait_for(
        lambda: counts(stack, aws, ems) == (0, len(CASES)),
        timeout=60,
        what="all commands in the DLQ",
    )
    breaker = CircuitBreaker(stack.resolver.refs["CircuitTable"])
    assert breaker.state("ems")["last_error"].startswith("PartnerUnavailable")
    # the circuit opened after 5 failures: afterwards only one probe per cool-down got through
    calls_during_outage = ems.calls
    assert calls_during_outage < len(CASES) * 3 * 3, "without a breaker: attempts x receives"

    letters = peek(resolve_queue("dispatch-dlq"))
    assert len(letters) == len(CASES)
    assert {letter.event_type for letter in letters} == {"delivery.requested"}
    assert all(
        ("PartnerUnavailable" in letter.reason or "CircuitOpen" in letter.reason)
        for letter in letters
    )

    assert govbus(["dlq", "list", "--stack", stack.stack_name]) == 0
    listing = capsys.readouterr().out
    assert "govbus-local-dispatch-dlq" in listing and f"{len(CASES)} message(s)" in listing

    # the partner recovers; once the cool-down is over, a redrive completes everything
    ems.set_faults(Faults())
    # the circuit stays open for the configured cool-down (CircuitCoolDownSeconds=2)
    wait_for(
        lambda: time.time() > breaker.state("ems")["open_until"],
        what="the circuit's cool-down to pass",
    )
    assert govbus(["dlq", "redrive", "dispatch-dlq", "--stack", stack.stack_name]) == 0
    assert f"redrove {len(CASES)} message(s)" in capsys.readouterr().out
    wait_for(
        lambda: counts(stack, aws, ems) == (len(CASES), 0),
        timeout=60,
        what="every redriven command to complete",
    )
    assert breaker.state("ems")["state"] == "closed"
    # exactly one waybill per case at the partner
    orders = sorted(w["order"] for w in ems.waybills.values() if w["order"] in CASES)
    assert orders == sorted(CASES)


def test_a_refusal_is_dead_lettered_at_once_with_the_partners_reason(stack, aws, ems):
    event = delivery_requested("CASE-BAD")
    request = event.data["request"]
    bad = {
        "carrier": "ems",
        "request": {**request, "receiver": {**request["receiver"], "phone": "12345"}},
    }
    ems_calls = ems.calls
    put_event(
        aws, stack, event.create("delivery.requested", bad, source=event.source, subject="CASE-BAD")
    )
    letters = wait_for(lambda: peek(resolve_queue("dispatch-dlq")), what="the refusal in the DLQ")
    assert len(letters) == 1
    assert "PartnerError" in letters[0].reason and "B0003" in letters[0].reason
    assert letters[0].subject == "CASE-BAD"
    assert ems.calls == ems_calls + 1, "a refusal is not retried"
