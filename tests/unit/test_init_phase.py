"""The init phase runs without the cyclic GC, and the first invocation turns it back on."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = sorted((ROOT / "functions").glob("*/app.py"))

PROBE = r"""
import gc, json, sys
states = {"at_start": gc.isenabled()}
from govbus import init_phase
states["after_import"] = gc.isenabled()
from govbus.observability import logger

class Context:
    function_name = "probe"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:probe"
    aws_request_id = "r-1"

calls = []

@logger.inject_lambda_context
def handler(event, context):
    calls.append(gc.isenabled())
    if event.get("fail"):
        raise RuntimeError("first call failed")
    return "ok"

try:
    handler({"fail": sys.argv[1] == "fail"}, Context())
except RuntimeError:
    pass
states["during_first_call"] = calls[0]
states["after_first_call"] = gc.isenabled()
states["frozen"] = gc.get_freeze_count()
handler({}, Context())
states["during_second_call"] = calls[1]
print(json.dumps(states))
"""


def _probe(environment: dict[str, str], first: str = "ok") -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if k != "AWS_LAMBDA_FUNCTION_NAME" and not k.startswith("PYTEST")
    }
    env.update(environment, PYTHONPATH=str(ROOT), POWERTOOLS_LOG_LEVEL="ERROR")
    done = subprocess.run(
        [sys.executable, "-c", PROBE, first],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("first", ["ok", "fail"])
def test_an_execution_environment_collects_again_after_its_first_invocation(first):
    states = _probe({"AWS_LAMBDA_FUNCTION_NAME": "govbus-dev-probe"}, first)
    assert states["at_start"] is True
    assert states["after_import"] is False, "the init phase runs without the cyclic GC"
    assert states["during_first_call"] is False, "the first call is part of the cold start"
    assert states["after_first_call"] is True, "a raising first call ends it too"
    assert states["frozen"] > 10_000, "what the init phase built is frozen, not scanned again"
    assert states["during_second_call"] is True


def test_outside_an_execution_environment_the_collector_is_never_paused():
    states = _probe({})
    assert states["after_import"] is True
    assert states["during_first_call"] is True
    assert states["frozen"] == 0


def _first_import(tree: ast.Module) -> ast.stmt | None:
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the docstring
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            continue
        return node
    return None


@pytest.mark.parametrize("path", APPS, ids=lambda p: p.parent.name)
def test_every_function_imports_the_init_phase_before_anything_else(path):
    first = _first_import(ast.parse(path.read_text()))
    assert (
        isinstance(first, ast.ImportFrom)
        and first.module == "govbus"
        and [a.name for a in first.names] == ["init_phase"]
    ), f"{path.relative_to(ROOT)}: run `python tools/init_phase_imports.py`"


def test_the_functions_were_found():
    assert len(APPS) >= 29
