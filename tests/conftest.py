"""Shared fixtures. One moto server per test session (per xdist worker); ``stack``
restores the provisioned emulator before each test (tests/integration/conftest.py says
how tests are kept apart).

Servers bind port 0, so `make test` runs while `make run` is up, and twice at once.
The terminal summary ends with the suite's wall time and its ten slowest set-ups, so a
slow fixture is seen when it lands.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")

# Never let a test reach a real account.
for _key, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}.items():
    os.environ[_key] = _value
os.environ.pop("AWS_PROFILE", None)
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--adapter",
        action="append",
        default=[],
        help="run the conformance suite against this adapter only (repeatable)",
    )


_SLOWEST_SETUPS = 10
_setups: list[tuple[float, str]] = []
_started = time.monotonic()


def pytest_sessionstart(session: pytest.Session) -> None:
    global _started
    _started = time.monotonic()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # on the controller too: xdist forwards each worker's reports there
    if report.when == "setup":
        _setups.append((report.duration, report.nodeid))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if hasattr(terminalreporter.config, "workerinput"):
        return  # an xdist worker: the controller prints the summary
    setups = sorted(_setups, reverse=True)
    terminalreporter.write_sep("=", f"slowest {min(_SLOWEST_SETUPS, len(setups))} set-ups")
    for duration, nodeid in setups[:_SLOWEST_SETUPS]:
        terminalreporter.write_line(f"{duration:7.2f}s setup  {nodeid}")
    terminalreporter.write_line(
        f"set-ups: {sum(d for d, _ in setups):.1f}s in all over {len(setups)} tests"
    )
    wall = time.monotonic() - _started
    terminalreporter.write_sep("=", f"suite wall time {wall:.1f}s ({wall / 60:.1f} min)")


def wait_for[T](
    probe: Callable[[], T],
    *,
    timeout: float = 15.0,
    interval: float = 0.1,
    what: str = "the effect",
) -> T:
    """Poll ``probe`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last saw {last!r}")


@pytest.fixture(scope="session")
def acme_health_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the ACME test partner's workers read its health (see the ``acme`` fixture)."""
    path = tmp_path_factory.mktemp("acme") / "health"
    path.write_text("up", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def local_stack_session(acme_health_file: Path) -> Iterator[Any]:
    from govbus_dev.local.stack import LocalStack

    # a short cool-down so that circuit tests see a probe within seconds
    stack = LocalStack(
        ROOT,
        port=0,
        schedules=False,
        endpoint=None,
        parameters={
            "CircuitCoolDownSeconds": "2",
            "CaCrlCacheSeconds": "0",
            "OutboxSweepAfterSeconds": "1",
            # webhook retries within seconds, to receivers the tests run on loopback
            "DeliveryRetrySchedule": "1,1,1,1,1,1,1",
            "DeliveryTimeoutSeconds": "3",
            "SubscriptionsAllowLoopback": "true",
            # a partner that hangs costs an attempt 2 s, not 5
            "PartnerTimeoutSeconds": "2",
        },
        # the ACME test partner serves the functions without an allow-list, as an
        # installed adapter would (tests/integration/conftest.py's `acme` fixture)
        environment={
            "GOVBUS_DEV_ADAPTERS": "acme=tests.fixtures.acme_adapter",
            "GOVBUS_ACME_HEALTH_FILE": str(acme_health_file),
        },
    )
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def boto_session(local_stack_session: Any) -> Any:
    """One boto3 session for the test run (per xdist worker): it loads each service's
    model once, where a session per test loaded five of them again before every test."""
    import boto3

    return boto3.session.Session(region_name=local_stack_session.region)


@pytest.fixture
def stack(local_stack_session: Any) -> Any:
    """The running local stack, its emulator as just provisioned: the session's snapshot
    of it restored (in milliseconds; the first test provisions and takes it)."""
    local_stack_session.reset()
    return local_stack_session
