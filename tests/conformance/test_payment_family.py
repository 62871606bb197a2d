"""The payment family's contract (the non-tax platform and any other payment platform).

A payment adapter's simulator must also let a test complete a payment:
``simulator.pay(order_no, channel)`` as the payer's bank, wallet or card would.
"""

import datetime as dt
from collections.abc import Iterator

import pytest

from contracts.adapters import AdapterFamily, CallContext
from contracts.errors import Conflict, NotFound, PartnerTimeout, RetryableError
from contracts.payments import (
    PaymentChannel,
    PaymentOrder,
    PaymentOrderRequest,
    PaymentState,
    RefundRequest,
    RefundResult,
    StatementLine,
)

FAMILY = AdapterFamily.payment
CST = dt.timezone(dt.timedelta(hours=8))


def ctx(key="evt-1", timeout=1.0):
    return CallContext(correlation_id="corr-1", idempotency_key=key, timeout_seconds=timeout)


def order_request(order_no="FEE-C1", amount_fen=1500, payer="350102199003071234"):
    return PaymentOrderRequest(
        order_no=order_no,
        payer_code=payer,
        amount_fen=amount_fen,
        item_code="11350100MB0000001X-0001",
        case_id="CASE-C1",
        description="营业执照工本费 licence fee",
    )


def create(harness, request=None):
    return harness.call(
        "govbus_payment_create_order", request=request or order_request(), ctx=ctx()
    )


def test_a_new_order_is_pending_with_a_20_digit_payment_code(harness):
    order = create(harness)
    assert isinstance(order, PaymentOrder)
    assert order.state == PaymentState.pending and order.amount_fen == 1500
    assert len(order.payment_code) == 20 and order.payment_code.isdigit()


def test_creating_the_same_order_twice_gives_one_order(harness):
    first = create(harness)
    again = create(harness)
    assert again.payment_code == first.payment_code


def test_the_same_order_number_with_another_amount_is_a_conflict(harness):
    create(harness)
    with pytest.raises(Conflict):
        create(harness, order_request(amount_fen=1600))


@pytest.mark.parametrize("channel", list(PaymentChannel))
def test_a_paid_order_reads_paid_with_channel_and_receipt(harness, channel):
    order = create(harness, order_request(order_no=f"FEE-{channel.value}"))
    harness.simulator.pay(order.order_no, channel.value, card_no="3501001000000000001")
    paid = harness.call("govbus_payment_query_order", order_no=order.order_no, ctx=ctx())
    assert paid.state == PaymentState.paid and paid.channel == channel
    assert paid.receipt_no and paid.platform_txn_id and paid.paid_at is not None
    # govbus's one representation of a moment: UTC, whatever zone the platform uses
    assert paid.paid_at.utcoffset() == dt.timedelta(0), paid.paid_at


def test_querying_an_unknown_order_is_not_found(harness):
    with pytest.raises(NotFound):
        harness.call("govbus_payment_query_order", order_no="NO-SUCH-ORDER", ctx=ctx())


def test_a_closed_order_cannot_be_paid_and_a_paid_one_cannot_be_closed(harness):
    order = create(harness)
    closed = harness.call("govbus_payment_close_order", order_no=order.order_no, ctx=ctx())
    assert closed.state == PaymentState.closed
    with pytest.raises(ValueError):
        harness.simulator.pay(order.order_no, "bank_card")
    paid = create(harness, order_request(order_no="FEE-C2"))
    harness.simulator.pay(paid.order_no, "bank_card")
    with pytest.raises(Conflict):
        harness.call("govbus_payment_close_order", order_no=paid.order_no, ctx=ctx())


def test_a_refund_is_idempotent_on_its_number_and_never_exceeds_the_payment(harness):
    order = create(harness)
    harness.simulator.pay(order.order_no, "mobile_wallet")
    refund = RefundRequest(order_no=order.order_no, refund_no="RF-1", amount_fen=500, reason="驳回")
    first = harness.call("govbus_payment_refund", request=refund, ctx=ctx())
    again = harness.call("govbus_payment_refund", request=refund, ctx=ctx())
    assert isinstance(first, RefundResult)
    assert first.order_state == PaymentState.partially_refunded and first.refunded_fen == 500
    assert again.refunded_fen == 500, "the same refund again refunds nothing more"
    too_much = RefundRequest(order_no=order.order_no, refund_no="RF-2", amount_fen=1001, reason="x")
    with pytest.raises(Conflict):
        harness.call("govbus_payment_refund", request=too_much, ctx=ctx())
    rest = RefundRequest(order_no=order.order_no, refund_no="RF-3", amount_fen=1000, reason="x")
    assert harness.call("govbus_payment_refund", request=rest, ctx=ctx()).order_state == (
        PaymentState.refunded
    )


def test_refunding_an_unpaid_order_is_a_conflict(harness):
    order = create(harness)
    refund = RefundRequest(order_no=order.order_no, refund_no="RF-1", amount_fen=1, reason="x")
    with pytest.raises(Conflict):
        harness.call("govbus_payment_refund", request=refund, ctx=ctx())


def test_the_statement_is_a_lazy_iterator_of_the_days_settled_payments(harness):
    order = create(harness)
    harness.simulator.pay(order.order_no, "bank_card")
    day = dt.datetime.now(CST).date()
    lines = harness.call("govbus_payment_statement", day=day, ctx=ctx())
    assert isinstance(lines, Iterator) and not isinstance(lines, list | tuple), (
        "the statement must stream, never arrive as a list"
    )
    got = list(lines)
    assert len(got) == 1 and isinstance(got[0], StatementLine)
    assert (got[0].order_no, got[0].amount_fen, got[0].channel) == (
        order.order_no,
        1500,
        PaymentChannel.bank_card,
    )


def test_a_day_without_payments_has_an_empty_statement(harness):
    assert list(harness.call("govbus_payment_statement", day=dt.date(2020, 1, 2), ctx=ctx())) == []


@pytest.mark.parametrize("fault", ["error_rate", "malformed_rate"])
def test_partner_failures_are_retryable(harness, fault):
    harness.faults(**{fault: 1.0})
    with pytest.raises(RetryableError):
        create(harness)
    with pytest.raises(RetryableError):
        list(harness.call("govbus_payment_statement", day=dt.date(2026, 11, 27), ctx=ctx()))


def test_a_partner_that_does_not_answer_in_time_is_a_retryable_timeout(harness):
    harness.faults(timeout_rate=1.0)
    with pytest.raises(PartnerTimeout):
        harness.call("govbus_payment_create_order", request=order_request(), ctx=ctx(timeout=0.3))
