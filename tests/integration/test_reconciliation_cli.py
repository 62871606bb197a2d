"""`govbus reconcile --day D` on a statement of thousands of lines: what the operator sees.

Most lines name orders the bus never had, one in a hundred an order whose notification
was lost: the command repairs those, counts the others, shows how many lines it has
read while it reads, and says each kind of warning once, with its count.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest

from bench.reconcile_cli import seed_missed_orders
from govbus_dev.cli import main as govbus
from tests.integration.test_payments import environment

DAY = "2026-02-20"  # a day of its own on the simulator's statements
ROWS = 3000
ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]")


@pytest.fixture
def synthetic_day(stack):
    nontax = stack.simulators["nontax"]
    nontax.set_synthetic_rows(DAY, ROWS)
    yield nontax
    nontax.set_synthetic_rows(DAY, 0)


def test_a_day_of_thousands_of_lines_repairs_the_missed_and_counts_the_unknown(
    stack, synthetic_day, capsys, monkeypatch
):
    from govbus.stores import payments as store

    with environment(stack.functions["ReconcileFunction"].environment):
        missed = seed_missed_orders(DAY, ROWS, every=100)
        assert len(missed) == 30
        monkeypatch.setenv("FORCE_COLOR", "1")  # the progress bar, as on a terminal
        monkeypatch.setenv("COLUMNS", "160")
        assert govbus(["reconcile", "--day", DAY, "--stack", stack.stack_name]) == 0
        monkeypatch.delenv("FORCE_COLOR")
        printed = capsys.readouterr()
        stored = store.report(dt.date.fromisoformat(DAY))
        repaired = [store.get(order_no) for order_no in missed]

    unknown = ROWS - len(missed)
    # every moment in an answer is UTC, written with Z (docs/api.md)
    checked = dt.datetime.fromisoformat(stored["checked_at"])
    assert stored["checked_at"].endswith("Z"), stored["checked_at"]
    assert abs(dt.datetime.now(dt.UTC) - checked) < dt.timedelta(minutes=10)
    assert stored["statement_lines"] == ROWS
    assert stored["counts"]["paid_there_not_here"] == ROWS
    assert stored["unknown_orders"] == unknown
    assert sorted(stored["repaired"]) == sorted(missed)
    assert {order.state.value for order in repaired} == {"paid"}
    assert repaired[0].receipt_no and repaired[0].platform_txn_id

    # the table names the unknown orders as the docs do
    out = printed.out
    assert re.search(rf"^unknown_orders\s+{unknown}$", out, re.M), out
    assert "repaired (missed notification replayed)" in out

    err = ANSI.sub("", printed.err)
    # progress by lines read, with the count: never "0/?"
    assert f"{ROWS:,} lines read" in err, err[-2000:]
    assert "0/?" not in err
    # each kind of warning once, with its count; no JSON twin of a text line
    lines = [ln for ln in err.splitlines() if "not held here" in ln]
    assert len(lines) == 1, lines[:5]
    assert f"{unknown:,}" in lines[0], lines[0]
    assert err.count("not held here") == 1, err[-2000:]
    # (the stack's functions run in this process too: their lines carry a request id)
    ours = [ln for ln in err.splitlines() if '{"level"' in ln and "function_request_id" not in ln]
    assert not ours, ours[:3]
