"""A day of the non-tax platform's synthetic statement, of which every ``every``-th line
is an order the bus holds unpaid (its notification lost: reconciliation repairs it) and
the rest orders it never had; shared by ``make bench``'s ``reconcile.cli`` line and the
CLI's reconciliation test.

``seed_missed_orders`` writes those held orders straight into the payments table (25 a
request), so a statement of 10^6 lines is set up in seconds; run it with the payments
table's settings in the environment (the reconcile function's, or the CLI's).
"""

from __future__ import annotations

import datetime as dt

from adapters.nontax.simulator import synthetic_row
from govbus.aws import client
from govbus.stores import payments as store


def missed_order(day: str, i: int, rows: int) -> store.StoredOrder:
    """The bus's pending order of synthetic line ``i``: same number, code and amount."""
    order_no, payment_code, _trade, amount, *_ = synthetic_row(day, i, rows)
    return store.StoredOrder(
        order_no=order_no,
        kind="bill",
        agency="12350100MB0000000X",
        amount_fen=int(amount),
        payer_key="bench-payer",
        payer_masked="林**",
        description="a bill whose payment notification was lost",
        state=store.OrderState.pending,
        created_at=dt.datetime.fromisoformat(f"{day}T00:00:00+08:00"),
        payment_code=payment_code,
    )


def seed_missed_orders(day: str, rows: int, every: int = 100) -> list[str]:
    """Store line ``i``'s order, pending, for every ``i`` divisible by ``every``."""
    orders = [missed_order(day, i, rows) for i in range(0, rows, every)]
    table = store.settings.table("payments")
    for start in range(0, len(orders), 25):
        batch = [
            {"PutRequest": {"Item": store._order_item(order)}}
            for order in orders[start : start + 25]
        ]
        pending = {table: batch}
        while pending:
            answer = client("dynamodb").batch_write_item(RequestItems=pending)
            pending = answer.get("UnprocessedItems") or {}
    return [order.order_no for order in orders]
