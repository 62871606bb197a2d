"""Run in a fresh process: stream one synthetic statement from the non-tax simulator
through the adapter's statement hook into the reconcile matcher.

argv: simulator_url credentials_json day rows repeat
prints one JSON line: rows, seconds per row (wall clock, and this process's CPU) (the best of ``repeat``
runs: the machine is shared, and noise only ever adds time), mismatches,
peak RSS and the RSS once the local orders were built (what streaming adds is the
difference).

The peak is this process image's own high-water mark (``VmHWM``), not
``getrusage(RUSAGE_SELF).ru_maxrss``: at exec Linux keeps the replaced image's peak in
``ru_maxrss``, and the replaced image is the parent's (subprocess forks with vfork), so
``ru_maxrss`` reported the bench parent's peak whenever that was higher - 314 MB after
the local stack had run in it, against 142 MB run alone.
"""

import datetime as dt
import json
import sys
import time

from adapters.nontax.simulator import synthetic_row
from contracts.adapters import CallContext
from govbus import plugins
from govbus.reconcile import reconcile


def status_kb(field: str) -> int:
    """A size from /proc/self/status, in KiB (``VmRSS``: now; ``VmHWM``: the peak since
    this process image began, at exec)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def main() -> None:
    url, credentials, day, rows, repeat = sys.argv[1:6]
    rows, repeat = int(rows), int(repeat)
    pm = plugins.create_plugin_manager({"nontax"})
    plugins.call(
        pm,
        "nontax",
        "govbus_adapter_configure",
        settings={"endpoint": url},
        get_secret=lambda _name: credentials,
    )
    # the bus's side: one paid order per statement line, as the reconcile function holds
    amounts: dict[str, int] = {}  # one int per distinct amount, as a store's decoder shares
    local: dict[str, int] = {}

    def expect_all() -> None:
        # matching marks orders in place: put every amount back (no copy: RSS stays honest)
        for i in range(rows):
            row = synthetic_row(day, i, rows)
            local[row[0]] = amounts.setdefault(row[3], int(row[3]))

    expect_all()
    rss_local = status_kb("VmRSS")
    samples, cpu_samples, mismatches = [], [], 0
    for n in range(repeat):
        if n:
            expect_all()
        ctx = CallContext(correlation_id=f"bench-{n}", idempotency_key=f"bench-{n}")
        started, cpu_started = time.perf_counter(), time.process_time()
        lines = plugins.call(
            pm, "nontax", "govbus_payment_statement", day=dt.date.fromisoformat(day), ctx=ctx
        )
        mismatches = sum(1 for _ in reconcile(lines, local))
        samples.append((time.perf_counter() - started) / rows)
        cpu_samples.append((time.process_time() - cpu_started) / rows)
    peak = status_kb("VmHWM")
    print(
        json.dumps(
            {
                "rows": rows,
                "per_row_seconds": min(samples),
                "cpu_per_row_seconds": min(cpu_samples),
                "mismatches": mismatches,
                "peak_rss_kb": peak,
                "rss_with_local_orders_kb": rss_local,
            }
        )
    )


if __name__ == "__main__":
    main()
