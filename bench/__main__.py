"""`make bench`: cold start per function and the warm webhook path, as ratios.

cold_start.<Function>: a fresh process imports the handler and serves one sample event;
  baseline: a fresh process importing boto3 and creating one DynamoDB client, run in turn
  with the function's runs (medians of BENCH_REPEAT each, wall time; the CPU time of the
  child processes is printed beside it, as load on a shared machine moves it far less).
webhook.warm: verify, parse, idempotency, publish for one EMS push, the handler called in
  a warm process of its own (bench/warm_child.py); baseline: the bare conditional DynamoDB
  write and PutEvents the path cannot avoid, interleaved with it in the same process.
gateway.e2e: 1,000 signed EMS pushes over HTTP from 16 concurrent senders, through the
  gateway, the webhooks function, EventBridge and SQS to the archived event (the event
  log table); prints throughput (pushes archived per second), p50 and p99 of the HTTP
  answer, and the ratio of one push's cost through the gateway (sequential, kept-alive)
  to the same handler called in-process (a fresh process with the function's variables);
  gateway.e2e.event_latency: for those sequential pushes, from sending each to its
  event's archived_at in the event log (gateway, handler, EventBridge, SQS, consumer).
soap.call: one province adapter call (zeep: serialise, WS-Security, POST, parse, map)
  against the hall simulator; baseline: a raw HTTP POST of the same operation's
  prebuilt envelope (fresh WS-Security headers made beforehand) on a kept-alive connection.
reconcile.rows_1e4 / 1e5 / 1e6: time per row of streaming a synthetic statement from the
  non-tax simulator through the adapter's statement hook into the reconcile matcher (a
  fresh process per size, best of a few runs); baseline: the per-row time at 10^4 (target: 10^6 within 1.3x),
  and the peak RSS of the 10^6 process (target: under 200 MB).
reconcile.cli_20000: `govbus reconcile --day D` in a process of its own against a local
  stack (bench/reconcile_cli.py), a statement of 20,000 lines of which 1% are orders held
  here unpaid (repaired) and the rest orders never had; prints lines a second and the
  ratio of its time per line to the matcher's alone at 10^4 in the same run
  (BENCH_RECONCILE_CLI_ROWS=N for another size, 0 to leave it out;
  `python -m bench.reconcile_cli 1000000` runs the 10^6 day once).

dynamodb.transact_10000_committed / _cancelled: one 3-item TransactWriteItems on the
  local endpoint at 10,000 items in its table, as a ratio to the same at 100 items
  (bench/transact.py; `python -m bench transact` runs only these).

`python -m bench.imports` measures the init phase alone (importing each function's
module, no local stack), in CPU time against the same floor.
`python -m bench reconcile` runs only the reconciliation lines (no local stack needed),
`python -m bench coldstart` the cold starts and webhook.warm, `python -m bench gateway`
only gateway.e2e (BENCH_E2E_PUSHES=200 for a quicker run), `python -m bench soap` only
soap.call; sections combine, in this order (`python -m bench coldstart reconcile`);
`BENCH_RECONCILE_MAX_ROWS=100000` stops before the 10^6 run;
`BENCH_FUNCTIONS=WebhooksFunction,HealthFunction` limits the cold starts to those.
"""

from __future__ import annotations

import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPEAT = int(os.environ.get("BENCH_REPEAT", 7))
# the results go to the console; the local stack's workers' own output (their logs and
# EMF metric lines, copied to whatever sys.stdout is) is sent to /dev/null in main()
OUT = sys.stdout


def say(*parts: object, **options: object) -> None:
    print(*parts, file=OUT, **options)  # type: ignore[call-overload]


WARM_CALLS = int(os.environ.get("BENCH_WARM_CALLS", 40))


def median_seconds(run, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def report(name: str, ours: float, baseline: float) -> None:
    say(
        f"{name} ratio={ours / baseline:.2f} (ours {ours * 1000:.1f} ms / "
        f"baseline {baseline * 1000:.1f} ms)",
        flush=True,
    )


def sample_events(stack) -> dict[str, dict]:
    from bench.samples import samples

    return samples(stack)


def _run_child(argv: list[str], env: dict, what: str) -> tuple[float, float]:
    """Wall and CPU (user + sys, from ``os.wait4``) seconds of one child process."""
    started = time.perf_counter()
    child = subprocess.Popen(
        argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    errors = child.stderr.read()
    child.stderr.close()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise SystemExit(f"{what}: {errors[-2000:].decode(errors='replace')}")
    return wall, usage.ru_utime + usage.ru_stime


def cold_starts(stack) -> None:
    """Each function beside the floor: their runs interleave (floor, function, floor ...),
    so a change of load on a shared machine moves both sides of the ratio alike."""
    env_base = {k: v for k, v in os.environ.items()}
    # ends as the child does, without interpreter shutdown (see bench/coldstart_child.py)
    baseline_argv = [
        sys.executable,
        "-c",
        "import os, boto3; boto3.client('dynamodb'); os._exit(0)",
    ]
    events = sample_events(stack)
    chosen = {name for name in os.environ.get("BENCH_FUNCTIONS", "").split(",") if name}
    with tempfile.TemporaryDirectory() as tmp:
        for logical, fn in sorted(stack.functions.items()):
            if chosen and logical not in chosen:
                continue
            event = events.get(logical)
            if event is None:
                say(f"cold_start.{logical} skipped: no sample event", flush=True)
                continue
            env = {**env_base, **fn.environment, "PYTHONPATH": str(ROOT)}
            module = fn.spec.handler.rsplit(".", 1)[0]
            floor, ours = [], []
            for run in range(REPEAT):
                path = Path(tmp) / f"{logical}-{run}.json"
                path.write_text(json.dumps(event))
                argv = [
                    sys.executable,
                    "-m",
                    "bench.coldstart_child",
                    str(fn.spec.code_dir),
                    module,
                    fn.spec.handler_name,
                    str(path),
                ]
                floor.append(_run_child(baseline_argv, env_base, "floor"))
                ours.append(_run_child(argv, env, logical))
                # fresh ids for the next run: idempotency must not short-cut it
                event = sample_events(stack)[logical]
            wall = statistics.median(w for w, _ in ours)
            base = statistics.median(w for w, _ in floor)
            cpu = statistics.median(c for _, c in ours)
            cpu_base = statistics.median(c for _, c in floor)
            say(
                f"cold_start.{logical} ratio={wall / base:.2f} (ours {wall * 1000:.1f} ms / "
                f"baseline {base * 1000:.1f} ms; CPU ratio={cpu / cpu_base:.2f}, "
                f"{cpu * 1000:.0f} / {cpu_base * 1000:.0f} ms)",
                flush=True,
            )


def warm_webhook(stack) -> None:
    """The accepted push and its baseline, interleaved in one warm process (warm_child).

    The baseline publishes the event the push becomes (its type, source and size): the
    local EventBridge hands an event to the targets of every rule it matches inside
    PutEvents, so an event no rule routes would make the baseline's PutEvents cheaper
    than any push's could be.
    """
    from bench.samples import ems_push_event, ems_tracking_event

    fn = stack.functions["WebhooksFunction"]
    pushed = ems_tracking_event()
    work = {
        "pushes": [ems_push_event(stack) for _ in range(WARM_CALLS + 1)],
        "published": {
            "Source": pushed.source,
            "DetailType": pushed.type,
            "Detail": pushed.model_dump(mode="json"),
        },
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pushes.json"
        path.write_text(json.dumps(work))
        argv = [sys.executable, "-m", "bench.warm_child", str(fn.spec.code_dir)]
        argv += [fn.spec.handler.rsplit(".", 1)[0], fn.spec.handler_name, str(path)]
        argv += [stack.resolver.refs["IdempotencyTable"], stack.resolver.refs["EventBus"]]
        env = {**os.environ, **fn.environment, "PYTHONPATH": str(ROOT)}
        done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"webhook.warm: {done.stderr[-2000:]}")
    medians = json.loads(done.stdout.strip().splitlines()[-1])
    report("webhook.warm", medians["ours"], medians["baseline"])
    say(_accept_cost(medians["ours"], fn.spec.memory), flush=True)


def _accept_cost(seconds: float, memory_mb: int) -> str:
    """The accepting part of a push, priced (bench/cost.py's us-east-1 prices): one HTTP
    API request, one invocation of the warm duration just measured, one event put, two
    DynamoDB write units (the idempotency record; `make cost` measured two a push). The
    whole path downstream is `make cost`'s."""
    from bench.cost import US_EAST_1 as p

    usd = (
        p["http_api_request"]
        + p["lambda_request"]
        + p["lambda_gb_second"] * max(1, round(seconds * 1000)) / 1000 * memory_mb / 1024
        + p["eventbridge_event"]
        + 2 * p["dynamodb_write_unit"]
    )
    return (
        f"cost.webhook_accept usd_per_million={usd * 1e6:.2f} (us-east-1; warm "
        f"{seconds * 1000:.1f} ms at {memory_mb} MB; `make cost` for the path downstream)"
    )


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def gateway_e2e(stack) -> None:
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import boto3
    import requests

    from bench.samples import ems_push_event

    total = int(os.environ.get("BENCH_E2E_PUSHES", 1000))
    senders = 16
    sim = stack.simulators["ems"]
    url = f"{stack.url}/webhooks/ems"
    trace = {
        "op_code": "20",
        "op_time": "2026-11-27T12:00:00+08:00",
        "op_org_city": "福州市",
        "op_desc": "运输中 in transit",
    }
    local = threading.local()

    def send(_: int) -> tuple[float, list[str]]:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
            session.trust_env = False
        headers, body = sim.push_body("1100000000001", trace)
        started = time.perf_counter()
        answer = session.post(url, data=body, headers=headers, timeout=60)
        elapsed = time.perf_counter() - started
        if answer.status_code != 202:
            raise SystemExit(f"gateway.e2e: {answer.status_code} {answer.text[:500]}")
        return elapsed, answer.json()["event_ids"]

    ddb = boto3.session.Session(region_name=stack.region).client("dynamodb")
    table = stack.resolver.refs["EventLogTable"]

    def wait_archived(ids: list[str], deadline: float) -> None:
        pending = list(ids)
        while pending:
            if time.monotonic() > deadline:
                raise SystemExit(f"gateway.e2e: {len(pending)} events not archived in time")
            still = []
            for i in range(0, len(pending), 100):
                chunk = pending[i : i + 100]
                found = ddb.batch_get_item(
                    RequestItems={
                        table: {
                            "Keys": [{"id": {"S": e}} for e in chunk],
                            "ProjectionExpression": "id",
                        }
                    }
                )["Responses"][table]
                seen = {item["id"]["S"] for item in found}
                still += [e for e in chunk if e not in seen]
            pending = still
            if pending:
                time.sleep(0.05)

    with ThreadPoolExecutor(max_workers=senders) as pool:  # warm every environment
        warm = list(pool.map(send, range(senders * 2)))
    wait_archived([e for _, ids in warm for e in ids], time.monotonic() + 120)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=senders) as pool:
        results = list(pool.map(send, range(total)))
    accepted = time.perf_counter() - started
    wait_archived([e for _, ids in results for e in ids], time.monotonic() + 600)
    archived = time.perf_counter() - started
    latencies = [elapsed for elapsed, _ in results]
    say(
        f"gateway.e2e pushes={total} senders={senders} "
        f"throughput={total / archived:.0f}/s archived ({total / accepted:.0f}/s accepted) "
        f"p50={_percentile(latencies, 0.5) * 1000:.1f} ms p99={_percentile(latencies, 0.99) * 1000:.1f} ms",
        flush=True,
    )

    # one push's cost: through the gateway, one at a time, against the handler in-process;
    # and each one's event latency, from sending the push to its event's archiving (the
    # event log's own archived_at): the gateway, the webhook handler, EventBridge, SQS and
    # the consumer, without a queue (the 202 can arrive after the archiving)
    answered: dict[str, float] = {}
    sequential = []
    for i in range(WARM_CALLS):
        sent = time.time()
        elapsed, ids = send(i)
        sequential.append(elapsed)
        answered.update(dict.fromkeys(ids, sent))
    wait_archived(list(answered), time.monotonic() + 120)
    latencies = []
    ids = list(answered)
    for i in range(0, len(ids), 100):
        found = ddb.batch_get_item(
            RequestItems={
                table: {
                    "Keys": [{"id": {"S": e}} for e in ids[i : i + 100]],
                    "ProjectionExpression": "id, archived_at",
                }
            }
        )["Responses"][table]
        for item in found:
            archived_at = datetime.datetime.fromisoformat(item["archived_at"]["S"]).timestamp()
            latencies.append(archived_at - answered[item["id"]["S"]])
    say(
        f"gateway.e2e.event_latency pushes={len(latencies)} one at a time, sent -> archived: "
        f"p50={_percentile(latencies, 0.5) * 1000:.1f} ms p99={_percentile(latencies, 0.99) * 1000:.1f} ms",
        flush=True,
    )
    fn = stack.functions["WebhooksFunction"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.json"
        path.write_text(json.dumps([ems_push_event(stack) for _ in range(WARM_CALLS + 1)]))
        argv = [sys.executable, "-m", "bench.handler_child", str(fn.spec.code_dir)]
        argv += [fn.spec.handler.rsplit(".", 1)[0], fn.spec.handler_name, str(path)]
        env = {**os.environ, **fn.environment, "PYTHONPATH": str(ROOT)}
        done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"gateway.e2e direct: {done.stderr[-2000:]}")
        direct = json.loads(done.stdout.strip().splitlines()[-1])["median_seconds"]
    report("gateway.e2e.per_request", statistics.median(sequential), direct)


def soap_call() -> None:
    import requests

    from adapters.province import wire
    from adapters.province.simulator import CATALOGUE, HallSimulator
    from contracts.adapters import CallContext
    from contracts.province import ProvinceCaseForward
    from govbus import plugins

    simulator = HallSimulator()
    simulator.start()
    try:
        secrets = {k.replace("{stage}", "dev"): v for k, v in simulator.secrets().items()}
        pm = plugins.create_plugin_manager({"province"})
        plugins.call(
            pm,
            "province",
            "govbus_adapter_configure",
            settings={"endpoint": simulator.url},
            get_secret=secrets.__getitem__,
        )
        ctx = CallContext(correlation_id="bench", idempotency_key="bench")
        receipt = plugins.call(
            pm,
            "province",
            "govbus_province_forward_case",
            forward=ProvinceCaseForward(
                case_id="CASE-BENCH",
                item_code=CATALOGUE[0]["code"],
                applicant_code="350102199003071234",
                applicant_name="林小姐",
                summary="bench",
            ),
            ctx=ctx,
        )

        def ours() -> None:
            plugins.call(
                pm,
                "province",
                "govbus_province_query_case",
                province_case_no=receipt.province_case_no,
                ctx=ctx,
            )

        from lxml import etree

        def envelope() -> bytes:
            query = etree.Element(wire.q(wire.HALL_NS, "QueryCase"), nsmap={"hall": wire.HALL_NS})
            etree.SubElement(query, wire.q(wire.HALL_NS, "caseNo")).text = receipt.province_case_no
            return wire.envelope(
                query, [wire.security_header(simulator.username, simulator.password)]
            )

        prebuilt = [envelope() for _ in range(WARM_CALLS * 2 + 2)]  # one nonce each
        session = requests.Session()
        session.trust_env = False  # the leanest POST requests can make
        headers = {
            "Content-Type": "text/xml; charset=utf-8",
            "SOAPAction": f'"{wire.HALL_NS}/QueryCase"',
        }

        def baseline() -> None:
            answer = session.post(simulator.url + "/", data=prebuilt.pop(), headers=headers)
            assert answer.status_code == 200, answer.text

        ours()
        baseline()
        report("soap.call", median_seconds(ours, WARM_CALLS), median_seconds(baseline, WARM_CALLS))
    finally:
        simulator.stop()


def reconcile_rows() -> None:
    from adapters.nontax.simulator import NontaxSimulator

    max_rows = int(os.environ.get("BENCH_RECONCILE_MAX_ROWS", 10**6))
    day = "2026-11-27"
    simulator = NontaxSimulator()
    simulator.start()
    try:
        credentials = simulator.secrets()["govbus/{stage}/adapters/nontax"]
        results = {}
        for exponent, repeat in ((4, 9), (5, 3), (6, 2)):
            rows = 10**exponent
            if rows > max_rows:
                break
            simulator.set_synthetic_rows(day, rows)
            argv = [sys.executable, "-m", "bench.reconcile_child"]
            argv += [simulator.url, credentials, day, str(rows), str(repeat)]
            done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
            if done.returncode:
                raise SystemExit(f"reconcile 1e{exponent}: {done.stderr[-2000:]}")
            result = json.loads(done.stdout.strip().splitlines()[-1])
            if result["mismatches"]:
                raise SystemExit(f"reconcile 1e{exponent}: {result['mismatches']} mismatches")
            results[exponent] = result
            base, cpu_base = results[4]["per_row_seconds"], results[4]["cpu_per_row_seconds"]
            ours, cpu = result["per_row_seconds"], result["cpu_per_row_seconds"]
            # wall time is what the target is about; the consumer's CPU time per row is
            # printed beside it because other work on a shared machine moves wall time
            say(
                f"reconcile.rows_1e{exponent} ratio={ours / base:.2f} "
                f"(ours {ours * 1e6:.2f} us/row / baseline 1e4 {base * 1e6:.2f} us/row; "
                f"consumer CPU ratio={cpu / cpu_base:.2f})",
                flush=True,
            )
        if 6 in results:
            peak = results[6]["peak_rss_kb"] / 1024
            local = results[6]["rss_with_local_orders_kb"] / 1024
            say(
                f"reconcile.rows_1e6.peak_rss={peak:.0f} MB (target < 200 MB; "
                f"{local:.0f} MB once the 10^6 local orders were built, "
                f"so streaming added {peak - local:.0f} MB)",
                flush=True,
            )
    finally:
        simulator.stop()
    reconcile_cli(results.get(4, {}).get("per_row_seconds"))


def reconcile_cli(matcher_per_row: float | None) -> None:
    """``govbus reconcile`` as a user runs it, against a local stack, as lines a second
    and as a ratio to the matcher alone (reconcile.rows_1e4, this same run)."""
    from bench.reconcile_cli import run_cli

    rows = int(os.environ.get("BENCH_RECONCILE_CLI_ROWS", 20_000))
    if not rows or matcher_per_row is None:
        return
    cli = run_cli(rows)
    say(
        f"reconcile.cli_{rows} ratio={cli['per_line_seconds'] / matcher_per_row:.0f} "
        f"(ours {cli['lines_per_second']:,.0f} lines/s through `govbus reconcile` against a "
        f"local stack, {cli['repaired_orders']:,} lines repaired, the rest unknown / the "
        f"matcher alone {1 / matcher_per_row:,.0f} lines/s; {cli['seconds']:.1f} s in all)",
        flush=True,
    )


SECTIONS = ("coldstart", "gateway", "soap", "reconcile", "transact")


def main() -> int:
    from govbus_dev.local.stack import LocalStack

    only = sys.argv[1:]
    unknown = sorted(set(only) - set(SECTIONS))
    if unknown:
        say(f"unknown section {', '.join(unknown)}: choose from {', '.join(SECTIONS)}")
        return 2
    chosen = set(only) or set(SECTIONS)
    sys.stdout = open(os.devnull, "w")
    if chosen & {"coldstart", "gateway"}:
        os.environ.update(
            {
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1",
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_LOG_LEVEL": "ERROR",
            }
        )
    if "coldstart" in chosen:
        os.environ.pop("AWS_ENDPOINT_URL", None)
        with LocalStack(
            ROOT,
            port=0,
            pollers=False,
            schedules=False,
            environment={"POWERTOOLS_LOG_LEVEL": "ERROR"},
        ) as stack:
            cold_starts(stack)
            warm_webhook(stack)
    if "gateway" in chosen:
        os.environ.pop("AWS_ENDPOINT_URL", None)  # a stack of its own, with its pollers
        with LocalStack(
            ROOT,
            port=0,
            pollers=True,
            schedules=False,
            environment={"POWERTOOLS_LOG_LEVEL": "ERROR"},
        ) as stack:
            gateway_e2e(stack)
    if "soap" in chosen:
        soap_call()
    if "reconcile" in chosen:
        reconcile_rows()
    if "transact" in chosen:
        from bench.transact import lines

        for line in lines(REPEAT):
            say(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
