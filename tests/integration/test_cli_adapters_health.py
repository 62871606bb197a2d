"""`govbus adapters --health` puts each partner's shared circuit beside its ping.

A partner that answers its ping is "up", and yet the bus holds its calls while the
circuit is open: the operator sees both, and since when the circuit is in that state.
"""

from __future__ import annotations

import datetime as dt
import json

from govbus.circuit import BreakerPolicy, CircuitBreaker
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
