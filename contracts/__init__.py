"""govbus contracts: the shared language of the bus.

Pure models and helpers, no I/O. This package is the whole SDK an adapter author
depends on: models, hook specifications, the ``hookimpl`` marker, masking and
signature helpers.
"""

from __future__ import annotations

from typing import Any

__all__ = ["hookimpl"]


def __getattr__(name: str) -> Any:
    # ``from contracts import hookimpl`` loads the hook specifications (and every
    # family's models) only for code that implements hooks: functions that never touch
    # an adapter start faster.
    if name == "hookimpl":
        from contracts.hookspecs import hookimpl

        return hookimpl
    raise AttributeError(f"module 'contracts' has no attribute {name!r}")
