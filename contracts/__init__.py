"""govbus contracts: the shared language of the bus.

Pure models and helpers, no I/O. This package is the whole SDK an adapter author
depends on: models, hook specifications, the ``hookimpl`` marker, masking and
signature helpers.
"""

from contracts.hookspecs import hookimpl

__all__ = ["hookimpl"]
