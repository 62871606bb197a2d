"""The local stack runs each function as Lambda does: execution environments of its own,
concurrent, killed at their timeout, lost alone when a handler ends its process."""

import base64
import json
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from govbus_dev.local.stack import LocalStack
from tests.conftest import wait_for

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "runtime_stack"


@pytest.fixture(scope="module")
def runtime_stack(local_stack_session):
    stack = LocalStack(
        FIXTURE,
        port=0,
        endpoint=local_stack_session.endpoint,
        stack_name="runtime",
        simulators=False,
        pollers=False,
        schedules=False,
    )
    stack.start()
    yield stack
    stack.stop()


def get(stack, path, **params):
    return requests.get(f"{stack.url}{path}", params=params, timeout=30)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_two_slow_requests_to_one_function_overlap_in_time(runtime_stack):
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(lambda _: get(runtime_stack, "/slow", seconds="1"), range(2)))
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    first, second = (a.json() for a in answers)
    assert first["pid"] != second["pid"], "each request had an execution environment of its own"
    assert first["began"] < second["ended"] and second["began"] < first["ended"], (
        "the two invocations ran at the same time"
    )
    # each environment got exactly the template's variables, and the Lambda context
    assert first["greeting"] == second["greeting"] == "hello from runtime"
    assert 0 < first["remaining_ms"] <= 2000


def test_reserved_concurrency_of_one_serves_requests_one_after_the_other(runtime_stack):
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(lambda _: get(runtime_stack, "/serial", seconds="0.5"), range(2)))
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    first, second = sorted((a.json() for a in answers), key=lambda b: b["began"])
    assert first["pid"] == second["pid"], "one environment, reused warm"
    assert second["began"] >= first["ended"]


def test_a_handler_past_its_timeout_is_killed_and_answered_as_lambda_does(
    runtime_stack, tmp_path, caplog
):
    pid_file = tmp_path / "pid"
    with caplog.at_level(logging.INFO, logger="govbus_dev.lambda"):
        answer = get(runtime_stack, "/slow", seconds="60", pid_file=str(pid_file))
    # API Gateway's answer to a failed HTTP API integration
    assert answer.status_code == 500
    assert answer.json() == {"message": "Internal Server Error"}
    pid = int(pid_file.read_text())
    wait_for(lambda: not alive(pid), what="the timed-out environment's process to be gone")
    assert "Task timed out after 2.00 seconds" in caplog.text
    assert "Status: timeout" in caplog.text
    # the next request gets a working environment
    after = get(runtime_stack, "/slow", seconds="0")
    assert after.status_code == 200
    assert after.json()["pid"] != pid


@pytest.mark.parametrize("how", ["sys", "os"])
def test_a_handler_ending_its_process_costs_that_environment_only(runtime_stack, how):
    function = runtime_stack.functions["SlowFunction"]
    function.recycle()
    # two warm environments
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(lambda _: get(runtime_stack, "/slow", seconds="1"), range(2)))
    warm = [a.json()["pid"] for a in answers]
    assert len(set(warm)) == 2 and function.environments == 2
    answer = get(runtime_stack, "/exit", how=how)
    assert answer.status_code == 500
    assert answer.json() == {"message": "Internal Server Error"}

    def one_survivor():
        living = [pid for pid in warm if alive(pid)]
        return living if len(living) == 1 else None

    survivors = wait_for(one_survivor, what="exactly one of the two environments to be gone")
    assert function.environments == 1
    # the survivor serves the next request, warm
    assert get(runtime_stack, "/slow", seconds="0").json()["pid"] == survivors[0]


def test_each_invocation_logs_a_report_line_with_init_duration_on_the_cold_start_only(
    runtime_stack, caplog
):
    function = runtime_stack.functions["SlowFunction"]
    function.recycle()
    with caplog.at_level(logging.INFO, logger="govbus_dev.lambda"):
        assert get(runtime_stack, "/slow", seconds="0").status_code == 200
        assert get(runtime_stack, "/slow", seconds="0").status_code == 200
    reports = [r.getMessage() for r in caplog.records if "REPORT RequestId:" in r.getMessage()]
    assert len(reports) == 2, reports
    cold, warm = reports
    for line in reports:
        assert line.startswith("SlowFunction REPORT RequestId: ")
        assert "Duration: " in line and "Billed Duration: " in line
        assert "Memory Size: 128 MB" in line and "Max Memory Used: " in line
    assert "Init Duration: " in cold
    assert "Init Duration" not in warm


def test_a_burst_of_200_simultaneous_requests_gets_no_connection_reset(runtime_stack):
    """With a short listen backlog the kernel drops (or resets) connections of a burst;
    a dropped SYN is sent again after 1, 3, 7, 15... seconds, so a connection that is
    not queued at once misses the generous connect timeout below."""
    barrier = threading.Barrier(200)

    def one(_):
        barrier.wait()
        try:
            return requests.get(f"{runtime_stack.url}/slow", timeout=(10, 60)).status_code
        except requests.ConnectionError as exc:
            return repr(exc)

    with ThreadPoolExecutor(max_workers=200) as pool:
        statuses = list(pool.map(one, range(200)))
    assert len(statuses) == 200
    assert [s for s in statuses if s != 200] == []


def test_a_reset_leaves_no_cached_secret_in_a_warm_environment(stack, aws, acme):
    from tests.integration.conftest import post_webhook

    # the webhook function's warm environment now holds the push secret (a 5-minute cache)
    assert post_webhook(stack.url, b'{"note": "before"}').status_code == 202
    warm = stack.functions["WebhooksFunction"].environments
    stack.reset()
    rotated = "whsec_" + base64.b64encode(b"another secret, also 32 bytes!!").decode()
    aws["secretsmanager"].create_secret(
        Name="govbus/dev/webhooks/acme", SecretString=json.dumps({"secrets": [rotated]})
    )
    assert post_webhook(stack.url, b'{"note": "after"}', secret=rotated).status_code == 202
    assert stack.functions["WebhooksFunction"].environments == warm, "served warm, not restarted"
