"""``govbus``: the command line of the platform, on typer and rich.

govbus dev [--port 3000]         start the whole platform locally (what `make run` runs)
govbus adapters [--json]         installed adapters, their entry points and hooks
govbus dlq list|redrive          dead-letter queues
govbus events tail               follow the bus live, identifiers masked
govbus replay --consumer NAME    re-publish archived events to one consumer
govbus changed --since REF       the functions a git diff affects
govbus deploy --function NAME    build and deploy one function with sam
... and audit verify, clients, webhooks, demo, reconcile, province align, open-data
publish, adapter new.

``main(argv)`` returns the exit code (tests call it in-process); the console script
exits with it. Shell completion: ``govbus --install-completion``.
"""

from __future__ import annotations

import sys

import typer

# every module below registers its commands on the application
from govbus_dev import province_align_cli  # noqa: F401
from govbus_dev.cli import changes, events, open_data, ops  # noqa: F401
from govbus_dev.cli.app import app, restore_logging
from govbus_dev.cli.stack import LOCAL_STACK, STATE_FILE, stack_name, use_local_stack_if_running

__all__ = ["LOCAL_STACK", "STATE_FILE", "app", "main", "stack_name", "use_local_stack_if_running"]


def main(argv: list[str] | None = None) -> int:
    """Run ``govbus ARGV``; the exit code (2 for a usage error, as argparse had it)."""
    try:
        result = app(args=argv, prog_name="govbus", standalone_mode=False)
    except typer.Exit as exc:  # --help, --install-completion
        return exc.exit_code
    except typer.TyperException as exc:  # a usage error: what is wrong, on stderr
        exc.show()  # type: ignore[attr-defined]
        return int(getattr(exc, "exit_code", 2))
    except typer.Abort:
        print("aborted", file=sys.stderr)
        return 130
    finally:
        restore_logging()
    return int(result or 0)
