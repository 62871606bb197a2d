"""govbus.beside: work started on a thread of its own, joined with its value or error."""

from __future__ import annotations

import threading

import pytest

from govbus.beside import beside


def test_the_work_runs_while_the_caller_works():
    """The work waits for something only the caller does after starting it: it can
    finish only if it runs beside the caller, not when ``result()`` is asked for."""
    caller_went_on = threading.Event()
    started = beside(lambda: caller_went_on.wait(timeout=10), "waits-for-caller")
    caller_went_on.set()  # the caller's own work, after beside() returned
    assert started.result(timeout=10) is True


def test_the_value_and_the_error_reach_the_caller():
    assert beside(lambda: {"items": 3}).result(timeout=10) == {"items": 3}

    def fails() -> None:
        raise LookupError("no such table")

    failed = beside(fails)
    with pytest.raises(LookupError, match="no such table"):
        failed.result(timeout=10)


def test_a_result_not_ready_in_time_is_a_timeout():
    release = threading.Event()
    slow = beside(lambda: release.wait(timeout=10), "slow")
    with pytest.raises(TimeoutError, match="slow"):
        slow.result(timeout=0.01)
    release.set()
    slow.join()
    assert slow.result() is True
