"""`govbus dev` (what `make run` runs), as a user starts it: a process, a port, curl."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import requests

from tests.conftest import ROOT, wait_for


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_govbus_dev_serves_health_and_stops_cleanly_on_sigterm(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}
    started = time.monotonic()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "govbus_dev.cli",
            "dev",
            "--port",
            str(port),
            "--no-schedules",
            "--state-file",
            str(tmp_path / "state.json"),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:

        def healthy():
            try:
                # the first request pays the health function's cold start (a new
                # process), which on two busy cores can take seconds
                return requests.get(f"http://127.0.0.1:{port}/health", timeout=(2, 20))
            except (requests.ConnectionError, requests.Timeout):
                return None

        answer = wait_for(healthy, timeout=60, what="govbus dev to answer /health")
        assert (tmp_path / "state.json").exists()
        state = json.loads((tmp_path / "state.json").read_text())
        assert {"ca", "ems", "sms"} <= set(state["simulators"])
        assert requests.post(f"{state['simulators']['sms']}/_sim/messages", timeout=5).json() == {
            "messages": []
        }
        ready_after = time.monotonic() - started
        assert answer.status_code == 200
        assert answer.json()["status"] in ("up", "degraded")
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, output
    # the table of what runs where
    assert "API gateway" in output and "GET /health" in output and "SQS poller" in output
    assert "demo data" in output and "36 service items" in output
    assert re.search(r"simulator\s+sms\s+http://127\.0\.0\.1:\d+", output), "the SMS simulator row"
    assert "stopping" in output
    assert not (tmp_path / "state.json").exists()
    # nothing left behind: nobody listens on the port any more (as a restart would bind it)
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen()
    print(f"ready after {ready_after:.1f}s")
