"""`make bench`: cold start per function and the warm webhook path, as ratios.

cold_start.<Function>: a fresh process imports the handler and serves one sample event;
  baseline: a fresh process importing boto3 and creating one DynamoDB client.
webhook.warm: verify, parse, idempotency, publish for one EMS push, in a warm process;
  baseline: the bare conditional DynamoDB write and PutEvents the path cannot avoid.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPEAT = int(os.environ.get("BENCH_REPEAT", 5))
WARM_CALLS = int(os.environ.get("BENCH_WARM_CALLS", 40))


def median_seconds(run, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def report(name: str, ours: float, baseline: float) -> None:
    print(
        f"{name} ratio={ours / baseline:.2f} (ours {ours * 1000:.1f} ms / "
        f"baseline {baseline * 1000:.1f} ms)",
        flush=True,
    )


def sample_events(stack) -> dict[str, dict]:
    from bench.samples import samples

    return samples(stack)


def cold_starts(stack) -> None:
    env_base = {k: v for k, v in os.environ.items()}
    baseline_code = "import boto3; boto3.client('dynamodb')"

    def baseline() -> None:
        subprocess.run([sys.executable, "-c", baseline_code], check=True, env=env_base)

    base = median_seconds(baseline, REPEAT)
    events = sample_events(stack)
    with tempfile.TemporaryDirectory() as tmp:
        for logical, fn in sorted(stack.functions.items()):
            event = events.get(logical)
            if event is None:
                print(f"cold_start.{logical} skipped: no sample event", flush=True)
                continue
            path = Path(tmp) / f"{logical}.json"
            path.write_text(json.dumps(event))
            env = {**env_base, **fn.environment, "PYTHONPATH": str(ROOT)}
            module = fn.spec.handler.rsplit(".", 1)[0]
            argv = [
                sys.executable,
                "-m",
                "bench.coldstart_child",
                str(fn.spec.code_dir),
                module,
                fn.spec.handler_name,
                str(path),
            ]

            def ours(argv=argv, env=env, logical=logical) -> None:
                done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True)
                if done.returncode:
                    raise SystemExit(f"{logical}: {done.stderr[-2000:]}")

            report(f"cold_start.{logical}", median_seconds(ours, REPEAT), base)
            events = sample_events(stack)  # fresh ids: idempotency must not short-cut


def warm_webhook(stack) -> None:
    from bench.samples import ems_push_event

    fn = stack.functions["WebhooksFunction"]
    fn.invoke(ems_push_event(stack))  # warm it

    def ours() -> None:
        answer = fn.invoke(ems_push_event(stack))
        assert answer["statusCode"] == 202, answer

    import boto3

    session = boto3.session.Session(region_name=stack.region)
    ddb, events = session.client("dynamodb"), session.client("events")
    table = stack.resolver.refs["IdempotencyTable"]
    bus = stack.resolver.refs["EventBus"]

    def baseline() -> None:
        key = uuid.uuid4().hex
        ddb.put_item(
            TableName=table,
            Item={"id": {"S": key}, "status": {"S": "COMPLETED"}},
            ConditionExpression="attribute_not_exists(id)",
        )
        events.put_events(
            Entries=[
                {
                    "EventBusName": bus,
                    "Source": "govbus.bench",
                    "DetailType": "platform.heartbeat",
                    "Detail": json.dumps({"id": key}),
                }
            ]
        )

    baseline()
    report("webhook.warm", median_seconds(ours, WARM_CALLS), median_seconds(baseline, WARM_CALLS))


def main() -> int:
    from govbus.local.stack import LocalStack

    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "ERROR",
        }
    )
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
