"""The ``govbus`` typer application and its command groups (commands register on them)."""

from __future__ import annotations

import logging
import sys

import typer

from govbus.observability import MaskingFilter, MaskingPlainFormatter

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

app.add_typer(adapter_app, name="adapter")
app.add_typer(audit_app, name="audit")
app.add_typer(clients_app, name="clients")
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(dlq_app, name="dlq")
app.add_typer(events_app, name="events")
app.add_typer(province_app, name="province")


def _setup_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(MaskingFilter())
    # masked after formatting, so a traceback cannot carry an identifier out either
    handler.setFormatter(MaskingPlainFormatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("govbus_dev.access", "botocore", "boto3", "urllib3", "werkzeug"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@app.callback()
def _options(
    verbose: bool = typer.Option(False, "-v", "--verbose", help="debug logging on stderr"),
) -> None:
    _setup_logging(verbose)
