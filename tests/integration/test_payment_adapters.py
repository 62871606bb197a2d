"""The payment adapters against their simulators over loopback (no AWS needed): the
streamed statement, reconciliation's matcher, and the citizen card's token handling."""

import datetime as dt
import time

import pytest

from contracts.adapters import CallContext
from contracts.errors import CardUnusable, PartnerError, PartnerUnavailable
from contracts.payments import CardPayment, PaymentOrderRequest
from govbus import plugins
from govbus.reconcile import MismatchKind, reconcile
from tests.conformance.conftest import Harness
from tests.conftest import wait_for

DAY = dt.date(2026, 11, 27)
CTX = CallContext(correlation_id="corr-pay", idempotency_key="k-1", timeout_seconds=2.0)


def _harness(name):
    h = Harness(name)
    try:
        yield h
    finally:
        h.close()
        plugins.reconfigure_all()


@pytest.fixture
def nontax():
    yield from _harness("nontax")


@pytest.fixture
def card():
    yield from _harness("citizen_card")


def statement(h, day=DAY):
    return h.call("govbus_payment_statement", day=day, ctx=CTX)


# --- the streamed statement -------------------------------------------------------------


def test_lines_are_yielded_while_the_platform_is_still_producing_the_statement(nontax):
    sim = nontax.simulator
    rows, held_at = 20_000, 5_000
    sim.set_synthetic_rows(DAY.isoformat(), rows)
    sim.hold_statement_after = held_at  # the platform pauses mid-body until the gate opens
    sim.statement_gate.clear()
    lines = statement(nontax)
    assert sim.calls == 0, "nothing is fetched before the first line is asked for"

    started = time.monotonic()
    read = [next(lines) for _ in range(held_at)]
    assert time.monotonic() - started < 5, "the reader waited for the rest of the body"
    assert read[0].order_no.startswith("SYN20261127") and len(read) == held_at
    assert sim.statements_finished[DAY.isoformat()] == 0

    sim.statement_gate.set()
    assert held_at + sum(1 for _ in lines) == rows
    assert sim.statements_finished[DAY.isoformat()] == 1


def test_a_truncated_statement_raises_after_the_lines_it_had(nontax):
    nontax.simulator.set_synthetic_rows(DAY.isoformat(), 1000)
    nontax.simulator.truncate_statement_after = 400
    seen = 0
    with pytest.raises(PartnerUnavailable, match="truncated"):
        for _ in statement(nontax):
            seen += 1
    assert seen == 400


def test_an_abandoned_statement_does_not_poison_the_next_call(nontax):
    nontax.simulator.set_synthetic_rows(DAY.isoformat(), 50_000)
    lines = statement(nontax)
    next(lines)
    lines.close()  # the consumer stops early: the half-read connection must not be reused
    order = nontax.call(
        "govbus_payment_create_order",
        request=PaymentOrderRequest(
            order_no="AFTER-1",
            payer_code="350102199003071234",
            amount_fen=100,
            bill_ref="BILL-1",
            description="学费 tuition",
        ),
        ctx=CTX,
    )
    assert order.order_no == "AFTER-1"


def test_reconciliation_finds_each_seeded_mismatch_class(nontax):
    sim = nontax.simulator
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()

    def paid(order_no, amount_fen):
        nontax.call(
            "govbus_payment_create_order",
            request=PaymentOrderRequest(
                order_no=order_no,
                payer_code="350102199003071234",
                amount_fen=amount_fen,
                item_code="ITEM-1",
                description="工本费 fee",
            ),
            ctx=CTX,
        )
        sim.pay(order_no, "bank_card")

    for order_no in ("OK-1", "DIFF-1", "DUP-1"):
        paid(order_no, 1500)
    sim.seed_amount_mismatch("DIFF-1", 1400)
    sim.seed_duplicate_line("DUP-1")
    unknown = sim.seed_unknown_payment(today.isoformat(), 2500)
    ours = {"OK-1": 1500, "DIFF-1": 1500, "DUP-1": 1500, "LOCAL-ONLY": 800}

    found = {(m.kind, m.order_no) for m in reconcile(statement(nontax, today), ours)}

    assert found == {
        (MismatchKind.amount_differs, "DIFF-1"),
        (MismatchKind.duplicate, "DUP-1"),
        (MismatchKind.paid_there_not_here, unknown),
        (MismatchKind.paid_here_not_there, "LOCAL-ONLY"),
    }


# --- the citizen card's OAuth2 token -----------------------------------------------------


def lookup(card_harness, holder="350102199003071234"):
    return card_harness.call("govbus_card_lookup", holder_code=holder, ctx=CTX)


def test_the_token_is_fetched_once_and_reused(card):
    lookup(card)
    lookup(card)
    assert card.simulator.tokens_issued == 1


def test_a_token_revoked_early_is_refreshed_once_on_401_and_the_call_succeeds(card):
    lookup(card)
    card.simulator.revoke_tokens()
    found = lookup(card)
    assert found.card_no and card.simulator.tokens_issued == 2


def test_an_expired_token_is_replaced_before_use(card):
    card.simulator.token_lifetime_seconds = 0.5
    lookup(card)
    # polls the effect: once the token has expired the next call fetches a new one
    wait_for(lambda: lookup(card) and card.simulator.tokens_issued >= 2, timeout=5)


def test_wrong_client_credentials_are_a_refusal_not_a_retry(card):
    card.secrets["govbus/dev/adapters/citizen_card"] = (
        '{"client_id": "govbus", "client_secret": "not-it"}'
    )
    plugins.call(
        card.pm,
        "citizen_card",
        "govbus_adapter_configure",
        settings={"endpoint": card.simulator.url},
        get_secret=card.get_secret,
    )
    with pytest.raises(PartnerError, match="client credentials"):
        lookup(card)


def test_a_card_reported_lost_cannot_pay_and_says_so(card):
    sim = card.simulator
    card_no = sim.add_card("440524188001010014", status="LOST", balance_fen=9_000)
    with pytest.raises(CardUnusable, match="lost"):
        card.call(
            "govbus_card_pay",
            payment=CardPayment(
                card_no=card_no, amount_fen=100, reference="FEE-L1", description="工本费"
            ),
            ctx=CTX,
        )
    assert sim.cards[card_no]["balance_fen"] == 9_000


def test_the_card_statement_is_read_page_by_page(card, monkeypatch):
    from adapters.citizen_card import plugin

    monkeypatch.setattr(plugin, "STATEMENT_PAGE_SIZE", 2)
    holder = "350102199003071234"
    card_no = lookup(card, holder).card_no
    card.simulator.pay_time = dt.datetime.combine(DAY, dt.time(9), tzinfo=plugin.CST)
    for n in range(5):
        pay = CardPayment(card_no=card_no, amount_fen=100 + n, reference=f"PG-{n}", description="x")
        card.call("govbus_card_pay", payment=pay, ctx=CTX)
    calls = card.simulator.calls
    lines = card.call("govbus_card_statement", day=DAY, ctx=CTX)
    first = next(lines)
    assert card.simulator.calls == calls + 1, "only the first page is read before the first line"
    rest = list(lines)
    assert [x.order_no for x in [first, *rest]] == [f"PG-{n}" for n in range(5)]
    assert card.simulator.calls == calls + 3, "five lines in pages of two: three calls"
