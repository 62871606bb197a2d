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
    except Exception as exc:
        reason = environment_problem(exc)
        if reason is None:
            raise
        print(f"govbus: {reason}", file=sys.stderr)
        return 2
    finally:
        restore_logging()
    return int(result or 0)


# an AWS call that could not start: no stack is named or reachable from here
_NO_STACK = (
    "start `make run` in the project's folder and run govbus there or in a folder below "
    "it (it finds the local stack in .govbus-dev.json), or set AWS_DEFAULT_REGION and credentials for a deployed "
    "stack (--stack NAME)"
)


def environment_problem(exc: BaseException) -> str | None:
    """One sentence for a command that cannot reach any stack from where it runs (a
    traceback said the same in 40 lines); None for anything else (a bug: its traceback)."""
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
    )

    if isinstance(exc, NoRegionError):
        return f"no AWS region is set and no local stack is running here or in a folder above: {_NO_STACK}"
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return f"no AWS credentials are set and no local stack is running here or in a folder above: {_NO_STACK}"
    if isinstance(exc, EndpointConnectionError):
        return (
            f"cannot reach {exc.kwargs.get('endpoint_url', 'the AWS endpoint')}: is the local "
            "stack (`make run`) still running? (a stale .govbus-dev.json names one that stopped)"
        )
    if isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in (
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "ExpiredToken",
        "ExpiredTokenException",
    ):
        return f"AWS refused the credentials ({exc.response['Error']['Code']}): renew them"
    return None
