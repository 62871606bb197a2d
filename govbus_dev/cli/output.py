"""How the CLI prints: rich tables for people, JSON for scripts, progress on a terminal.

Consoles are made per call, so they write to whatever ``sys.stdout`` is at that moment
(a test's capture, a redirect). Colour only when a terminal is attached; rich honours
``NO_COLOR`` (and ``FORCE_COLOR``) itself. Off a terminal nothing is wrapped or cut:
a script reading the output sees whole lines.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Column, Table
from rich.text import Text

# wide enough that no table off a terminal is wrapped or cut with an ellipsis
_PIPE_WIDTH = 1000


def _console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    is_tty = hasattr(stream, "isatty") and stream.isatty()
    return Console(
        file=stream,
        width=None if is_tty else _PIPE_WIDTH,
        soft_wrap=True,
        highlight=False,
        emoji=False,
    )


def out() -> Console:
    return _console()


def err() -> Console:
    return _console(stderr=True)


def say(text: str, *, style: str | None = None) -> None:
    """A line for people on stdout; ``[...]`` in it is text, never markup."""
    out().print(text, markup=False, style=style)


def warn(text: str) -> None:
    """A line on stderr (what went wrong, or a note beside the output)."""
    err().print(text, markup=False)


def print_json(value: Any) -> None:
    """One JSON document on stdout, for scripts (no colour, no wrapping)."""
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2, default=str) + "\n")


def table(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], *, title: str | None = None
) -> None:
    """A borderless table: on a terminal with a bold header, piped as plain columns.

    No box and no edge padding, so the first column starts each line (scripts split
    lines on white space) and a header is the only line that is not a row.
    """
    grid = Table(
        # on a narrow terminal a long cell folds onto the next line, never cut short
        *(Column(name, overflow="fold") for name in columns),
        box=box.SIMPLE_HEAD if out().is_terminal else None,
        pad_edge=False,
        show_edge=False,
        header_style="bold",
        title=title,
        title_justify="left",
    )
    for row in rows:
        # cells are text, never markup: a subject or a reason may hold "[...]"
        grid.add_row(*(Text("" if cell is None else str(cell)) for cell in row))
    out().print(grid)


@contextlib.contextmanager
def progress(what: str, total: int | None = None, *, unit: str | None = None) -> Iterator[Any]:
    """A progress bar on stderr for something long; nothing at all off a terminal.

    Yields ``advance(n=1)``; ``advance.set_total(n)`` gives the size once the work knows
    it. Until then (or with no ``total`` at all) the bar pulses. With ``unit`` (work of
    no known size, a streamed statement), a count instead: ``12,000 lines read``.
    """
    console = err()
    columns: list[Any] = [SpinnerColumn(), TextColumn("{task.description}")]
    if unit is None:
        columns += [BarColumn(), MofNCompleteColumn()]
    else:
        columns += [TextColumn("{task.completed:,.0f} " + unit), TimeElapsedColumn()]
    bar = Progress(*columns, console=console, transient=True, disable=not console.is_terminal)
    with bar:
        task = bar.add_task(what, total=total)

        def advance(n: int = 1) -> None:
            bar.advance(task, n)

        def set_total(n: int) -> None:
            bar.update(task, total=n)

        advance.set_total = set_total  # type: ignore[attr-defined]
        yield advance


class _OncePerKind(logging.Filter):
    """Lets the first record of each kind (logger, level, message) through and counts
    the rest, for :func:`warnings_once`."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: dict[tuple[str, int, str], int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        kind = (record.name, record.levelno, str(record.msg))
        self.seen[kind] = self.seen.get(kind, 0) + 1
        return self.seen[kind] == 1


@contextlib.contextmanager
def warnings_once() -> Iterator[None]:
    """While a long command runs, each kind of log line once; at the end, how many more
    of each kind there were (a million-line statement once printed a warning a line)."""
    once = _OncePerKind()
    handlers = {h for name in ("", *RUNTIME_LOGGERS) for h in logging.getLogger(name).handlers}
    for handler in handlers:
        handler.addFilter(once)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(once)
        for (name, _level, message), count in once.seen.items():
            if count > 1:
                warn(f"{name}: {count - 1:,} more like: {message[:200]}")


# the runtime's JSON loggers (Powertools' ``govbus``, the adapters')
RUNTIME_LOGGERS = ("govbus", "adapters")
