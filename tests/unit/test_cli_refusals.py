"""The CLI refuses what cannot be meant, before touching any stack: one line on stderr
that says what is wrong (and what would be right), exit code 2."""

from __future__ import annotations

import json
import re

from govbus_dev.cli import main as govbus
from govbus_dev.cli.ops import DEPARTMENT_SCOPES
from tests.conftest import ROOT

AGENCY = "11350100MB00000012"


def test_clients_create_refuses_an_unknown_scope_naming_the_valid_ones(
    capsys, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # no running stack here: a refusal must come first
    code = govbus(
        [
            "clients",
            "create",
            "--agency",
            AGENCY,
            "--scope",
            "subjects:read",
            "--scope",
            "subject:read",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "unknown --scope subject:read" in lines[0]
    assert all(scope in lines[0] for scope in DEPARTMENT_SCOPES)
    assert "valid: " in lines[0] and "subjects:read" in lines[0].split("valid: ")[1]


def test_department_scopes_are_the_routes_scopes_and_the_documented_ones():
    document = json.loads((ROOT / "docs" / "openapi.json").read_text(encoding="utf-8"))
    from_routes = {
        scope
        for operations in document["paths"].values()
        for operation in operations.values()
        for requirement in operation.get("security", [])
        for scopes in requirement.values()
        for scope in scopes
    } - {"self", "ops"}
    table = (
        (ROOT / "docs" / "api.md")
        .read_text(encoding="utf-8")
        .split("Scopes granted to departments' clients")[1]
    )
    documented = set(re.findall(r"^\| `([a-z]+:[a-z]+)` \|", table, flags=re.M))
    assert set(DEPARTMENT_SCOPES) == from_routes == documented


def test_replay_refuses_an_inverted_time_range(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = govbus(
        [
            "replay",
            "--consumer",
            "dispatch",
            "--since",
            "2026-11-27T10:00",
            "--until",
            "2026-11-27T09:00",
        ]
    )
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert "--since 2026-11-27T10:00 is not before --until 2026-11-27T09:00" in lines[0]


def test_clients_create_refuses_an_ops_client_with_a_departments_scope(
    capsys, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    code = govbus(["clients", "create", "--role", "ops", "--scope", "subjects:read"])
    err = capsys.readouterr().err
    assert code == 2
    assert "an ops client holds the ops scope only, not subjects:read" in err


def test_clients_create_needs_an_agency_for_a_department_client(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert govbus(["clients", "create", "--scope", "subjects:read"]) == 2
    assert "needs --agency CODE" in capsys.readouterr().err


def test_a_command_run_where_no_stack_is_reachable_says_so_in_one_line(tmp_path):
    """Seen: `govbus dlq list` and `govbus audit verify` outside the project's folder
    printed a 40-line traceback ending in NoRegionError (then NoCredentialsError)."""
    import subprocess
    import sys

    bare = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}  # no region, no credentials
    for argv, env in (
        (["dlq", "list"], bare),
        (["audit", "verify"], {**bare, "AWS_DEFAULT_REGION": "us-east-1"}),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "govbus_dev.cli", *argv],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2, done.stderr[-2000:]
        lines = done.stderr.strip().splitlines()
        assert "Traceback" not in done.stderr and len(lines) == 1, done.stderr[-2000:]
        assert "make run" in lines[0] and "AWS_DEFAULT_REGION" in lines[0]
        wanted = "region" if "AWS_DEFAULT_REGION" not in env else "credentials"
        assert f"no AWS {wanted} is set" in lines[0] or f"no AWS {wanted} are set" in lines[0]


def test_adapters_health_with_no_stack_here_is_one_line(tmp_path):
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "govbus_dev.cli", "adapters", "--health"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    (line,) = done.stderr.strip().splitlines()
    assert "no running local stack here" in line and "--api" in line


def test_a_refused_connection_is_not_reported_as_a_timeout():
    """urllib3 makes NewConnectionError a ConnectTimeoutError; a department debugging its
    endpoint was told "no answer within 10 s" for a port nothing listens on."""
    import socket

    from govbus import settings
    from govbus.outbound import send

    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with settings.override(subscriptions_allow_loopback="true"):
        tried = send(f"http://127.0.0.1:{port}/hook", b"{}", {}, timeout=10)
    assert tried.error is not None and tried.error.startswith("could not connect"), tried.error


def test_a_command_run_in_process_gives_the_root_logger_back(capsys, tmp_path, monkeypatch):
    # CI saw "--- Logging error ---" in a later command's stderr: a command left the
    # root logger at INFO with a handler on its own (then closed) stderr, and the test
    # session's local-stack threads went on logging into it
    import logging

    monkeypatch.chdir(tmp_path)
    root = logging.getLogger()
    before = (root.handlers[:], root.level)
    assert govbus(["replay", "--consumer", "dispatch"]) == 2
    capsys.readouterr()
    assert (root.handlers[:], root.level) == before
    logging.getLogger("govbus_dev.local.someone_elses_thread").info("a stack's line")
    assert "a stack's line" not in capsys.readouterr().err


def test_a_command_run_in_a_folder_below_the_project_finds_the_running_stack(tmp_path, monkeypatch):
    import os

    from govbus_dev.cli import stack as stack_module

    (tmp_path / ".govbus-dev.json").write_text(
        json.dumps({"endpoint": "http://127.0.0.1:9", "stack_name": "govbus-local"}),
        encoding="utf-8",
    )
    below = tmp_path / "functions" / "hotline"
    below.mkdir(parents=True)
    monkeypatch.chdir(below)
    monkeypatch.setattr(
        os, "environ", {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}
    )
    monkeypatch.setattr(stack_module, "LOCAL_STACK", {})
    stack_module.use_local_stack_if_running()
    assert os.environ["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9"
    assert stack_module.stack_name(None) == "govbus-local"


def test_govbus_changed_run_in_a_folder_of_the_project_reads_its_template(capsys, monkeypatch):
    monkeypatch.chdir(ROOT / "docs")
    assert govbus(["changed", "--since", "HEAD"]) == 0
    assert "no template.yaml" not in capsys.readouterr().err
