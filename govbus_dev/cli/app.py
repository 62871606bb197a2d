"""The ``govbus`` typer application and its command groups (commands register on them)."""

from __future__ import annotations

import logging

import typer

from govbus.observability import (
    SERVICE,
    CurrentStreamHandler,
    MaskingFilter,
    MaskingPlainFormatter,
    StdoutHandler,
)
from govbus_dev.cli.output import err

app = typer.Typer(
    name="govbus",
    help="govbus: the command line of the platform (local stack, operations, deploys).",
    no_args_is_help=True,
    # plain help text: "[QUEUE]" in a help line is text, not markup
    rich_markup_mode=None,
    # a traceback must not print local variables: a client secret may be one of them
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
adapter_app = typer.Typer(help="work on adapters", no_args_is_help=True)
audit_app = typer.Typer(help="the audit chain", no_args_is_help=True)
clients_app = typer.Typer(help="departments' API clients", no_args_is_help=True)
webhooks_app = typer.Typer(help="partners' push secrets", no_args_is_help=True)
dlq_app = typer.Typer(help="dead-letter queues: list and redrive", no_args_is_help=True)
events_app = typer.Typer(help="events on the bus", no_args_is_help=True)
province_app = typer.Typer(help="the provincial online hall", no_args_is_help=True)
open_data_app = typer.Typer(help="open data (开放数据): the daily datasets", no_args_is_help=True)

app.add_typer(adapter_app, name="adapter")
app.add_typer(audit_app, name="audit")
app.add_typer(clients_app, name="clients")
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(dlq_app, name="dlq")
app.add_typer(events_app, name="events")
app.add_typer(province_app, name="province")
app.add_typer(open_data_app, name="open-data")


# the runtime's JSON loggers (Powertools' ``govbus``, the adapters'): on stdout in a
# Lambda; a command's stdout is its output (a table, a JSON document), so not there
_RUNTIME_LOGGERS = (SERVICE, "adapters")
# what _logs_to_stderr changed, for restore_logging (in-process callers: the tests)
_SAVED: list[tuple[logging.Logger, list[logging.Handler], int, bool]] = []


def _save(logger: logging.Logger) -> None:
    _SAVED.append((logger, logger.handlers[:], logger.level, logger.propagate))


def _logs_to_stderr(verbose: bool) -> None:
    """The runtime's log lines to stderr, once each, and only warnings unless ``--verbose``.

    On a terminal a person reads them: as text, through the root logger's handler (its
    JSON handler is left out). Off a terminal a script may parse them: as the runtime's
    JSON, and not also as text (they no longer propagate to the root's handler).
    """
    terminal = err().is_terminal  # as rich decides it (FORCE_COLOR, TTY_COMPATIBLE)
    for name in _RUNTIME_LOGGERS:
        runtime = logging.getLogger(name)
        _save(runtime)
        moved: list[logging.Handler] = []
        for handler in runtime.handlers:
            if isinstance(handler, StdoutHandler):
                if terminal:
                    continue  # the root's text handler says it
                replacement = CurrentStreamHandler("stderr")
                replacement.setFormatter(handler.formatter)
                for kept in handler.filters:
                    replacement.addFilter(kept)
                handler = replacement
            moved.append(handler)
        runtime.handlers[:] = moved
        if moved:
            runtime.propagate = False  # its own handler says it: not a second time as text
        if not verbose:
            runtime.setLevel(max(runtime.getEffectiveLevel(), logging.WARNING))


def restore_logging() -> None:
    """Give the runtime's loggers back what they had before the command."""
    while _SAVED:
        runtime, handlers, level, propagate = _SAVED.pop()
        runtime.handlers[:] = handlers
        runtime.setLevel(level)
        runtime.propagate = propagate


def _setup_logging(verbose: bool) -> None:
    # sys.stderr as it is at each write: an in-process caller (a test) may swap it
    handler = CurrentStreamHandler("stderr")
    handler.addFilter(MaskingFilter())
    # masked after formatting, so a traceback cannot carry an identifier out either
    handler.setFormatter(MaskingPlainFormatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    # given back by restore_logging: an in-process caller's own threads (a test's local
    # stack) must not go on logging at INFO into a command's stream once it has returned
    _save(root)
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("govbus_dev.access", "botocore", "boto3", "urllib3", "werkzeug"):
        quiet = logging.getLogger(noisy)
        _save(quiet)
        quiet.setLevel(logging.WARNING)
    _logs_to_stderr(verbose)


@app.callback()
def _options(
    verbose: bool = typer.Option(False, "-v", "--verbose", help="debug logging on stderr"),
) -> None:
    _setup_logging(verbose)
