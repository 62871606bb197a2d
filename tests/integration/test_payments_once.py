"""The payments consumer reacts to each bus event once per event id, as every consumer
does (govbus.idempotency): the same event delivered twice at once calls the non-tax
platform once, and the delivery that came while the first was still running is retried
and then finds the reaction done. The order's state stays the second guard.

The consumer runs in this process (its environment is the payments function's, as
tests/integration/test_payments.py's direct calls do), so the first delivery can be held
inside its partner call while the second one arrives."""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid

import pytest

from contracts.adapters import Faults
from contracts.events import Event
from contracts.identity import mask_identifier
from contracts.payments import PaymentOrderRequested
from govbus.batch import BatchFailed
from tests.conftest import wait_for
from tests.integration.conftest import CITIZEN
from tests.integration.test_payments import SCHOOL, environment


class Context:
    """What Lambda hands the handler (the parts Powertools and the claim's lease read)."""

    function_name = "govbus-local-payments"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:govbus-local-payments"
    aws_request_id = "test"

    def get_remaining_time_in_millis(self) -> int:
        return 20_000


@pytest.fixture
def payments_process(stack):
    """The payments function's environment in this process, its consumer imported."""
    stack.simulators["nontax"].set_faults(Faults())
    with environment(stack.functions["PaymentsFunction"].environment):
        from functions.payments import app

        yield app


def stored_bill() -> str:
    """A bill as ``POST /bills`` stores it, without its command on the bus (the test
    delivers the command itself)."""
    from govbus.privacy import seal, subject_key
    from govbus.stores import payments as store
    from govbus.stores.payments import OrderState, StoredOrder

    order_no = f"BILL-{uuid.uuid4().hex[:16].upper()}"
    order = StoredOrder(
        order_no=order_no,
        kind="bill",
        agency=SCHOOL,
        biller="school-client",
        amount_fen=12_000,
        payer_key=subject_key(CITIZEN),
        payer_masked=mask_identifier(CITIZEN),
        description="学费 tuition",
        title="学费 tuition",
        due=dt.date.today() + dt.timedelta(days=30),
        state=OrderState.requested,
        created_at=dt.datetime.now(dt.UTC),
    )
    sealed = seal({"code": CITIZEN, "name": "林小姐"}, {"order_no": order_no})
    store.commit([store.create_write(order, sealed)])
    return order_no


def sqs_event(event: Event) -> dict:
    """One SQS batch of one message, as the payments queue hands the bus's event over."""
    body = {
        "detail-type": event.type,
        "source": event.source,
        "detail": event.model_dump(mode="json"),
    }
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "body": json.dumps(body),
                "attributes": {"ApproximateReceiveCount": "1"},
            }
        ]
    }


def test_the_same_event_delivered_twice_at_once_calls_the_platform_once(
    stack, payments_process, monkeypatch
):
    from govbus import payments
    from govbus.stores import payments as store

    app = payments_process
    nontax = stack.simulators["nontax"]
    order_no = stored_bill()
    command = Event.create(
        "payment.order_requested",
        PaymentOrderRequested(order_no=order_no),
        source="govbus.payments",
        subject=order_no,
    )

    # the first delivery is held inside its call to the platform until the second,
    # the same event again (an SQS redelivery), has been handled
    real_hook_call = payments.hook_call
    first_inside, second_done = threading.Event(), threading.Event()

    def held_hook_call(adapter, hook, **kwargs):
        if not first_inside.is_set():
            first_inside.set()
            assert second_done.wait(timeout=30), "the second delivery never finished"
        return real_hook_call(adapter, hook, **kwargs)

    monkeypatch.setattr(payments, "hook_call", held_hook_call)
    calls_before = nontax.calls
    first_answer: list[object] = []
    first = threading.Thread(
        target=lambda: first_answer.append(app.lambda_handler(sqs_event(command), Context()))
    )
    first.start()
    try:
        wait_for(first_inside.is_set, what="the first delivery to call the platform")
        with pytest.raises(BatchFailed, match="CommandInProgress"):
            app.lambda_handler(sqs_event(command), Context())  # SQS will deliver it again
    finally:
        second_done.set()
        first.join(timeout=30)
    assert first_answer == [{"batchItemFailures": []}]
    assert nontax.calls - calls_before == 1, "the platform was asked to create the order once"

    # SQS delivers the second copy again: the reaction is done, nothing is called
    assert app.lambda_handler(sqs_event(command), Context()) == {"batchItemFailures": []}
    assert nontax.calls - calls_before == 1
    order = store.get(order_no)
    assert order.state == "pending" and order.payment_code
    assert nontax.orders[order_no]["amount_fen"] == 12_000

    # another event for the same order (the command published again, a new id) is reacted
    # to, and the order's state (pending already) makes it change nothing at the platform
    again = command.model_copy(update={"id": str(uuid.uuid4())})
    assert app.lambda_handler(sqs_event(again), Context()) == {"batchItemFailures": []}
    assert nontax.calls - calls_before == 1
