"""Money never kept wrongly, over the local stack: a card payment racing the case's
rejection, a platform payment whose notification lands after the rejection, and a second
notification of an order the platform holds one payment of."""

import concurrent.futures
import threading

import pytest
import requests

from adapters.nontax.simulator import DEFAULT_RETRY_SCHEDULE
from contracts.adapters import Faults
from govbus_dev.local.pollers import DynamoDBStreamPoller
from tests.conftest import wait_for
from tests.integration.conftest import CITIZEN, bearer, department_token, login
from tests.integration.test_cases import case_of, post
from tests.integration.test_payment_notifications import notify
from tests.integration.test_payments import (
    CARD_BALANCE,
    SCHOOL,
    _bill,
    _notification,
    approve,
    awaiting_payment,
    flagged,
    get,
    pending_order,
    platform_query,
)


@pytest.fixture
def nontax(stack):
    simulator = stack.simulators["nontax"]
    simulator.set_faults(Faults())
    simulator.set_retry_schedule([0.2, 0.5, 1.0])
    simulator.strict_ack = True  # only 200 "success" counts, as on the real platform
    yield simulator
    simulator.cancel_pending()
    simulator.set_faults(Faults())
    simulator.set_retry_schedule(DEFAULT_RETRY_SCHEDULE)
    simulator.strict_ack = False


@pytest.fixture
def cards(stack):
    simulator = stack.simulators["citizen_card"]
    simulator.set_faults(Faults())
    simulator.add_card(CITIZEN, status="NORMAL", balance_fen=CARD_BALANCE)
    return simulator


@pytest.fixture
def citizen(stack, ca):
    stack.seed()
    answer = login(stack, ca.issue(CITIZEN, "林小姐"))
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


def fresh_stream_readers(stack) -> None:
    """Have the local stream pollers take a fresh shard iterator.

    moto undoes a cancelled TransactWriteItems by putting back a copy of each table it
    touched, stream shard included; a stream poller's cached iterator still points at
    the shard replaced, so after a burst of refused (conditional) transactions the
    outbox stream looks silent until the poller reads again from its checkpoint. An
    emulator artefact, not the bus's: DynamoDB keeps one shard.
    """
    for poller in stack.pollers:
        if isinstance(poller, DynamoDBStreamPoller):
            poller.pause()
            poller.resume()


def after_fresh_readers(stack, probe):
    """``probe``, each time after the stream pollers took a fresh iterator."""

    def check():
        fresh_stream_readers(stack)
        return probe()

    return check


PARALLEL = 20  # 10 rejections and 10 card payments at the same moment
RUNS = 5


def _race(stack, citizen, clerk, case_id, order_no):
    """10 rejections and 10 pay-by-card calls released together; their answers."""
    start = threading.Barrier(PARALLEL)
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=PARALLEL))

    def reject():
        start.wait()
        return "reject", session.post(
            f"{stack.url}/applications/{case_id}/actions",
            json={"action": "reject", "reason": "材料不实 the materials are untrue"},
            headers=bearer(clerk),
            timeout=60,
        )

    def pay():
        start.wait()
        return "pay", session.post(
            f"{stack.url}/payments/{order_no}/pay-by-card", headers=bearer(citizen), timeout=60
        )

    with concurrent.futures.ThreadPoolExecutor(PARALLEL) as pool:
        futures = [pool.submit(reject if i % 2 else pay) for i in range(PARALLEL)]
        return [f.result() for f in futures]


def test_a_rejection_racing_card_payments_never_keeps_the_citizens_money(
    stack, citizen, cards, nontax
):
    outcomes = []
    for run in range(RUNS):
        case_id, clerk = awaiting_payment(stack, citizen)
        approve(stack, clerk, case_id)
        order_no = f"FEE-{case_id}"
        wait_for(
            after_fresh_readers(
                stack,
                lambda: (
                    (o := get(stack, citizen, f"/payments/{order_no}")).ok
                    and o.json()["state"] == "pending"
                ),
            ),
            interval=0.5,
            what=f"run {run}: order {order_no} to be created at the platform",
            timeout=60,
        )
        before = cards.card_of(CITIZEN)["balance_fen"]

        answers = _race(stack, citizen, clerk, case_id, order_no)
        codes = {
            kind: sorted(a.status_code for k, a in answers if k == kind)
            for kind in ("reject", "pay")
        }
        assert all(a.status_code < 500 for _, a in answers), [(k, a.text) for k, a in answers]
        assert codes["reject"].count(200) <= 1, codes

        case = wait_for(
            lambda: (
                (c := case_of(stack, citizen, case_id))["state"] in ("closed", "licence_issued")
                and c
            ),
            what=f"run {run}: the case to be rejected or its result issued",
            timeout=60,
        )
        if case["state"] == "closed":  # the rejection won: no money is kept
            assert 200 not in codes["pay"], f"run {run}: a payment of a rejected case was taken"
            order = wait_for(
                after_fresh_readers(
                    stack,
                    lambda: (
                        (o := get(stack, citizen, f"/payments/{order_no}").json())["state"]
                        in ("closed", "refunded")
                        and cards.card_of(CITIZEN)["balance_fen"] == before
                        and o
                    ),
                ),
                interval=0.5,
                what=f"run {run}: the card payment to be refused or refunded",
                timeout=60,
            )
            refunds = [r for r in cards.refunds.values() if r["out_trade_no"] == order_no]
            charged = order_no in cards.payments
            assert len(refunds) == (1 if charged else 0), refunds
            if charged:
                assert order["state"] == "refunded" and order["refund_no"] == f"RF-{order_no}"
                assert refunds[0]["amount_fen"] == 1000
            outcomes.append(("rejected", "refunded" if charged else "refused before charging"))
        else:  # the payment won: the case was paid, and could no longer be rejected
            assert codes["reject"].count(200) == 0, codes
            order = get(stack, citizen, f"/payments/{order_no}").json()
            assert order["state"] == "paid" and order["flags"] == []
            assert cards.card_of(CITIZEN)["balance_fen"] == before - 1000
            assert not [r for r in cards.refunds.values() if r["out_trade_no"] == order_no]
            outcomes.append(("paid", "kept: the licence was issued"))
    print("five runs:", outcomes)


def test_a_rejection_racing_the_platforms_notifications_never_keeps_the_money(
    stack, citizen, nontax
):
    """10 rejections and 10 copies of the platform's notification of a payment made at
    its cashier, at the same moment, five times: the payment is kept only if the case
    was paid; a rejected case's is refunded at the platform, once."""
    outcomes = []
    for run in range(RUNS):
        case_id, clerk = awaiting_payment(stack, citizen)
        approve(stack, clerk, case_id)
        order_no = f"FEE-{case_id}"
        order = wait_for(
            after_fresh_readers(
                stack,
                lambda: (
                    (o := get(stack, citizen, f"/payments/{order_no}")).ok
                    and o.json()["state"] == "pending"
                    and o.json()
                ),
            ),
            interval=0.5,
            what=f"run {run}: order {order_no} to be created at the platform",
            timeout=60,
        )
        nontax.set_faults(Faults(out_of_order=True))  # its own push is held back
        nontax.pay(order["payment_code"], "bank_card")
        there = nontax.orders[order_no]
        bodies = [
            _notification(nontax, order, trade_no=there["trade_no"], receipt_no=there["receipt_no"])
            for _ in range(PARALLEL // 2)
        ]
        start = threading.Barrier(PARALLEL)
        session = requests.Session()
        session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=PARALLEL))

        def reject():
            start.wait()
            return "reject", session.post(
                f"{stack.url}/applications/{case_id}/actions",
                json={"action": "reject", "reason": "材料不实 the materials are untrue"},
                headers=bearer(clerk),
                timeout=60,
            )

        def notified(body):
            start.wait()
            return "notify", notify(stack, body)

        with concurrent.futures.ThreadPoolExecutor(PARALLEL) as pool:
            futures = [pool.submit(reject) for _ in bodies]
            futures += [pool.submit(notified, body) for body in bodies]
            answers = [f.result() for f in futures]
        assert all(a.status_code < 500 for _, a in answers), [(k, a.text) for k, a in answers]
        assert all(a.text == "success" for k, a in answers if k == "notify"), answers
        rejected = [a.status_code for k, a in answers if k == "reject"].count(200)
        assert rejected <= 1

        case = wait_for(
            lambda: (
                (c := case_of(stack, citizen, case_id))["state"] in ("closed", "licence_issued")
                and c
            ),
            what=f"run {run}: the case to be rejected or its result issued",
            timeout=60,
        )
        if case["state"] == "closed":
            seen = wait_for(
                after_fresh_readers(
                    stack,
                    lambda: (
                        (o := get(stack, citizen, f"/payments/{order_no}").json())["state"]
                        == "refunded"
                        and o
                    ),
                ),
                interval=0.5,
                what=f"run {run}: the platform payment of the rejected case to be refunded",
                timeout=60,
            )
            assert seen["refund_no"] == f"RF-{order_no}"
            assert nontax.orders[order_no]["status"] == "REFUNDED"
            assert nontax.orders[order_no]["refunded_fen"] == 1000, "refunded once"
            outcomes.append(("rejected", "refunded at the platform"))
        else:
            assert rejected == 0
            seen = get(stack, citizen, f"/payments/{order_no}").json()
            assert seen["state"] == "paid" and seen["flags"] == []
            assert nontax.orders[order_no]["refunded_fen"] == 0
            outcomes.append(("paid", "kept: the licence was issued"))
        nontax.cancel_pending()
        nontax.set_faults(Faults())
    print("five runs (platform):", outcomes)


def test_a_platform_payment_notified_after_the_rejection_is_refunded_at_the_platform(
    stack, citizen, nontax
):
    case_id, clerk = awaiting_payment(stack, citizen)
    approve(stack, clerk, case_id)
    order = pending_order(stack, citizen, f"FEE-{case_id}")
    nontax.set_faults(Faults(out_of_order=True))  # the notification is held back
    nontax.pay(order["payment_code"], "bank_card")

    rejected = post(
        stack,
        clerk,
        f"/applications/{case_id}/actions",
        {"action": "reject", "reason": "材料不实 the materials are untrue"},
    )
    assert rejected.status_code == 200 and rejected.json()["state"] == "closed", rejected.text
    # the platform's order could not be closed (it is paid there): the payment is
    # refunded through the platform, before its notification has even arrived
    refunded = wait_for(
        lambda: (
            (o := get(stack, citizen, f"/payments/{order['order_no']}").json())["state"]
            == "refunded"
            and o
        ),
        what="the platform payment of the rejected case to be refunded",
        timeout=60,
    )
    assert refunded["refund_no"] == f"RF-{order['order_no']}"
    assert platform_query(stack, order["order_no"]).state == "refunded"

    assert len(nontax.release()) == 1  # the late notification changes nothing more
    wait_for(
        lambda: all(
            n.acked for n in nontax.notifications.values() if n.order_no == order["order_no"]
        ),
        what="the late notification to be acknowledged",
    )
    again = get(stack, citizen, f"/payments/{order['order_no']}").json()
    assert again["state"] == "refunded"
    assert nontax.orders[order["order_no"]]["refunded_fen"] == 1000, "refunded once"


def test_a_second_notification_of_a_platform_paid_order_is_flagged_never_refunded(
    stack, citizen, nontax
):
    school = department_token(stack, ["bills:issue"], agency=SCHOOL)
    order = _bill(stack, school, citizen, 1000)
    nontax.pay(order["payment_code"], "bank_card")
    paid = wait_for(
        lambda: (
            (o := get(stack, citizen, f"/payments/{order['order_no']}").json())["state"] == "paid"
            and o
        ),
        what="the bill paid at the platform's cashier",
    )
    # correctly signed, the same order, channel and amount; a new trade and receipt number
    answer = notify(stack, _notification(nontax, order))
    assert answer.status_code == 200 and answer.text == "success", answer.text

    seen = flagged(stack, citizen, order["order_no"])
    assert seen["state"] == "paid" and seen["receipt_no"] == paid["receipt_no"]
    (flag,) = seen["flags"]
    assert "second payment notification" in flag and "not refunded" in flag, flag
    # the agency's operators see it on the order too
    finance = department_token(stack, ["payments:reconcile"], agency=SCHOOL)
    assert get(stack, finance, f"/payments/{order['order_no']}").json()["flags"] == [flag]
    assert platform_query(stack, order["order_no"]).state == "paid"
    assert nontax.orders[order["order_no"]]["refunded_fen"] == 0, "the one payment is kept"


@pytest.mark.parametrize(
    "amount", ["１０００", "١٠٠٠", "¹⁰⁰⁰"], ids=["fullwidth", "arabic", "super"]
)
def test_a_notification_amount_not_in_ascii_digits_is_refused_and_pays_nothing(
    stack, citizen, nontax, amount
):
    school = department_token(stack, ["bills:issue"], agency=SCHOOL)
    order = _bill(stack, school, citizen, 1000)
    answer = notify(stack, _notification(nontax, order, amount_fen=amount))
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    assert problem["field"] == "amount_fen" and "ASCII digits" in problem["detail"], problem
    seen = get(stack, citizen, f"/payments/{order['order_no']}").json()
    assert seen["state"] == "pending" and seen["receipt_url"] is None


def test_a_hall_payment_amount_not_in_ascii_digits_is_422_and_the_fee_stays_due(
    stack, citizen, nontax
):
    case_id, clerk = awaiting_payment(stack, citizen)
    approve(stack, clerk, case_id)
    answer = post(
        stack,
        clerk,
        f"/applications/{case_id}/actions",
        {"action": "record_payment", "amount": "１０.００"},
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == "amount" and "ASCII digits" in answer.json()["detail"]
    case = case_of(stack, citizen, case_id)
    assert case["state"] == "awaiting_payment" and case["paid"] is False
