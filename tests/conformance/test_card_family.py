"""The citizen card family's contract (市民卡 and any other card platform).

A card adapter's simulator seeds the demo citizens' cards: 350102199003071234 active
with a balance, 11010519491231002X lost, 440524188001010014 frozen.
"""

import datetime as dt

import pytest

from contracts.adapters import AdapterFamily, CallContext
from contracts.errors import (
    CardUnusable,
    Conflict,
    InsufficientBalance,
    NotFound,
    PartnerTimeout,
    RetryableError,
)
from contracts.payments import CardPayment, CardReceipt, CardRefund, CardStatus, CitizenCard

FAMILY = AdapterFamily.citizen_card
ACTIVE, LOST, FROZEN = "350102199003071234", "11010519491231002X", "440524188001010014"


def ctx(key="evt-1", timeout=1.0):
    return CallContext(correlation_id="corr-1", idempotency_key=key, timeout_seconds=timeout)


def lookup(harness, holder=ACTIVE) -> CitizenCard:
    return harness.call("govbus_card_lookup", holder_code=holder, ctx=ctx())


def charge(card, amount_fen=1500, reference="FEE-C1"):
    return CardPayment(
        card_no=card.card_no, amount_fen=amount_fen, reference=reference, description="工本费"
    )


@pytest.mark.parametrize(
    ("holder", "status"),
    [(ACTIVE, CardStatus.active), (LOST, CardStatus.lost), (FROZEN, CardStatus.frozen)],
)
def test_lookup_returns_the_card_and_its_status(harness, holder, status):
    card = lookup(harness, holder)
    assert isinstance(card, CitizenCard)
    assert card.holder_code == holder and card.status == status


def test_a_citizen_without_a_card_is_not_found(harness):
    with pytest.raises(NotFound):
        lookup(harness, "440524188001010022")  # valid check digit, no card issued


def test_paying_twice_with_the_same_reference_charges_once(harness):
    card = lookup(harness)
    first = harness.call("govbus_card_pay", payment=charge(card), ctx=ctx())
    again = harness.call("govbus_card_pay", payment=charge(card), ctx=ctx())
    assert isinstance(first, CardReceipt)
    assert again.payment_id == first.payment_id
    assert first.balance_fen == card.balance_fen - 1500
    assert lookup(harness).balance_fen == card.balance_fen - 1500, "charged once"
    # govbus's one representation of a moment: UTC, whatever zone the platform uses
    assert first.paid_at.utcoffset() == dt.timedelta(0), first.paid_at


def test_the_same_reference_with_another_amount_is_a_conflict(harness):
    card = lookup(harness)
    harness.call("govbus_card_pay", payment=charge(card), ctx=ctx())
    with pytest.raises(Conflict):
        harness.call("govbus_card_pay", payment=charge(card, amount_fen=1600), ctx=ctx())


@pytest.mark.parametrize("holder", [LOST, FROZEN])
def test_a_lost_or_frozen_card_cannot_pay_and_is_not_charged(harness, holder):
    card = lookup(harness, holder)
    with pytest.raises(CardUnusable) as refused:
        harness.call("govbus_card_pay", payment=charge(card), ctx=ctx())
    assert card.status.value in str(refused.value), "the refusal says why: lost or frozen"
    assert lookup(harness, holder).balance_fen == card.balance_fen


def test_an_insufficient_balance_is_a_clear_refusal(harness):
    card = lookup(harness)
    with pytest.raises(InsufficientBalance, match="balance"):
        harness.call(
            "govbus_card_pay", payment=charge(card, amount_fen=card.balance_fen + 1), ctx=ctx()
        )
    assert lookup(harness).balance_fen == card.balance_fen


def test_a_refund_gives_the_money_back_once(harness):
    card = lookup(harness)
    harness.call("govbus_card_pay", payment=charge(card), ctx=ctx())
    refund = CardRefund(reference="FEE-C1", refund_reference="RF-1", amount_fen=1500, reason="驳回")
    first = harness.call("govbus_card_refund", refund=refund, ctx=ctx())
    again = harness.call("govbus_card_refund", refund=refund, ctx=ctx())
    assert again.refund_id == first.refund_id
    assert first.refunded_at.utcoffset() == dt.timedelta(0), first.refunded_at
    assert lookup(harness).balance_fen == card.balance_fen
    more = CardRefund(reference="FEE-C1", refund_reference="RF-2", amount_fen=1, reason="x")
    with pytest.raises(Conflict):
        harness.call("govbus_card_refund", refund=more, ctx=ctx())


def test_refunding_an_unknown_payment_is_not_found(harness):
    refund = CardRefund(reference="NO-SUCH", refund_reference="RF-9", amount_fen=1, reason="x")
    with pytest.raises(NotFound):
        harness.call("govbus_card_refund", refund=refund, ctx=ctx())


@pytest.mark.parametrize("fault", ["error_rate", "malformed_rate"])
def test_partner_failures_are_retryable(harness, fault):
    harness.faults(**{fault: 1.0})
    with pytest.raises(RetryableError):
        lookup(harness)


def test_a_partner_that_does_not_answer_in_time_is_a_retryable_timeout(harness):
    harness.faults(timeout_rate=1.0)
    with pytest.raises(PartnerTimeout):
        harness.call("govbus_card_lookup", holder_code=ACTIVE, ctx=ctx(timeout=0.3))


def test_the_statement_lists_each_payment_of_its_day_once_with_the_amount_charged(harness):
    card = lookup(harness)
    harness.call("govbus_card_pay", payment=charge(card, 1500, "FEE-S1"), ctx=ctx())
    harness.call("govbus_card_pay", payment=charge(card, 2500, "FEE-S2"), ctx=ctx())
    harness.call("govbus_card_pay", payment=charge(card, 2500, "FEE-S2"), ctx=ctx())  # repeated
    refund = CardRefund(reference="FEE-S1", refund_reference="RF-S1", amount_fen=500, reason="x")
    harness.call("govbus_card_refund", refund=refund, ctx=ctx())
    beijing = dt.timezone(dt.timedelta(hours=8))
    today = dt.datetime.now(beijing).date()  # the platform's day

    lines = list(harness.call("govbus_card_statement", day=today, ctx=ctx()))
    mine = {line.order_no: line for line in lines if line.order_no.startswith("FEE-S")}
    assert sorted(mine) == ["FEE-S1", "FEE-S2"] and len(lines) == len({x.order_no for x in lines})
    assert (mine["FEE-S1"].amount_fen, mine["FEE-S2"].amount_fen) == (1500, 2500)
    assert all(
        line.channel == "citizen_card" and line.paid_at.astimezone(beijing).date() == today
        for line in lines
    )
    earlier = harness.call("govbus_card_statement", day=today - dt.timedelta(days=1), ctx=ctx())
    assert [line.order_no for line in earlier if line.order_no.startswith("FEE-S")] == []
