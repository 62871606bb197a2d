"""Which stack a command talks to: a running ``govbus dev`` (its state file) or AWS."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from govbus_dev.cli.output import warn

STATE_FILE = ".govbus-dev.json"

# the options every command that talks to a stack takes, declared once
StackOption = Annotated[
    str | None, typer.Option("--stack", help="stack name (default: the running local stack)")
]
StageOption = Annotated[
    str,
    typer.Option("--stage", help="the stack's Stage parameter (its secrets' names, its calendar)"),
]

# what `use_local_stack_if_running` found: the running `govbus dev`'s state, if any
LOCAL_STACK: dict = {}


def find_upward(name: str, start: str | Path = ".") -> Path | None:
    """``start/name``, else the nearest parent folder's ``name``, as git finds its
    repository: a command run in ``functions/hotline`` finds the project's files."""
    here = Path(start).resolve()
    for folder in (here, *here.parents):
        if (folder / name).exists():
            return folder / name
    return None


def use_local_stack_if_running(root: str = ".") -> None:
    """Point at a running `govbus dev` when no endpoint is set (ops on a laptop): its
    state file in ``root`` or the nearest folder above it that has one."""
    state = find_upward(STATE_FILE, root)
    if "AWS_ENDPOINT_URL" not in os.environ and state is not None:
        info = json.loads(state.read_text())
        LOCAL_STACK.clear()
        LOCAL_STACK.update(info)
        os.environ["AWS_ENDPOINT_URL"] = info["endpoint"]
        os.environ.setdefault("AWS_DEFAULT_REGION", info.get("region", "us-east-1"))
        for key, value in info.get("credentials", {}).items():
            os.environ.setdefault(key, value)
        # commands that call a partner (province align, reconcile) reach its simulator,
        # as the stack's own functions do
        for name, url in info.get("simulators", {}).items():
            os.environ.setdefault(f"GOVBUS_{name.upper()}_ENDPOINT", url)
        warn(f"(using the local stack at {info['endpoint']})")


def stack_name(stack: str | None) -> str:
    """--stack; else the running local stack's name; else $GOVBUS_STACK or govbus-dev.

    Call after :func:`use_local_stack_if_running` (which sets AWS_ENDPOINT_URL, so the
    environment alone can no longer tell that the local stack is the one meant).
    """
    if stack:
        return stack
    if LOCAL_STACK:
        return LOCAL_STACK.get("stack_name", "govbus-local")
    return os.environ.get("GOVBUS_STACK", "govbus-dev")


def require_table(table: str) -> bool:
    """Whether ``table`` exists; prints why not (wrong --stack, stack not running)."""
    from botocore.exceptions import ClientError, EndpointConnectionError

    from govbus.aws import client

    try:
        client("dynamodb").describe_table(TableName=table)
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        reason = "no such table (is --stack right? is the stack deployed or running?)"
    except EndpointConnectionError as exc:
        reason = f"cannot reach the endpoint: {exc}"
    warn(f"govbus: {table}: {reason}")
    return False


def template_file(given: str | None = None) -> Path | None:
    """--template; else ./template.yaml; else the project's own (an editable install)."""
    if given:
        return Path(given)
    for candidate in (Path("template.yaml"), Path(__file__).resolve().parents[2] / "template.yaml"):
        if candidate.is_file():
            return candidate
    return None


def stack_dead_letter_queues(stack: str, template: Path) -> list[str]:
    """The names of ``stack``'s dead-letter queues, exactly as the ops API lists them.

    The ops function's ``DEAD_LETTER_QUEUES`` (which tools/alarms.py writes into the
    template from every dead-letter target in it) names each queue by its logical id;
    its ``QueueName`` is resolved with the stack's name, as CloudFormation would.
    """
    from govbus_dev.local.template import Resolver, load_template, parameter_defaults

    document = load_template(template)
    resources = document.get("Resources") or {}
    listed = next(
        (
            variables["DEAD_LETTER_QUEUES"]
            for resource in resources.values()
            if "DEAD_LETTER_QUEUES"
            in (
                variables := ((resource.get("Properties") or {}).get("Environment") or {}).get(
                    "Variables"
                )
                or {}
            )
        ),
        None,
    )
    if not isinstance(listed, dict) or "Fn::Join" not in listed:
        raise LookupError(f"{template}: no DEAD_LETTER_QUEUES list (run tools/alarms.py)")
    resolver = Resolver(
        stack_name=stack,
        region=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        parameters=parameter_defaults(document),
    )
    names = []
    for reference in listed["Fn::Join"][1]:
        logical = reference["Fn::GetAtt"][0]
        props = resources[logical].get("Properties") or {}
        names.append(
            # without a QueueName, the name the local stack gives it
            str(resolver.resolve(props["QueueName"]))
            if "QueueName" in props
            else f"{stack}-{logical}"
        )
    return names
