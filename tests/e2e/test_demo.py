"""`govbus demo` run as a newcomer would: `govbus dev` (what `make run` starts) in one
process, `govbus demo` in another, from the folder holding `.govbus-dev.json`."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from tests.e2e.test_govbus_dev import free_port
from tests.e2e.test_operators_tools import GOVBUS, NO_AWS, DevStack

STEPS = [
    "certificate login",
    "apply, reusing a licence",
    "upload the missing material",
    "pre-review",
    "department client logs in",
    "accepts and approves",
    "e-licence issued",
    "EMS delivers, the case closes",
    "complaint answered",
    "a fee paid by citizen card",
    "a province-level case decided at the hall",
]


@pytest.fixture(scope="module")
def dev(tmp_path_factory):
    stack = DevStack(tmp_path_factory.mktemp("demo"), free_port())
    try:
        stack.watch_until_up()
        yield stack
    finally:
        stack.stop()


def demo(folder, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [GOVBUS, "demo", *args],
        cwd=folder,
        env=NO_AWS,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def demo_clients(folder) -> dict[str, str]:
    """Every client a demo run created on the stack noted in ``folder``: id -> status."""
    import boto3

    state = json.loads((folder / ".govbus-dev.json").read_text())
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=state["endpoint"],
        region_name=state["region"],
        **{k.lower(): v for k, v in state["credentials"].items()},
    )
    pages = dynamodb.get_paginator("scan").paginate(TableName=f"{state['stack_name']}-clients")
    return {
        item["client_id"]["S"]: item["status"]["S"]
        for page in pages
        for item in page["Items"]
        if item["name"]["S"] == "govbus demo"
    }


def test_make_run_tells_how_to_run_the_demo(dev):
    assert any("make demo" in line and "govbus demo" in line for line in dev.lines)


def test_the_demo_walks_the_whole_journey_and_prints_the_timeline(dev):
    answer = demo(dev.folder)
    assert answer.returncode == 0, answer.stdout + answer.stderr
    out = answer.stdout
    for step in STEPS:
        assert re.search(rf"^  ok   \d+ [^\n]*{re.escape(step)}[^\n]* \d+ ms ", out, re.M), (
            f"step {step!r} missing:\n{out}"
        )
    assert "reused 营业执照" in out
    timeline = out.split("timeline of the case:")[1]
    actions = re.findall(r"^  \S+\s+(\w+)\s", timeline, re.M)
    assert actions == [
        "create",
        "submit",
        "pre_review_pass",
        "accept",
        "approve",
        "licence_issued",
        "delivered",
        "close",
    ]
    # the citizen's identifier is masked even in a demo
    assert "350102199003071234" not in out
    assert f"all {len(STEPS)} steps passed" in out
    # the department clients it created are revoked: no live credentials left behind
    created = demo_clients(dev.folder)
    assert len(created) >= 2 and set(created.values()) == {"revoked"}, created
    assert all(client_id in out for client_id in created)


def test_a_step_failing_after_the_clients_were_made_still_revokes_them(dev, tmp_path):
    state = json.loads((dev.folder / ".govbus-dev.json").read_text())
    state["simulators"]["ems"] = f"http://127.0.0.1:{free_port()}"  # EMS is unreachable
    (tmp_path / ".govbus-dev.json").write_text(json.dumps(state))
    before = demo_clients(dev.folder)
    answer = demo(tmp_path)
    assert answer.returncode == 1, answer.stdout + answer.stderr
    assert "FAIL 8 EMS delivers" in answer.stdout
    made = {k: v for k, v in demo_clients(dev.folder).items() if k not in before}
    assert made and set(made.values()) == {"revoked"}, made


def test_a_failing_step_is_named_and_the_exit_status_is_not_zero(dev, tmp_path):
    state = json.loads((dev.folder / ".govbus-dev.json").read_text())
    state["gateway"] = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    (tmp_path / ".govbus-dev.json").write_text(json.dumps(state))
    answer = demo(tmp_path)
    assert answer.returncode == 1
    assert "FAIL 1 certificate login" in answer.stdout
    assert "step '1 certificate login (CA)' failed" in answer.stdout


def test_without_a_running_stack_the_demo_says_to_start_one(tmp_path):
    answer = demo(tmp_path)
    assert answer.returncode == 2 and "make run" in answer.stderr


def test_refused_ems_pushes_are_named_as_the_likely_cause(dev):
    """Seen: after a rotation the simulator's pushes got 401 and the demo only "gave up
    waiting for the case to close" after 60 s. It now says the pushes were refused and
    where to look."""
    import boto3
    import requests

    state = json.loads((dev.folder / ".govbus-dev.json").read_text())
    ems = state["simulators"]["ems"]
    sm = boto3.client(
        "secretsmanager",
        endpoint_url=state["endpoint"],
        region_name=state["region"],
        **{k.lower(): v for k, v in state["credentials"].items()},
    )
    stored = json.loads(sm.get_secret_value(SecretId="govbus/dev/webhooks/ems")["SecretString"])
    in_use = (stored.get("secrets") or [stored.get("secret")])[0]
    wrong = requests.post(f"{ems}/_sim/push-secret", json={"secret": "w" * 32}, timeout=10)
    assert wrong.status_code == 200, wrong.text
    try:
        answer = demo(dev.folder)
    finally:
        requests.post(f"{ems}/_sim/push-secret", json={"secret": in_use}, timeout=10)
    assert answer.returncode == 1, answer.stdout + answer.stderr
    assert "FAIL 8 EMS delivers" in answer.stdout, answer.stdout
    assert "pushes were refused by the bus (HTTP 401)" in answer.stdout, answer.stdout
    assert "govbus dlq list" in answer.stdout
