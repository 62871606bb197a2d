"""Fees and bills paid online exactly once, over the local stack: the fee order of an
approved case, paid at the platform (bank card, citizen card) with its notifications
doubled and out of order, or from the citizen card through the bus; bills of a school;
receipts; refused notifications; a lost card; a refund after rejection; reconciliation."""

import contextlib
import datetime as dt
import io
import uuid

import pytest
import requests

from adapters.nontax import wire
from adapters.nontax.simulator import DEFAULT_RETRY_SCHEDULE
from contracts.adapters import CallContext, Faults
from govbus.plugins import call, plugin_manager
from tests.conftest import wait_for
from tests.integration.conftest import CITIZEN, OTHER_CITIZEN, bearer, department_token, login
from tests.integration.test_cases import (
    FOOD_LICENCE_ITEM,
    MARKET,
    POLICE,
    RENEW_DRIVING_LICENCE,
    apply,
    case_of,
    post,
    upload,
)
from tests.integration.test_payment_notifications import _altered, _forged, notify

SCHOOL = "11350100MB0000005E"  # an agency of the seed data, billing as a school would
CARD_BALANCE = 100_000


@contextlib.contextmanager
def environment(variables: dict[str, str]):
    """This process's environment for a store or hook called directly from the test."""
    from govbus import settings

    with pytest.MonkeyPatch.context() as patch:
        for name, value in variables.items():
            patch.setenv(name, value)
        settings.reset()  # settings are read once: read them again from these variables
        try:
            yield
        finally:
            patch.undo()
            settings.reset()


@pytest.fixture
def seeded(stack):
    return stack.seed()


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
    simulator.add_card(OTHER_CITIZEN, status="LOST", balance_fen=CARD_BALANCE)
    return simulator


@pytest.fixture
def citizen(stack, ca, seeded):
    answer = login(stack, ca.issue(CITIZEN, "林小姐"))
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


def get(stack, token, path, **params):
    return requests.get(f"{stack.url}{path}", headers=bearer(token), params=params, timeout=20)


def awaiting_payment(stack, citizen, item=RENEW_DRIVING_LICENCE, agency=POLICE):
    """A case of a fee-charging item, approved: it waits for its fee (10 yuan)."""
    created = apply(stack, citizen, item=item)
    for form in created["uploads"]:
        upload(form)
    submitted = post(stack, citizen, f"/applications/{created['id']}/submit").json()
    assert submitted["state"] == "pre_reviewed", submitted
    clerk = department_token(stack, ["cases:review"], agency=agency)
    assert post(stack, clerk, f"/applications/{created['id']}/actions", {"action": "accept"}).ok
    return created["id"], clerk


def approve(stack, clerk, case_id):
    answer = post(stack, clerk, f"/applications/{case_id}/actions", {"action": "approve"})
    assert answer.status_code == 200, answer.text
    return answer.json()


def pending_order(stack, token, order_no):
    """The order once the platform has created it (payment code and pay URL)."""
    return wait_for(
        lambda: (
            (o := get(stack, token, f"/payments/{order_no}")).ok
            and o.json()["state"] == "pending"
            and o.json()
        ),
        what=f"order {order_no} to be created at the platform",
    )


def platform_query(stack, order_no):
    """The platform's view of an order, through the payments function's own adapters
    (under its environment: the local stack swaps os.environ per invocation)."""
    with environment(stack.functions["PaymentsFunction"].environment):
        return call(
            plugin_manager(),
            "nontax",
            "govbus_payment_query_order",
            order_no=order_no,
            ctx=CallContext(correlation_id=order_no, idempotency_key=order_no),
        )


@pytest.mark.parametrize(
    ("channel", "card_no"),
    [("bank_card", ""), ("citizen_card", "3501001000000000001")],
    ids=["bank-card", "citizen-card-at-the-cashier"],
)
def test_a_fee_paid_at_the_platform_is_applied_once_and_the_result_is_issued(
    stack, citizen, nontax, channel, card_no
):
    case_id, clerk = awaiting_payment(stack, citizen)
    waiting = approve(stack, clerk, case_id)
    assert waiting["state"] == "awaiting_payment" and waiting["fee"] == "10.00"
    order = pending_order(stack, citizen, f"FEE-{case_id}")
    assert order["amount_fen"] == 1000 and order["amount_yuan"] == "10.00"
    assert len(order["payment_code"]) == 20 and order["pay_url"].endswith(order["payment_code"])
    assert order["payer"] == "3501**********1234"

    # the platform holds its notifications, doubles each, and sends them newest first
    nontax.set_faults(Faults(duplicate_pushes=True, out_of_order=True))
    nontax.pay(order["payment_code"], channel, card_no=card_no)
    assert platform_query(stack, order["order_no"]).state == "paid"  # a status query in between
    nontax.notify(order["order_no"])  # the platform notifies again after the query
    assert len(nontax.release()) == 2
    sent = wait_for(
        lambda: (
            (n := [x for x in nontax.notifications.values() if x.order_no == order["order_no"]])
            and all(x.acked for x in n)
            and n
        ),
        what="both notifications acknowledged with 200 success",
    )
    assert len(sent) == 2 and all(x.statuses == [200, 200] for x in sent)

    done = wait_for(
        lambda: (c := case_of(stack, citizen, case_id))["state"] == "licence_issued" and c,
        what="the case to be paid and its result issued",
    )
    actions = [e["action"] for e in done["timeline"]]
    assert actions.count("paid") == 1 and done["paid"] is True
    assert actions[-3:] == ["await_payment", "paid", "licence_issued"]
    paid = get(stack, citizen, f"/payments/{order['order_no']}").json()
    assert paid["state"] == "paid" and paid["channel"] == channel and paid["flags"] == []
    receipt = get(stack, citizen, paid["receipt_url"])
    assert receipt.status_code == 200, receipt.text
    body = receipt.json()
    platform = nontax.orders[order["order_no"]]
    assert body["receipt_no"] == platform["receipt_no"] and body["amount_fen"] == 1000
    assert body["payer"] == "3501**********1234" and CITIZEN not in receipt.text
    assert body["item"].startswith("机动车驾驶证期满换证") and body["paid_at"]
    # the agency reads its receipt too
    assert get(stack, clerk, paid["receipt_url"]).status_code == 200


def test_a_fee_paid_at_the_hall_closes_the_online_order(stack, citizen, ca, nontax):
    case_id, clerk = awaiting_payment(stack, citizen)
    approve(stack, clerk, case_id)
    order = pending_order(stack, citizen, f"FEE-{case_id}")
    stranger = login(stack, ca.issue(OTHER_CITIZEN, "王先生")).json()["access_token"]
    assert get(stack, stranger, f"/payments/{order['order_no']}").status_code == 404
    recorded = post(
        stack,
        clerk,
        f"/applications/{case_id}/actions",
        {"action": "record_payment", "amount": "10.00"},
    )
    assert recorded.status_code == 200 and recorded.json()["state"] == "licence_issued"
    wait_for(
        lambda: get(stack, citizen, f"/payments/{order['order_no']}").json()["state"] == "closed",
        what="the online order to be closed",
    )
    assert platform_query(stack, order["order_no"]).state == "closed"
    with pytest.raises(ValueError, match="CLOSED"):
        nontax.pay(order["payment_code"], "bank_card")  # it can no longer be paid online


def test_a_school_bill_is_paid_by_citizen_card_once_with_a_receipt(stack, citizen, cards):
    school = department_token(stack, ["bills:issue"], agency=SCHOOL)
    due = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    issued = post(
        stack,
        school,
        "/bills",
        {
            "payer_code": CITIZEN,
            "payer_name": "林小姐",
            "amount_fen": 52_000,
            "title": "2026年秋季学期学费 autumn term fee",
            "due": due,
        },
    )
    assert issued.status_code == 201, issued.text
    bill = issued.json()
    assert bill["order_no"].startswith("BILL-") and bill["payer"] == "3501**********1234"
    pending_order(stack, citizen, bill["order_no"])
    mine = get(stack, citizen, "/bills", mine="true").json()["bills"]
    assert [b["order_no"] for b in mine] == [bill["order_no"]]

    paid = post(stack, citizen, f"/payments/{bill['order_no']}/pay-by-card")
    assert paid.status_code == 200, paid.text
    assert paid.json()["state"] == "paid" and paid.json()["channel"] == "citizen_card"
    again = post(stack, citizen, f"/payments/{bill['order_no']}/pay-by-card")
    assert again.status_code == 409 and "already paid" in again.json()["detail"]
    assert cards.card_of(CITIZEN)["balance_fen"] == CARD_BALANCE - 52_000, "charged once"

    receipt = get(stack, citizen, paid.json()["receipt_url"])
    assert receipt.status_code == 200 and receipt.json()["amount_fen"] == 52_000
    assert receipt.json()["item"] == "2026年秋季学期学费 autumn term fee"
    assert get(stack, school, paid.json()["receipt_url"]).status_code == 200
    stranger = department_token(stack, ["bills:issue"], agency=MARKET)
    assert get(stack, stranger, paid.json()["receipt_url"]).status_code == 404
    # the platform's order is closed: the bill cannot be paid a second way
    assert platform_query(stack, bill["order_no"]).state == "closed"


def test_a_biller_lists_the_bills_its_agency_issued_and_no_one_elses(stack, citizen, seeded):
    school = department_token(stack, ["bills:issue"], agency=SCHOOL)
    due = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    issued = [
        post(
            stack,
            school,
            "/bills",
            {
                "payer_code": CITIZEN,
                "payer_name": "林小姐",
                "amount_fen": amount,
                "title": f"学费 fee {amount}",
                "due": due,
            },
        ).json()["order_no"]
        for amount in (1_000, 2_000)
    ]
    listed = get(stack, school, "/bills")
    assert listed.status_code == 200, listed.text
    numbers = [b["order_no"] for b in listed.json()["bills"]]
    assert set(issued) <= set(numbers)
    assert numbers.index(issued[1]) < numbers.index(issued[0]), "newest first"
    assert all(b["payer"] == "3501**********1234" for b in listed.json()["bills"])
    unpaid = get(stack, school, "/bills", state="paid").json()["bills"]
    assert not set(issued) & {b["order_no"] for b in unpaid}
    bad = get(stack, school, "/bills", state="lost")
    assert bad.status_code == 422 and bad.json()["field"] == "state"
    market = department_token(stack, ["bills:issue"], agency=MARKET)
    theirs = {b["order_no"] for b in get(stack, market, "/bills").json()["bills"]}
    assert not theirs & set(issued), "another agency's biller sees none of them"
    reader = department_token(stack, ["cases:review"], agency=SCHOOL)
    refused = get(stack, reader, "/bills")
    assert refused.status_code == 403 and "bills:issue" in refused.json()["detail"]


def test_a_bill_paid_at_the_platform_and_by_card_at_once_gives_the_second_payment_back(
    stack, citizen, cards, nontax
):
    school = department_token(stack, ["bills:issue"], agency=SCHOOL)
    due = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    bill = post(
        stack,
        school,
        "/bills",
        {
            "payer_code": CITIZEN,
            "payer_name": "林小姐",
            "amount_fen": 8000,
            "title": "体检费",
            "due": due,
        },
    ).json()
    order = pending_order(stack, citizen, bill["order_no"])
    nontax.set_faults(Faults(out_of_order=True))  # the platform's notification is late
    nontax.pay(order["payment_code"], "bank_card")
    by_card = post(stack, citizen, f"/payments/{order['order_no']}/pay-by-card")
    assert by_card.status_code == 200 and by_card.json()["channel"] == "citizen_card"
    assert len(nontax.release()) == 1
    flagged = wait_for(
        lambda: (o := get(stack, citizen, f"/payments/{order['order_no']}").json())["flags"] and o,
        what="the late platform payment to be seen as a second one",
    )
    assert flagged["state"] == "paid" and flagged["channel"] == "citizen_card"
    assert "paid twice" in flagged["flags"][0] and "refunded" in flagged["flags"][0]
    assert platform_query(stack, order["order_no"]).state == "refunded"
    assert cards.card_of(CITIZEN)["balance_fen"] == CARD_BALANCE - 8000, "the card paid once"


def test_a_bill_needs_the_biller_scope_and_a_valid_citizen(stack, citizen, seeded):
    due = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    bill = {"payer_code": CITIZEN, "payer_name": "林", "amount_fen": 100, "title": "x", "due": due}
    clerk = department_token(stack, ["cases:review"], agency=SCHOOL)
    assert post(stack, clerk, "/bills", bill).status_code == 403
    school = department_token(stack, ["bills:issue"], agency=SCHOOL)
    wrong = post(stack, school, "/bills", {**bill, "payer_code": "110105194912310021"})
    assert wrong.status_code == 422 and wrong.json()["field"] == "payer_code"
    floats = post(stack, school, "/bills", {**bill, "amount_fen": 1.5})
    assert floats.status_code == 422, "money is integer fen, never a float"
    assert post(stack, citizen, "/bills", bill).status_code == 403


def test_a_lost_card_cannot_pay_and_the_bill_stays_payable(stack, ca, seeded, cards):
    other = login(stack, ca.issue(OTHER_CITIZEN, "王先生")).json()["access_token"]
    school = department_token(stack, ["bills:issue"], agency=SCHOOL)
    due = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    bill = post(
        stack,
        school,
        "/bills",
        {
            "payer_code": OTHER_CITIZEN,
            "payer_name": "王先生",
            "amount_fen": 3000,
            "title": "餐费",
            "due": due,
        },
    ).json()
    pending_order(stack, other, bill["order_no"])
    refused = post(stack, other, f"/payments/{bill['order_no']}/pay-by-card")
    assert refused.status_code == 422, refused.text
    assert refused.json()["type"].endswith("card-unusable") and "lost" in refused.json()["detail"]
    assert get(stack, other, f"/payments/{bill['order_no']}").json()["state"] == "pending"
    assert cards.card_of(OTHER_CITIZEN)["balance_fen"] == CARD_BALANCE


def test_a_forged_or_altered_notification_changes_nothing(stack, aws, citizen, nontax):
    case_id, clerk = awaiting_payment(stack, citizen)
    approve(stack, clerk, case_id)
    order = pending_order(stack, citizen, f"FEE-{case_id}")
    fields = {
        "app_id": nontax.app_id,
        "notify_id": "forged-0001",
        "notify_time": wire.platform_time(dt.datetime.now(wire.CST)),
        "notify_type": "trade_status_sync",
        "order_no": order["order_no"],
        "payment_code": order["payment_code"],
        "trade_no": "NT20261127000000009999",
        "amount_fen": "1000",
        "channel": "UNIONPAY",
        "paid_time": wire.platform_time(dt.datetime.now(wire.CST)),
        "receipt_no": "FJ20261127FORGED",
        "trade_status": "TRADE_SUCCESS",
    }
    genuine = nontax.signed_body(fields)  # signed, but never sent as it is
    for body in (_forged(nontax, genuine), _altered(nontax, genuine)):
        answer = notify(stack, body)
        assert answer.status_code == 401, answer.text
    # a genuine notification of another order afterwards: once it has moved its order,
    # anything the refused ones had caused would have been applied before it
    other_id, other_clerk = awaiting_payment(stack, citizen)
    approve(stack, other_clerk, other_id)
    other = pending_order(stack, citizen, f"FEE-{other_id}")
    nontax.pay(other["payment_code"], "bank_card")
    wait_for(
        lambda: get(stack, citizen, f"/payments/{other['order_no']}").json()["state"] == "paid",
        what="the genuine notification to be applied",
    )
    assert get(stack, citizen, f"/payments/{order['order_no']}").json()["state"] == "pending"
    assert case_of(stack, citizen, case_id)["state"] == "awaiting_payment"
    assert get(stack, citizen, "/receipts/FJ20261127FORGED").status_code == 404


def _bill(stack, school, citizen, amount_fen):
    due = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    bill = post(
        stack,
        school,
        "/bills",
        {
            "payer_code": CITIZEN,
            "payer_name": "林小姐",
            "amount_fen": amount_fen,
            "title": "学费",
            "due": due,
        },
    ).json()
    return pending_order(stack, citizen, bill["order_no"])


def _notification(nontax, order, **changes) -> bytes:
    """A notification the platform genuinely signed, of ``order`` with ``changes``."""
    now = wire.platform_time(dt.datetime.now(wire.CST))
    fields = {
        "app_id": nontax.app_id,
        "notify_id": uuid.uuid4().hex,
        "notify_time": now,
        "notify_type": "trade_status_sync",
        "order_no": order["order_no"],
        "payment_code": order["payment_code"],
        "trade_no": f"NT{uuid.uuid4().hex[:20]}",
        "amount_fen": str(order["amount_fen"]),
        "channel": "UNIONPAY",
        "paid_time": now,
        "receipt_no": f"FJ{uuid.uuid4().hex[:18]}",
        "trade_status": "TRADE_SUCCESS",
        **changes,
    }
    return nontax.signed_body(fields)


def flagged(stack, token, order_no) -> dict:
    return wait_for(
        lambda: (o := get(stack, token, f"/payments/{order_no}").json())["flags"] and o,
        what=f"order {order_no} to be flagged for a person",
    )


def test_a_notification_naming_another_orders_payment_code_is_flagged_not_paid(
    stack, citizen, nontax
):
    school = department_token(stack, ["bills:issue"], agency=SCHOOL)
    a, b = _bill(stack, school, citizen, 1000), _bill(stack, school, citizen, 2000)
    # order A's number and amount, but B's payment code: not a payment of A
    body = _notification(nontax, a, payment_code=b["payment_code"], receipt_no="FJMIXED0001")
    answer = notify(stack, body)
    assert answer.status_code == 200 and answer.text == "success", answer.text

    order = flagged(stack, citizen, a["order_no"])
    assert order["state"] == "pending" and order["receipt_url"] is None
    (flag,) = order["flags"]
    assert "payment code differs" in flag and b["payment_code"] in flag
    assert get(stack, citizen, f"/payments/{b['order_no']}").json()["state"] == "pending"
    assert get(stack, citizen, "/receipts/FJMIXED0001").status_code == 404


@pytest.mark.parametrize("reused", ["receipt", "trade"])
def test_a_notification_reusing_another_orders_receipt_or_trade_is_flagged_once(
    stack, citizen, nontax, reused
):
    school = department_token(stack, ["bills:issue"], agency=SCHOOL)
    a, b = _bill(stack, school, citizen, 1000), _bill(stack, school, citizen, 2000)
    nontax.pay(a["payment_code"], "bank_card")
    paid = wait_for(
        lambda: (
            (o := get(stack, citizen, f"/payments/{a['order_no']}").json())["state"] == "paid" and o
        ),
        what="order A paid",
    )
    if reused == "receipt":
        changes = {"receipt_no": paid["receipt_no"]}
        reason = f"receipt number {paid['receipt_no']} is already used by order {a['order_no']}"
    else:
        trade_no = platform_query(stack, a["order_no"]).platform_txn_id
        changes = {"trade_no": trade_no}
        reason = f"trade number {trade_no} is already used by order {a['order_no']}"
    answer = notify(stack, _notification(nontax, b, **changes))
    assert answer.status_code == 200 and answer.text == "success", answer.text

    # the message is finished with a flag a person understands, not retried into the DLQ
    order = flagged(stack, citizen, b["order_no"])
    assert order["state"] == "pending" and order["receipt_url"] is None
    assert len(order["flags"]) == 1 and reason in order["flags"][0], order["flags"]
    again = get(stack, citizen, f"/payments/{a['order_no']}").json()
    assert again["state"] == "paid" and again["flags"] == []


def test_a_rejection_after_payment_refunds_once(stack, citizen, ca, cards):
    case_id, clerk = awaiting_payment(stack, citizen, item=FOOD_LICENCE_ITEM, agency=MARKET)
    env = stack.functions["ApplicationsFunction"].environment
    with environment({k: env[k] for k in ("CASES_TABLE", "OUTBOX_TABLE", "GOVBUS_STAGE")}):
        from decimal import Decimal

        from govbus.stores import cases

        # Given an item whose result is an e-licence and which charges a 25 yuan fee
        cases.update_fields(cases.get(case_id), fee=Decimal("25.00"))
    ca.set_faults(Faults(down=True))  # the e-licence cannot be sealed yet: the case stays approved
    try:
        approve(stack, clerk, case_id)
        order = pending_order(stack, citizen, f"FEE-{case_id}")
        paid = post(stack, citizen, f"/payments/{order['order_no']}/pay-by-card")
        assert paid.status_code == 200, paid.text
        assert case_of(stack, citizen, case_id)["state"] == "approved"
        assert cards.card_of(CITIZEN)["balance_fen"] == CARD_BALANCE - 2500

        rejected = post(
            stack,
            clerk,
            f"/applications/{case_id}/actions",
            {"action": "reject", "reason": "经营场所核查不合格 premises failed inspection"},
        )
        assert rejected.status_code == 200, rejected.text
        assert rejected.json()["state"] == "closed"
        refunded = wait_for(
            lambda: (
                (o := get(stack, citizen, f"/payments/{order['order_no']}").json())["state"]
                == "refunded"
                and o
            ),
            what="the fee to be refunded",
        )
        assert refunded["refund_no"] == f"RF-{order['order_no']}"
        assert cards.card_of(CITIZEN)["balance_fen"] == CARD_BALANCE

        # the rejection's event delivered again refunds nothing more
        payments_env = stack.functions["PaymentsFunction"].environment
        with environment(payments_env):
            from govbus import payments

            again = payments.refund_case(case_id, "delivered twice")
        assert again is not None and again.state == "refunded"
        assert cards.card_of(CITIZEN)["balance_fen"] == CARD_BALANCE
        assert [r["out_trade_no"] for r in cards.refunds.values()].count(order["order_no"]) == 1
    finally:
        ca.set_faults(Faults())


def _paid_bill(stack, school, citizen, nontax, amount_fen, day, *, notified=True):
    order = _bill(stack, school, citizen, amount_fen)
    paid_at = dt.datetime.combine(day, dt.time(10, 30), tzinfo=wire.CST)
    if notified:
        nontax.pay(order["payment_code"], "bank_card", paid_at=paid_at)
        wait_for(
            lambda: get(stack, citizen, f"/payments/{order['order_no']}").json()["state"] == "paid",
            what=f"{order['order_no']} paid",
        )
    else:  # the platform settles it, and its notification is lost
        nontax.set_faults(Faults(out_of_order=True))
        nontax.pay(order["payment_code"], "bank_card", paid_at=paid_at)
        assert nontax.cancel_pending() == 1
        nontax.set_faults(Faults())
    return order["order_no"]


def test_reconciliation_finds_each_mismatch_class_and_repairs_the_missed_notification(
    stack, citizen, nontax
):
    school = department_token(stack, ["bills:issue"], agency=SCHOOL)
    # a day of its own: the simulator keeps every earlier test's payments on its statements
    day = dt.date(2026, 1, 15)
    matched = _paid_bill(stack, school, citizen, nontax, 1000, day)
    listed_twice = _paid_bill(stack, school, citizen, nontax, 2000, day)
    amount_off = _paid_bill(stack, school, citizen, nontax, 3000, day)
    missing_there = _paid_bill(stack, school, citizen, nontax, 4000, day)
    missed = _paid_bill(stack, school, citizen, nontax, 5000, day, notified=False)
    assert get(stack, citizen, f"/payments/{missed}").json()["state"] == "pending"
    nontax.seed_duplicate_line(listed_twice)
    nontax.seed_amount_mismatch(amount_off, 3100)
    nontax.seed_missing_line(missing_there)
    unknown = nontax.seed_unknown_payment(day.isoformat(), 2500)

    # the operator's command, with the reconcile function's environment
    out = io.StringIO()
    with environment(stack.functions["ReconcileFunction"].environment):
        from govbus_dev.cli import main as govbus

        with contextlib.redirect_stdout(out):
            assert govbus(["reconcile", "--day", day.isoformat(), "--stack", stack.stack_name]) == 0
    printed = out.getvalue()
    assert f"reconciliation of {day.isoformat()}" in printed and missed in printed
    # the command's log lines are not part of the table: they go to stderr, never between
    # its rows (the stack's functions run in this process too: theirs carry a request id)
    assert not [
        ln for ln in printed.splitlines() if ln.startswith("{") and "function_request_id" not in ln
    ], printed

    finance = department_token(stack, ["payments:reconcile"])
    report = get(stack, finance, f"/reconciliation/{day.isoformat()}").json()
    assert report["counts"] == {
        "paid_there_not_here": 2,
        "paid_here_not_there": 1,
        "amount_differs": 1,
        "duplicate": 1,
    }
    found = {k: [m["order_no"] for m in v] for k, v in report["mismatches"].items()}
    assert sorted(found["paid_there_not_here"]) == sorted([missed, unknown])
    assert found["paid_here_not_there"] == [missing_there]
    assert found["amount_differs"] == [amount_off] and found["duplicate"] == [listed_twice]
    assert report["repaired"] == [missed] and report["unknown_orders"] == 1
    assert matched not in printed

    repaired = get(stack, citizen, f"/payments/{missed}").json()
    assert (
        repaired["state"] == "paid"
        and repaired["receipt_no"] == nontax.orders[missed]["receipt_no"]
    )
    # a second run finds the repaired order matched: it is paid once, not again
    with environment(stack.functions["ReconcileFunction"].environment):
        from govbus import reconciliation

        second = reconciliation.run(day)
    assert second["repaired"] == [] and second["counts"]["paid_there_not_here"] == 1
    assert get(stack, citizen, f"/payments/{missed}").json()["flags"] == []
    assert get(stack, citizen, "/reconciliation/" + day.isoformat()).status_code == 403


def test_card_payments_are_reconciled_against_the_card_platforms_statement(stack, citizen, cards):
    school = department_token(stack, ["bills:issue"], agency=SCHOOL)
    day = dt.date(2026, 1, 16)  # a day of its own on the card platform's statements
    cards.pay_time = dt.datetime.combine(day, dt.time(10, 30), tzinfo=wire.CST)
    try:
        due = (dt.date.today() + dt.timedelta(days=30)).isoformat()
        bills = [
            post(
                stack,
                school,
                "/bills",
                {
                    "payer_code": CITIZEN,
                    "payer_name": "林小姐",
                    "amount_fen": fen,
                    "title": "学费",
                    "due": due,
                },
            ).json()["order_no"]
            for fen in (1200, 3400)
        ]
        for order_no in bills:
            pending_order(stack, citizen, order_no)
        matched, lost = bills
        assert post(stack, citizen, f"/payments/{matched}/pay-by-card").status_code == 200
        # the card platform charges the second bill, and its answer never reaches the bus
        charged = cards.charge(CITIZEN, lost, 3400)
        assert get(stack, citizen, f"/payments/{lost}").json()["state"] == "pending"

        out = io.StringIO()
        with environment(stack.functions["ReconcileFunction"].environment):
            from govbus_dev.cli import main as govbus

            with contextlib.redirect_stdout(out):
                assert (
                    govbus(["reconcile", "--day", day.isoformat(), "--stack", stack.stack_name])
                    == 0
                )
        assert "citizen card: 2 statement line(s), 1 order(s) paid here by card" in out.getvalue()

        finance = department_token(stack, ["payments:reconcile"])
        report = get(stack, finance, f"/reconciliation/{day.isoformat()}").json()["citizen_card"]
        assert report["counts"]["paid_there_not_here"] == 1, report
        assert sum(report["counts"].values()) == 1, "the card payment made here matched"
        assert report["repaired"] == [lost]
        repaired = get(stack, citizen, f"/payments/{lost}").json()
        assert (repaired["state"], repaired["channel"]) == ("paid", "citizen_card")
        assert repaired["receipt_no"] == charged["payment_id"]
        assert platform_query(stack, lost).state == "closed", "it cannot be paid a second way"
        assert cards.card_of(CITIZEN)["balance_fen"] == CARD_BALANCE - 1200 - 3400, "charged once"

        with environment(stack.functions["ReconcileFunction"].environment):
            from govbus import reconciliation

            again = reconciliation.run(day)["citizen_card"]
        assert again["repaired"] == [] and sum(again["counts"].values()) == 0
        assert again["orders_paid_here"] == 2
    finally:
        cards.pay_time = None
