"""Daily reconciliation (对账): the platform's statement against the bus's own orders.

Pure matching, no I/O, so that the ``reconcile`` function, the CLI and the benchmark
share it. The statement arrives as a stream (``govbus_payment_statement`` yields lines);
the bus's side is a dict ``order_no -> amount_fen`` of the orders it holds as paid on
that day. Matching consumes that dict in place, marking each matched order rather than
remembering matched order numbers elsewhere: memory is the dict the caller already
holds, plus nothing that grows with the statement.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, MutableMapping
from enum import StrEnum

from contracts.payments import StatementLine


class MismatchKind(StrEnum):
    paid_there_not_here = "paid_there_not_here"  # the platform settled it; the bus never heard
    paid_here_not_there = "paid_here_not_there"  # the bus holds it paid; the platform has no line
    amount_differs = "amount_differs"
    duplicate = "duplicate"  # the statement lists the order more than once


@dataclasses.dataclass(frozen=True, slots=True)
class Mismatch:
    kind: MismatchKind
    order_no: str
    platform_amount_fen: int | None = None
    local_amount_fen: int | None = None
    line: StatementLine | None = None  # the statement line, when there is one


# a matched order's amount is replaced by this mark (amounts are > 0): the mark is one
# shared small int, so matching allocates nothing per line and the dict never grows
MATCHED = -1


def match_line(line: StatementLine, expected: MutableMapping[str, int]) -> Mismatch | None:
    """Match one statement line against the bus's paid orders of the day.

    ``expected`` maps order_no to amount_fen and is updated in place (the order's amount
    is replaced by :data:`MATCHED`). Returns the mismatch the line reveals, or ``None``.
    """
    local = expected.get(line.order_no)
    if local is None:
        return Mismatch(
            MismatchKind.paid_there_not_here,
            line.order_no,
            platform_amount_fen=line.amount_fen,
            line=line,
        )
    if local == MATCHED:
        return Mismatch(
            MismatchKind.duplicate, line.order_no, platform_amount_fen=line.amount_fen, line=line
        )
    expected[line.order_no] = MATCHED
    if local != line.amount_fen:
        return Mismatch(
            MismatchKind.amount_differs,
            line.order_no,
            platform_amount_fen=line.amount_fen,
            local_amount_fen=local,
            line=line,
        )
    return None


def unmatched(expected: MutableMapping[str, int]) -> Iterator[Mismatch]:
    """After the statement: every order the bus holds paid that the platform never listed."""
    for order_no, amount in expected.items():
        if amount > 0:
            yield Mismatch(MismatchKind.paid_here_not_there, order_no, local_amount_fen=amount)


def reconcile(
    lines: Iterable[StatementLine], expected: MutableMapping[str, int]
) -> Iterator[Mismatch]:
    """Every mismatch between a streamed statement and the bus's paid orders of the day.

    Lines are consumed one at a time; ``expected`` is consumed (marked) in place. The
    orders the platform never listed come last, once the statement is complete: if the
    statement raises (truncated, partner down), they are never reported.
    """
    for line in lines:
        mismatch = match_line(line, expected)
        if mismatch is not None:
            yield mismatch
    yield from unmatched(expected)
