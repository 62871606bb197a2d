"""Each function imports only what it uses: a cold start pays for nothing it never runs.

Every function's app module is imported in a fresh interpreter, with the variables the
template gives it (resource names replaced by placeholders) and tracing off, as the
local stack runs it; then ``sys.modules`` shows what the init phase loaded.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from typing import Any

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
    # clients come from botocore's session (govbus.aws): boto3 and s3transfer are ~13 ms
    "boto3",
    "s3transfer",
]


def _functions() -> dict[str, dict[str, str]]:
    return function_environments(ROOT / "template.yaml")


FUNCTIONS = _functions()

# what loading the adapters (each one the first time a function addresses it; health
# addresses them all) may not bring in: an adapter imports its heavy libraries where it
# uses them
ADAPTER_HEAVY = ["zeep", "lxml", "cryptography", "requests", "yaml"]
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


def _probe(name: str, probe: str, extra_env: dict[str, str] | None = None) -> Any:
    """Run ``probe`` in a fresh interpreter as the function's environment; its last line."""
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
    return json.loads(done.stdout.strip().splitlines()[-1])


def _loaded_at_init(name: str, probe: str, extra_env: dict[str, str] | None = None) -> set[str]:
    return set(_probe(name, probe, extra_env))


# What the init phase imported (taken right after ``import app``), then what loading the
# function's adapters added: one fresh interpreter serves both tests of a function.
INIT_THEN_PLUGINS_PROBE = (
    "import json, sys; import app; "
    f"init = [m for m in {HEAVY!r} if m in sys.modules]; "
    "from govbus.plugins import load_all, plugin_manager; "
    "pm = plugin_manager(); load_all(pm); "
    f"print(json.dumps([init, [m for m in {ADAPTER_HEAVY!r} if m in sys.modules]]))"
)


@functools.cache
def _init_then_plugins(name: str) -> tuple[frozenset[str], frozenset[str]]:
    """(heavy modules loaded by ``import app``, heavy modules loaded by its adapters)."""
    init, adapters = _probe(name, INIT_THEN_PLUGINS_PROBE)
    return frozenset(init), frozenset(adapters)


def test_the_template_has_every_function():
    assert len(FUNCTIONS) >= 20 and "webhooks" in FUNCTIONS


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_a_function_loads_at_init_only_what_it_uses(name):
    loaded = set(_init_then_plugins(name)[0])
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
    loaded = set(_init_then_plugins(name)[1])
    assert loaded == set(), f"{name}'s adapters import {sorted(loaded)} when they load"


# Powertools' event_handler package loads every resolver it has (AppSync, Bedrock, VPC
# Lattice ...) and the event data classes: the HTTP functions route with govbus.routing
POWERTOOLS_HTTP = (
    "aws_lambda_powertools.event_handler",
    "aws_lambda_powertools.utilities.data_classes",
)
HTTP_FUNCTIONS = sorted(
    spec.code_dir.name
    for spec in function_specs(load_template(ROOT / "template.yaml"), ROOT)
    if spec.events_of("HttpApi")
)
SERVE_ONE_REQUEST = f"""
import json, sys
import app

class Context:
    function_name = "probe"
    function_version = "$LATEST"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:probe"
    aws_request_id = "probe-request"

    def get_remaining_time_in_millis(self):
        return 30000

event = {{
    "version": "2.0", "routeKey": "$default", "rawPath": "/no/such/route",
    "rawQueryString": "", "headers": {{}}, "isBase64Encoded": False,
    "requestContext": {{
        "requestId": "probe", "stage": "$default",
        "http": {{"method": "GET", "path": "/no/such/route"}},
    }},
}}
answer = app.lambda_handler(event, Context())
assert answer["statusCode"] == 404, answer
print(json.dumps([m for m in sys.modules if m.startswith({POWERTOOLS_HTTP!r})]))
"""


def test_some_functions_serve_http():
    assert {"catalog", "webhooks", "health", "payments"} <= set(HTTP_FUNCTIONS)


@pytest.mark.parametrize("name", HTTP_FUNCTIONS)
def test_an_http_function_serves_a_request_without_powertools_event_handler(name):
    loaded = _loaded_at_init(name, SERVE_ONE_REQUEST)
    assert loaded == set(), f"{name} loads {sorted(loaded)} to serve a request"


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


# health pings every adapter: a ping is an HTTP check that needs no partner client
PING_PROBE = (
    "import json, sys; import app; from govbus.health import health_report; "
    "from govbus.plugins import plugin_manager; "
    "report = health_report(plugin_manager(), 'dev'); "
    "assert len(report.adapters) >= 7, report; "
    f"print(json.dumps([m for m in {ADAPTER_HEAVY!r} if m in sys.modules]))"
)


def test_pinging_every_adapter_loads_no_heavy_library(monkeypatch):
    # every partner's address is a closed local port: each ping answers "down" at once
    endpoints = {k: "http://127.0.0.1:9/" for k in FUNCTIONS["health"] if k.endswith("_ENDPOINT")}
    assert "GOVBUS_PROVINCE_ENDPOINT" in endpoints
    monkeypatch.setitem(FUNCTIONS, "health", {**FUNCTIONS["health"], **endpoints})
    assert _loaded_at_init("health", PING_PROBE) == set()


def test_the_province_client_loads_zeep_as_the_layer_has_it_without_httpx():
    """zeep imports httpx (its async transport, ~30 ms) wherever httpx is installed; the
    layer has none, and the adapter's client hides it here too (nothing uses it). Nor
    does it load a character-set detector for requests (~5 ms): it reads bytes only, and
    requests' import warns of nothing."""
    probe = (
        "import json, sys, warnings; warnings.simplefilter('error'); "
        "import adapters.province.client; "
        "import zeep.transports as t; import requests.compat as c; "
        "print(json.dumps(['httpx' in sys.modules, t.httpx is None, "
        "'charset_normalizer' in sys.modules or 'chardet' in sys.modules, c.chardet]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [False, True, False, None]
    import charset_normalizer  # installed here (and in the layer), so the test means it
    import httpx  # installed here (a developer's tool brings it), so the test means it

    assert httpx and charset_normalizer


def test_the_province_client_loads_no_version_parser_for_httpx_it_does_not_have():
    """zeep's transports import ``packaging`` only to compare httpx's version (~2 ms of a
    cold start); with httpx hidden there is nothing to compare, and the client still
    talks to the hall with zeep's synchronous transport."""
    probe = (
        "import json, sys; import adapters.province.client as client; "
        "import zeep.transports as t; "
        "print(json.dumps(['packaging' in sys.modules, t.Version is None, "
        "type(client.wsdl_document()).__name__]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [False, True, "Document"]
    import packaging.version  # installed here, so the test means it

    assert packaging.version.Version("1.0")


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
