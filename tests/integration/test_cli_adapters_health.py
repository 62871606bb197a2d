"""`govbus adapters --health` puts each partner's shared circuit beside its ping.

A partner that answers its ping is "up", and yet the bus holds its calls while the
circuit is open: the operator sees both, and since when the circuit is in that state.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sysconfig
import urllib.request
from pathlib import Path

import pytest

from govbus.circuit import BreakerPolicy, CircuitBreaker
from govbus.plugins import installed_adapters
from govbus_dev.cli import main as govbus


def test_an_open_circuit_is_shown_beside_health_with_since_when(stack, capsys):
    table = stack.resolver.refs["CircuitTable"]
    breaker = CircuitBreaker(table, BreakerPolicy(failure_threshold=1, cool_down_seconds=600))
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    assert breaker.record_failure("ems", "PartnerUnavailable: 503 from EMS") == "open"
    capsys.readouterr()  # the CircuitStateChanged metric it printed

    args = ["adapters", "--health", "--api", stack.url, "--stack", stack.stack_name]
    assert govbus([*args, "--json"]) == 0
    listed = {a["name"]: a for a in json.loads(capsys.readouterr().out)}
    ems = listed["ems"]
    assert ems["circuit"] == "open"
    since = dt.datetime.fromisoformat(ems["circuit_since"])
    assert before <= since <= dt.datetime.now(dt.UTC)
    assert 590 <= ems["circuit_probe_in_s"] <= 600
    # a partner whose circuit never moved is closed, with no "since"
    assert (listed["sms"]["circuit"], listed["sms"]["circuit_since"]) == ("closed", None)

    assert govbus(args) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if " ems " in f" {line} ")
    assert f"open since {since:%Y-%m-%d %H:%M:%S} UTC, probe in " in row, row


@pytest.fixture
def installed_while_running(stack, tmp_path, monkeypatch):
    """`pip install -e` of a new adapter while the stack runs: its dist-info appears in
    the .venv every function's environment reads its entry points from."""
    assert govbus(["adapter", "new", "parking", "--dir", str(tmp_path)]) == 0
    # every function's environment started before this moment (as `govbus dev` tells them)
    monkeypatch.setitem(
        stack.overrides, "GOVBUS_STACK_STARTED_WITH", ",".join(sorted(installed_adapters()))
    )
    assert "parking" not in _health(stack)  # the health function's environment is warm
    info = Path(sysconfig.get_paths()["purelib"]) / "govbus_adapter_parking-0.1.0.dist-info"
    info.mkdir()
    try:
        (info / "METADATA").write_text(
            "Metadata-Version: 2.1\nName: govbus-adapter-parking\nVersion: 0.1.0\n"
            "Summary: govbus adapter: parking partner system\n"
        )
        (info / "entry_points.txt").write_text(
            "[govbus.adapters]\nparking = govbus_adapter_parking.plugin\n"
        )
        monkeypatch.syspath_prepend(str(tmp_path / "govbus-adapter-parking"))
        yield
    finally:
        shutil.rmtree(info)


def _health(stack) -> dict:
    with urllib.request.urlopen(f"{stack.url}/health", timeout=30) as answer:
        report = json.load(answer)
    answers = {ping["adapter"]: ping["status"] for ping in report["adapters"]}
    answers.update({idle["adapter"]: idle["detail"] for idle in report.get("not_loaded", [])})
    return answers


def test_an_adapter_installed_while_the_stack_runs_is_not_loaded_everywhere(
    stack, installed_while_running, capsys
):
    plainly = "installed, not loaded until the stack restarts"
    health = _health(stack)
    assert health["parking"] == plainly
    assert health["ems"] == "up"  # the others are pinged as before

    args = ["adapters", "--health", "--api", stack.url, "--stack", stack.stack_name]
    assert govbus([*args, "--json"]) == 0
    listed = {a["name"]: a for a in json.loads(capsys.readouterr().out)}
    assert listed["parking"]["health"] == plainly
    assert listed["ems"]["health"] == "up"
    assert govbus(args) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if " parking " in line)
    assert plainly in row and "unknown" not in row
