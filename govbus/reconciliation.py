"""The daily reconciliation run (对账): each partner's statement against the orders held here.

The non-tax platform's statement covers every payment made at its cashier; the citizen
card platform's covers payments made by card directly (``pay-by-card``), which never pass
through the platform. A card payment whose answer was lost is repaired the same way.

Shared by the ``reconcile`` function (daily schedule) and ``govbus reconcile --day D``.
The statement is streamed (``govbus_payment_statement`` yields lines) through the pure
matcher of :mod:`govbus.reconcile`; the bus's side is one dict ``order_no -> amount_fen``
of the day's orders paid through the platform. Nothing else grows with the statement:
mismatches are counted per class and only the first :data:`SAMPLES_PER_CLASS` of each
are kept in the report. A line the platform settled that the bus never heard of is
repaired by :func:`govbus.payments.apply_payment`, the notification's own idempotent path.

Such lines are looked up :data:`LOOKUP_BATCH` at a time (one BatchGetItem):
a line of an order not held here at all is counted under ``unknown_orders`` without a
read or a write of its own, and said once, with the count, at the end (a GetItem and a
warning per line made a statement of a million such lines take an hour and print a
warning a line). Only the orders held here are replayed, each from the order as that
lookup read it (no second read): the writes are the repairs', each a conditional
transaction as a notification's; :data:`REPAIR_THREADS` batches are looked up and
repaired at once while the statement is read on (through the CLI against the local
stack, 10^6 lines of which 1% repaired, see bench/RESULTS.md).
"""

from __future__ import annotations

import datetime as _dt
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from contracts.adapters import CallContext
from contracts.payments import StatementLine
from govbus import payments, plugins
from govbus.observability import logger
from govbus.reconcile import Mismatch, MismatchKind, reconcile
from govbus.stores import payments as store
from govbus.stores.payments import PaidVia

SAMPLES_PER_CLASS = 100
LOOKUP_BATCH = 100  # paid_there_not_here lines looked up at once (BatchGetItem's most)
# batches looked up and repaired at once, while the statement is read on: a repair is a
# few round trips (lookup, transaction) that mostly wait on the table, each still one
# conditional transaction, so two repairs of one order cannot both apply
REPAIR_THREADS = 4
PROGRESS_EVERY = 1000  # lines between two calls of a run's ``on_lines``


class _Counted:
    """The statement's lines, counted as they pass (the count is the report's); every
    :data:`PROGRESS_EVERY` lines, and at the end, ``on_lines`` hears how many more."""

    def __init__(
        self, lines: Iterable[StatementLine], on_lines: Callable[[int], None] | None = None
    ) -> None:
        self._lines = lines
        self._on_lines = on_lines
        self.count = 0

    def __iter__(self) -> Iterator[StatementLine]:
        told = 0
        for line in self._lines:
            self.count += 1
            if self._on_lines is not None and self.count - told >= PROGRESS_EVERY:
                self._on_lines(self.count - told)
                told = self.count
            yield line
        if self._on_lines is not None and self.count > told:
            self._on_lines(self.count - told)


def _sample(mismatch: Mismatch) -> dict[str, Any]:
    return {
        "order_no": mismatch.order_no,
        "platform_amount_fen": mismatch.platform_amount_fen,
        "local_amount_fen": mismatch.local_amount_fen,
    }


def _repair(line: StatementLine, via: PaidVia, order: store.StoredOrder) -> str:
    """Replay a payment the partner settled as if its lost answer had arrived (``order``
    as just read: the replay's writes are conditional on its version)."""
    outcome = payments.apply_payment(
        payments.Payment(
            order_no=line.order_no,
            amount_fen=line.amount_fen,
            channel=line.channel,
            paid_at=line.paid_at,
            receipt_no=line.receipt_no,
            platform_txn_id=line.platform_txn_id,
            via=via,
            # the platform's lines name the order's payment code; the card platform's none
            payment_code=line.payment_code if via == PaidVia.platform else None,
        ),
        order,
    )
    if outcome == "paid" and via == PaidVia.card:
        payments.close_at_platform(line.order_no)  # as paying by card does
    return outcome


# each channel that settles payments has its own statement: (adapter, hook, via)
SOURCES = (
    (payments.PLATFORM, "govbus_payment_statement", PaidVia.platform),
    (payments.CARD, "govbus_card_statement", PaidVia.card),
)


def _section(
    day: _dt.date,
    adapter: str,
    hook: str,
    via: PaidVia,
    repair: bool,
    on_lines: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """One channel's statement of ``day`` against the orders paid through it here."""
    expected = dict(store.paid_on_day(day, via))
    held = len(expected)
    key = f"reconcile-{via.value}-{day.isoformat()}"
    lines = _Counted(
        payments.hook_call(
            adapter,
            hook,
            day=day,
            ctx=CallContext(correlation_id=key, idempotency_key=key, timeout_seconds=30),
        ),
        on_lines,
    )
    counts: Counter[str] = Counter()
    samples: dict[str, list[dict[str, Any]]] = {kind.value: [] for kind in MismatchKind}
    repaired: list[str] = []
    unknown: list[str] = []  # the first few, for the summary; the count is unknown_count
    unknown_count = 0
    to_repair: list[StatementLine] = []
    pending: deque[Future[tuple[list[str], list[str]]]] = deque()

    def repair_batch(batch: list[StatementLine]) -> tuple[list[str], list[str]]:
        """The batch's lines looked up at once, those of orders held here replayed:
        (the orders paid now, the lines' orders not held here)."""
        here = store.held(line.order_no for line in batch)
        paid: list[str] = []
        missing: list[str] = []
        for line in batch:
            order = here.get(line.order_no)
            outcome = "unknown" if order is None else _repair(line, via, order)
            if outcome == "paid":
                paid.append(line.order_no)
            elif outcome == "unknown":  # not an order of ours (or gone since the lookup)
                missing.append(line.order_no)
        return paid, missing

    def collect(more_than: int) -> None:
        """Take in the oldest batches' outcomes (in the order they were read) until at
        most ``more_than`` are still being repaired; a failed batch raises here."""
        nonlocal unknown_count
        while len(pending) > more_than:
            paid, missing = pending.popleft().result()
            repaired.extend(paid[: SAMPLES_PER_CLASS - len(repaired)])
            unknown.extend(missing[: 5 - len(unknown)])
            unknown_count += len(missing)

    with ThreadPoolExecutor(REPAIR_THREADS, thread_name_prefix="repair") as repairs:
        for mismatch in reconcile(lines, expected):
            counts[mismatch.kind.value] += 1
            if len(samples[mismatch.kind.value]) < SAMPLES_PER_CLASS:
                samples[mismatch.kind.value].append(_sample(mismatch))
            if repair and mismatch.kind == MismatchKind.paid_there_not_here and mismatch.line:
                to_repair.append(mismatch.line)
                if len(to_repair) >= LOOKUP_BATCH:
                    pending.append(repairs.submit(repair_batch, to_repair))
                    to_repair = []
                    collect(2 * REPAIR_THREADS)  # the statement read ahead, but not far
        if to_repair:
            pending.append(repairs.submit(repair_batch, to_repair))
        collect(0)
    if unknown_count:
        logger.warning(
            f"{unknown_count:,} statement line(s) of {day.isoformat()} name orders not held "
            f"here (unknown_orders, e.g. {', '.join(unknown)}): nothing to repair",
            extra={"adapter": adapter, "unknown_orders": unknown_count},
        )
    return {
        "statement_lines": lines.count,
        "orders_paid_here": held,
        "counts": {kind.value: counts[kind.value] for kind in MismatchKind},
        "mismatches": samples,
        "repaired": repaired,
        "unknown_orders": unknown_count,
    }


def run(
    day: _dt.date, *, repair: bool = True, on_lines: Callable[[int], None] | None = None
) -> dict[str, Any]:
    """Reconcile ``day`` (Beijing time), channel by channel; store and return the report.

    The non-tax platform's section is the report's top level (the statement every fee
    passes through); the citizen card platform's is under ``citizen_card``, when that
    adapter is installed here. ``on_lines(n)`` hears of the statement lines as they are
    read (the CLI's progress), ``n`` more at a time.
    """
    installed = set(plugins.adapter_names(plugins.plugin_manager()))
    report: dict[str, Any] = {
        "day": day.isoformat(),
        # a moment, so UTC with Z as every moment govbus answers (the day is Beijing's)
        "checked_at": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    for adapter, hook, via in SOURCES:
        if adapter not in installed:
            continue
        section = _section(day, adapter, hook, via, repair, on_lines)
        if via == PaidVia.platform:
            report.update(section)
        else:
            report[adapter] = section
    store.save_report(day, report)
    return report


def table(report: dict[str, Any]) -> str:
    """The report as the CLI prints it: one row per mismatch class, then the samples."""
    rows = [
        f"reconciliation of {report['day']}: {report['statement_lines']} statement line(s), "
        f"{report['orders_paid_here']} order(s) paid here",
        f"{'class':<22} {'count':>8}",
    ]
    rows += [f"{kind:<22} {count:>8}" for kind, count in report["counts"].items()]
    # of paid_there_not_here: the lines of orders the bus never had (not repairable)
    rows.append(f"{'unknown_orders':<22} {report.get('unknown_orders', 0):>8}")
    for kind, found in report["mismatches"].items():
        for m in found:
            rows.append(
                f"  {kind:<20} {m['order_no']:<34} platform {m['platform_amount_fen'] or '-':>10}"
                f"  here {m['local_amount_fen'] or '-':>10}"
            )
    if report["repaired"]:
        rows.append(f"repaired (missed notification replayed): {', '.join(report['repaired'])}")
    card = report.get(payments.CARD)
    if card:
        rows.append(
            f"citizen card: {card['statement_lines']} statement line(s), "
            f"{card['orders_paid_here']} order(s) paid here by card"
        )
        rows += [f"{kind:<22} {count:>8}" for kind, count in card["counts"].items()]
        for kind, found in card["mismatches"].items():
            rows += [f"  {kind:<20} {m['order_no']:<34}" for m in found]
        if card["repaired"]:
            rows.append(f"repaired (lost card answer replayed): {', '.join(card['repaired'])}")
    return "\n".join(rows)
