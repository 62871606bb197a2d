"""The init phase of an execution environment, run without the cyclic garbage collector.

Every function's ``app.py`` imports this module before anything else. In an execution
environment (``AWS_LAMBDA_FUNCTION_NAME`` is set, as Lambda and the local stack's workers
set it) it turns the cyclic collector off; the end of the first invocation turns it on
again, after freezing what the init phase and that first call built.

Why: a cold start allocates hundreds of thousands of objects that live as long as the
process (modules, botocore's service models and endpoint rules, pydantic's validators,
clients). Each allocation burst makes the collector walk every one of them again, and
they are never garbage: measured here, ~20 ms for one full pass after the first boto3
client, 40-60 ms of a function's cold start in all. ``gc.freeze()`` then moves them all
to the permanent generation, so warm invocations' collections walk only what those
invocations allocate. Garbage with reference cycles made during init (a little) is kept
for the life of the process; reference counting frees everything else as usual.

Outside an execution environment (tests, tools that import a function's module) nothing
changes: the collector stays on.
"""

from __future__ import annotations

import functools
import gc
import os
from collections.abc import Callable
from typing import Any

# Read here rather than in govbus.settings: this module runs before anything else is
# imported (settings imports pydantic), which is the whole point of it.
IN_EXECUTION_ENVIRONMENT = bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))

_collector_paused = False
if IN_EXECUTION_ENVIRONMENT and gc.isenabled():
    gc.disable()
    _collector_paused = True


def ended() -> bool:
    """Whether the init phase is over (or never paused the collector)."""
    return not _collector_paused


def end() -> None:
    """Freeze what exists now and turn the collector back on; later calls do nothing."""
    global _collector_paused
    if _collector_paused:
        _collector_paused = False
        gc.freeze()
        gc.enable()


def ends_after_first_call(handler: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a Lambda handler so that its first invocation's end ends the init phase
    (whether it answered or raised). The first call is part of a cold start: the clients
    and models it builds on demand live as long as the process, like the init phase's."""

    @functools.wraps(handler)
    def invoke(event: Any, context: Any) -> Any:
        try:
            return handler(event, context)
        finally:
            if _collector_paused:
                end()

    return invoke
