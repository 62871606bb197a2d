"""Work started beside the caller's: a read whose wait overlaps the caller's own work.

A cold start is mostly CPU (imports, the first client) with round trips in between; a
read that does not depend on what the caller is doing can wait on the network while the
caller computes. :func:`beside` starts it on a thread of its own and :meth:`Beside.result`
joins it: the value, or the exception the work raised, re-raised in the caller.

Plain ``threading`` (always loaded) rather than ``concurrent.futures``: one call, no
pool to keep. botocore clients are safe to share between threads once made, and
:func:`govbus.aws.client` makes each one under a lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class Beside[T]:
    def __init__(self, work: Callable[[], T], name: str) -> None:
        self._work = work
        self._value: T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._work()
        except BaseException as exc:  # handed to the caller by result()
            self._error = exc

    def join(self) -> None:
        """Wait for the work, whatever it did (a caller that gives up leaves no thread)."""
        self._thread.join()

    def result(self, timeout: float | None = None) -> T:
        """The work's value once it is done; its exception re-raised here."""
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"{self._thread.name} did not finish in {timeout} s")
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]


def beside[T](work: Callable[[], T], name: str = "beside") -> Beside[T]:
    """Start ``work`` now on a thread of its own; ``.result()`` waits for it."""
    return Beside(work, name)
