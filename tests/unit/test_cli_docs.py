"""Every `govbus` command the README and docs/operations.md show parses exactly as shown:
the command exists and takes the arguments and flags written there (a renamed flag or
a dropped command fails here, before a reader types it)."""

from __future__ import annotations

import re
import shlex

import pytest
import typer

from govbus_dev.cli import app
from tests.conftest import ROOT


def shown_in_operations() -> list[str]:
    text = (ROOT / "docs/operations.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", text, re.S)
    return [
        line.strip()
        for block in blocks
        for line in block.splitlines()
        if line.strip().startswith("govbus ")
    ]


def shown_in_readme() -> list[str]:
    text = (ROOT / "README.md").read_text()
    # the table of commands: `govbus ...` in the first cell; [optional] parts included
    return [
        cell.replace("[", "").replace("]", "")
        for cell in re.findall(r"^\| `(govbus [^`]+)` \|", text, re.M)
    ]


def parse(line: str) -> None:
    """Parse ``line`` as the CLI would, down to the command, without running it."""
    words = shlex.split(line, comments=True)[1:]
    command = typer.main.get_command(app)
    ctx = command.make_context("govbus", list(words))
    while hasattr(command, "get_command") and ctx._protected_args + ctx.args:
        name, *rest = ctx._protected_args + ctx.args
        sub = command.get_command(ctx, name)
        assert sub is not None, f"no command {name!r} in {line!r}"
        command, ctx = sub, sub.make_context(name, rest, parent=ctx)


def test_the_docs_show_the_new_commands():
    shown = " ".join(shown_in_operations() + shown_in_readme())
    for command in ("events tail", "replay", "changed --since", "deploy --function"):
        assert f"govbus {command}" in shown, command


@pytest.mark.parametrize("line", shown_in_operations() + shown_in_readme())
def test_every_command_the_docs_show_parses_as_written(line):
    parse(line)


def test_a_misspelt_flag_is_refused():
    with pytest.raises(Exception, match="--sinse"):
        parse("govbus changed --sinse HEAD~1")
