"""Each function imports only what it uses: a cold start pays for nothing it never runs.

Every function's app module is imported in a fresh interpreter, with the variables the
template gives it (resource names replaced by placeholders) and tracing off, as the
local stack runs it; then ``sys.modules`` shows what the init phase loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from govbus_dev.local.template import function_environments, function_specs, load_template
from tests.conftest import ROOT

# heavy modules a function must not load at init unless it uses them there
HEAVY = [
    "zeep",
    "lxml",
    "jwt",
    "cryptography",
    "aws_xray_sdk",
    "aws_lambda_powertools.utilities.idempotency",
    "aws_lambda_powertools.utilities.batch",
    "aws_lambda_powertools.utilities.parser",
    "requests",
    "yaml",
]


def _functions() -> dict[str, dict[str, str]]:
    return function_environments(ROOT / "template.yaml")


FUNCTIONS = _functions()
PROBE = (
    f"import json, sys; import app; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
)


# what loading the adapters (the plugin manager every hook call builds first) may not
# bring in: an adapter imports its heavy libraries where it uses them
ADAPTER_HEAVY = ["zeep", "lxml", "cryptography", "requests", "yaml"]
PLUGINS_PROBE = (
    "import json, sys; import app; from govbus.plugins import plugin_manager; "
    "pm = plugin_manager(); "
    f"print(json.dumps([m for m in {ADAPTER_HEAVY!r} if m in sys.modules]))"
)
# the hook specifications name every family's models only for type checkers
CONTRACT_MODULES = sorted(
    f"contracts.{p.stem}"
    for p in (ROOT / "contracts").glob("*.py")
    if p.stem not in {"__init__", "hookspecs", "adapters", "errors", "masking", "constrained"}
)
HOOKSPECS_PROBE = (
    "import json, sys; import contracts.hookspecs; "
    f"print(json.dumps([m for m in {CONTRACT_MODULES!r} if m in sys.modules]))"
)


def _loaded_at_init(
    name: str, probe: str = PROBE, extra_env: dict[str, str] | None = None
) -> set[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # nothing may be called at init anyway
        "POWERTOOLS_TRACE_DISABLED": "true",
        **FUNCTIONS[name],
        **(extra_env or {}),
    }
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT / "functions" / name,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_the_template_has_every_function():
    assert len(FUNCTIONS) >= 20 and "webhooks" in FUNCTIONS


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_a_function_loads_at_init_only_what_it_uses(name):
    loaded = _loaded_at_init(name)
    allowed = set()
    if name in {"dispatcher", "licence_requests"}:
        allowed.add("aws_lambda_powertools.utilities.idempotency")
    assert loaded - allowed == set(), (
        f"{name} imports {sorted(loaded - allowed)} at init: import it where it is used"
    )


# no GOVBUS_ADAPTERS loads every installed adapter; an empty one loads none
ADAPTER_FUNCTIONS = sorted(n for n, env in FUNCTIONS.items() if env.get("GOVBUS_ADAPTERS") != "")


def test_some_functions_load_adapters():
    assert {"applications", "webhooks", "dispatcher"} <= set(ADAPTER_FUNCTIONS)


@pytest.mark.parametrize("name", ADAPTER_FUNCTIONS)
def test_loading_a_functions_adapters_loads_no_heavy_library(name):
    # the CA adapter parses certificates with cryptography only when one arrives; the
    # province adapter builds its zeep client on its first call
    loaded = _loaded_at_init(name, PLUGINS_PROBE)
    assert loaded == set(), f"{name}'s adapters import {sorted(loaded)} when they load"


def test_the_hook_specifications_build_no_contract_model():
    done = subprocess.run(
        [sys.executable, "-c", HOOKSPECS_PROBE],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


# Powertools' batch utility builds the parser models of every event source when it is
# imported (~58 ms); govbus.batch does an SQS consumer's part of it
BATCH_HEAVY = ["aws_lambda_powertools.utilities.batch", "aws_lambda_powertools.utilities.parser"]
SQS_CONSUMERS = sorted(
    spec.code_dir.name
    for spec in function_specs(load_template(ROOT / "template.yaml"), ROOT)
    if spec.events_of("SQS") and str(spec.code_dir).startswith(str(ROOT / "functions"))
)
# one batch of one bus event no consumer can finish here (every AWS call is refused at
# once): the record's whole path runs, its failure path included
BATCH_PROBE = (
    "import json, sys; import app\n"
    "from contracts.events import Event\n"
    "event = Event.create('platform.heartbeat', {'emitted_by': 'probe'}, source='govbus.probe')\n"
    "body = json.dumps({'detail-type': event.type, 'source': event.source,"
    " 'detail': json.loads(event.model_dump_json())})\n"
    "record = {'messageId': 'm-1', 'receiptHandle': 'r', 'body': body,"
    " 'attributes': {'ApproximateReceiveCount': '1'}, 'messageAttributes': {},"
    " 'eventSource': 'aws:sqs'}\n"
    "class Context:\n"
    "    function_name = 'probe'; memory_limit_in_mb = 128; aws_request_id = 'req-1'\n"
    "    invoked_function_arn = 'arn:aws:lambda:us-east-1:123456789012:function:probe'\n"
    "    def get_remaining_time_in_millis(self): return 10_000\n"
    "try:\n"
    "    app.lambda_handler({'Records': [record]}, Context())\n"
    "except Exception:\n"
    "    pass\n"
    f"print(json.dumps([m for m in {BATCH_HEAVY!r} if m in sys.modules]))"
)


def test_the_sqs_consumers_are_known():
    assert {"eventlog", "dispatcher", "case_events", "payments"} <= set(SQS_CONSUMERS)


@pytest.mark.parametrize("name", SQS_CONSUMERS)
def test_an_sqs_consumer_handles_a_batch_without_powertools_batch_or_parser(name):
    loaded = _loaded_at_init(name, BATCH_PROBE, extra_env={"AWS_MAX_ATTEMPTS": "1"})
    assert loaded == set(), f"{name} loads {sorted(loaded)} to handle a batch"
