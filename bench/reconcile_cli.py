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


def run_cli(rows: int, every: int = 100, day: str = "2026-11-28", profile: str = "") -> dict:
    """``govbus reconcile --day DAY`` in a process of its own against a local stack of its
    own (no pollers, no schedules), the simulator's statement ``rows`` lines long, every
    ``every``-th an order held here unpaid; returns the wall time, the lines a second and
    the report's counts (checked: all repaired, the rest unknown)."""
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path

    from govbus import settings
    from govbus_dev.local.stack import LocalStack

    root = Path(__file__).resolve().parent.parent
    os.environ.pop("AWS_ENDPOINT_URL", None)
    with LocalStack(
        root,
        port=0,
        pollers=False,
        schedules=False,
        environment={"POWERTOOLS_LOG_LEVEL": "WARNING"},
    ) as stack:
        stack.simulators["nontax"].set_synthetic_rows(day, rows)
        function = dict(stack.functions["ReconcileFunction"].environment)
        function.pop("AWS_LAMBDA_FUNCTION_NAME", None)  # a command, not an environment
        saved = dict(os.environ)
        os.environ.update(function)
        settings.reset()
        try:
            missed = seed_missed_orders(day, rows, every)
        finally:
            os.environ.clear()
            os.environ.update(saved)
            settings.reset()
        argv = [sys.executable]
        if profile:
            argv += ["-m", "cProfile", "-o", profile]
        argv += ["-m", "govbus_dev.cli", "reconcile", "--day", day, "--stack", stack.stack_name]
        started = time.perf_counter()
        done = subprocess.run(
            argv, env={**saved, **function}, capture_output=True, text=True, cwd="/"
        )
        seconds = time.perf_counter() - started
        if done.returncode:
            raise SystemExit(f"govbus reconcile: {done.returncode}\n{done.stderr[-3000:]}")
        os.environ.update(function)
        settings.reset()
        try:
            report = store.report(dt.date.fromisoformat(day))
        finally:
            os.environ.clear()
            os.environ.update(saved)
            settings.reset()
    unknown = rows - len(missed)
    if report["unknown_orders"] != unknown or report["statement_lines"] != rows:
        raise SystemExit(f"govbus reconcile: unexpected report {report['counts']}")
    return {
        "rows": rows,
        "repaired_orders": len(missed),
        "seconds": seconds,
        "lines_per_second": rows / seconds,
        "per_line_seconds": seconds / rows,
        "stderr_lines": len(done.stderr.splitlines()),
    }


if __name__ == "__main__":
    import json
    import sys

    # python -m bench.reconcile_cli ROWS [EVERY [PROFILE]]: EVERY-th line repaired (100: 1%)
    result = run_cli(
        int(sys.argv[1]) if len(sys.argv) > 1 else 20_000,
        every=int(sys.argv[2]) if len(sys.argv) > 2 else 100,
        profile=sys.argv[3] if len(sys.argv) > 3 else "",
    )
    print(json.dumps(result))
