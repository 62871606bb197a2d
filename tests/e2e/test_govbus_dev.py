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


def _children(pid: int) -> set[int]:
    """Every process descended from ``pid`` (Linux /proc), workers in their own sessions too."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _start_dev(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "govbus_dev.cli",
            "dev",
            "--port",
            str(free_port()),
            "--no-schedules",
            "--state-file",
            str(tmp_path / "state.json"),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group, as `make run` in a terminal
    )


def _while_starting(proc) -> set[int]:
    """Wait until govbus dev runs function workers (loading the demo data), not yet up."""
    return wait_for(lambda: _children(proc.pid), timeout=90, what="govbus dev's first worker")


def test_sigterm_to_the_process_group_while_starting_ends_every_process_within_the_bound(
    tmp_path,
):
    """Seen: `govbus dev` ignored SIGTERM and SIGINT to its process group for over a
    minute. A stop ends the process and every worker within 10 s (graceful, then killed)."""
    proc = _start_dev(tmp_path)
    try:
        children = _while_starting(proc)
        os.killpg(proc.pid, signal.SIGTERM)
        signalled = time.monotonic()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            raise AssertionError("govbus dev still running 15 s after SIGTERM") from None
        stopped_after = time.monotonic() - signalled
        left = wait_for(
            lambda: not {c for c in children | _children(proc.pid) if _alive(c)},
            timeout=2,
            what="every worker gone",
        )
        assert left
        assert stopped_after < 15
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_a_second_signal_stops_govbus_dev_at_once(tmp_path):
    proc = _start_dev(tmp_path)
    try:
        children = _while_starting(proc)
        os.killpg(proc.pid, signal.SIGINT)
        time.sleep(0.5)
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            raise AssertionError("govbus dev still running 3 s after a second SIGINT") from None
        assert proc.returncode != 0, "a forced stop says so in its exit status"
        assert wait_for(
            lambda: not {c for c in children if _alive(c)}, timeout=2, what="every worker gone"
        )
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
