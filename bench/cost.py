"""`make cost`: what a million webhooks and a million cases cost, on paper.

Measured on the local stack (moto server as AWS, pollers on, schedules off):

* webhook: ``BENCH_COST_WEBHOOKS`` (20) signed EMS pushes through the gateway, until the
  event log has archived them: everything they set off downstream counts.
* case: the demo journey's steps 1-8 (govbus_dev/demo.py: certificate login, apply,
  upload, submit with pre-review, the department client logs in, accepts and approves,
  the e-licence is issued, EMS delivers and the case closes), once.

Counted while each runs: every Lambda invocation and its billed duration (the local
runtime's REPORT lines, warm and cold alike, init excluded), at the memory template.yaml
configures for that function; HTTP API requests (the gateway's); DynamoDB request units
(the emulator's DynamoDB requests: one unit per item read or written, two per item of a
transaction; a Query or Scan as one read unit, which undercounts a large one);
EventBridge entries put (PutEvents). SQS: three requests (send, receive, delete) per
invocation of an SQS-triggered function, a batch of one, the worst case; the emulator's
own polling is not what Lambda's event source mapping does, so it is not counted.
Durations are this machine's (a shared, loaded one): read them as an upper bound.

Prices: public on-demand list prices, us-east-1, x86, first tier, no free tier; the
China figures are printed only where their price was verified (see CHINA_SOURCES).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WEBHOOKS = int(os.environ.get("BENCH_COST_WEBHOOKS", 20))

# USD, us-east-1, checked against the services' public pricing pages
US_EAST_1 = {
    "lambda_gb_second": 0.0000166667,  # aws.amazon.com/lambda/pricing (x86, first tier)
    "lambda_request": 0.20 / 1e6,  # aws.amazon.com/lambda/pricing
    "http_api_request": 1.00 / 1e6,  # aws.amazon.com/api-gateway/pricing (first 300M)
    "eventbridge_event": 1.00 / 1e6,  # aws.amazon.com/eventbridge/pricing (custom events)
    "sqs_request": 0.40 / 1e6,  # aws.amazon.com/sqs/pricing (standard, after 1M free)
    "dynamodb_write_unit": 0.625 / 1e6,  # aws.amazon.com/dynamodb/pricing/on-demand
    "dynamodb_read_unit": 0.125 / 1e6,  # aws.amazon.com/dynamodb/pricing/on-demand
}
# CNY, cn-north-1: not verifiable offline; the pages to read them from
CHINA_SOURCES = {
    "lambda_gb_second": "https://www.amazonaws.cn/en/lambda/pricing/",
    "lambda_request": "https://www.amazonaws.cn/en/lambda/pricing/",
    "http_api_request": "https://www.amazonaws.cn/en/api-gateway/pricing/",
    "eventbridge_event": "https://www.amazonaws.cn/en/eventbridge/pricing/",
    "sqs_request": "https://www.amazonaws.cn/en/sqs/pricing/",
    "dynamodb_write_unit": "https://www.amazonaws.cn/en/dynamodb/pricing/",
    "dynamodb_read_unit": "https://www.amazonaws.cn/en/dynamodb/pricing/",
}
REPORT = re.compile(r"^(\w+) REPORT .*?Billed Duration: (\d+) ms\tMemory Size: (\d+) MB")


class Meter:
    """What the platform asked of AWS while it is on (thread-safe): invocations and HTTP
    API requests counted here, DynamoDB units and EventBridge entries by the endpoint
    (moto runs in a process of its own: ``GET /_govbus/usage``), as the difference of its
    totals between turning on and off."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._on = False
        self.endpoint: str | None = None
        self._usage_at_on: Counter[str] = Counter()
        self.invocations: Counter[str] = Counter()
        self.billed_ms: Counter[str] = Counter()
        self.memory_mb: dict[str, int] = {}
        self.units: Counter[str] = Counter()

    def _usage(self) -> Counter[str]:
        import urllib.request

        if not self.endpoint:
            return Counter()
        url = f"{self.endpoint}/_govbus/usage"
        with urllib.request.urlopen(url, timeout=10) as answer:
            return Counter(json.loads(answer.read()))

    @property
    def on(self) -> bool:
        return self._on

    @on.setter
    def on(self, value: bool) -> None:
        if value and not self._on:
            self._usage_at_on = self._usage()
        elif self._on and not value:
            used = self._usage()
            used.subtract(self._usage_at_on)
            with self.lock:
                self.units.update(+used)
        self._on = value

    def add(self, key: str, n: int = 1) -> None:
        with self.lock:
            if self._on:
                self.units[key] += n

    def snapshot(self) -> dict:
        with self.lock:
            return {
                "invocations": Counter(self.invocations),
                "billed_ms": Counter(self.billed_ms),
                "units": Counter(self.units),
            }


class _Reports(logging.Handler):
    def __init__(self, meter: Meter) -> None:
        super().__init__()
        self.meter = meter

    def emit(self, record: logging.LogRecord) -> None:
        found = REPORT.match(record.getMessage())
        if found is None:
            return
        name, billed, memory = found.group(1), int(found.group(2)), int(found.group(3))
        with self.meter.lock:
            if self.meter.on:
                self.meter.invocations[name] += 1
                self.meter.billed_ms[name] += billed
                self.meter.memory_mb[name] = memory


def _install(meter: Meter) -> None:
    from govbus_dev.local import gateway

    os.environ["GOVBUS_ENDPOINT_USAGE"] = "1"  # the stack's endpoint process counts
    handle = gateway.Gateway.handle

    def counted(self, req):
        meter.add("http_api_request")
        return handle(self, req)

    gateway.Gateway.handle = counted
    logging.getLogger("govbus_dev.lambda").addHandler(_Reports(meter))
    logging.getLogger("govbus_dev.lambda").setLevel(logging.INFO)


def _sqs_triggered(stack) -> set[str]:
    return {name for name, fn in stack.functions.items() if list(fn.spec.events_of("SQS"))}


def _measure_webhooks(stack, meter: Meter) -> None:
    import boto3
    import requests

    from bench.samples import EMS_TRACE, EMS_WAYBILL

    sim = stack.simulators["ems"]
    ids = []
    meter.on = True
    for _ in range(WEBHOOKS):
        headers, body = sim.push_body(EMS_WAYBILL, EMS_TRACE)
        answer = requests.post(f"{stack.url}/webhooks/ems", data=body, headers=headers, timeout=60)
        assert answer.status_code == 202, answer.text
        ids += answer.json()["event_ids"]
    ddb = boto3.session.Session(region_name=stack.region).client("dynamodb")
    table = stack.resolver.refs["EventLogTable"]
    # the meter stays on while what the webhooks set off downstream runs; the bench's own
    # reads of the archive are not the platform's and are taken off again after
    own_reads = 0
    deadline = time.monotonic() + 120
    pending = set(ids)
    while pending and time.monotonic() < deadline:
        for event_id in list(pending):
            own_reads += 1
            if "Item" in ddb.get_item(TableName=table, Key={"id": {"S": event_id}}):
                pending.discard(event_id)
        time.sleep(0.2)
    time.sleep(2)  # what the archived events set off after the archive
    meter.on = False
    with meter.lock:
        meter.units["dynamodb_read_unit"] -= own_reads


def _measure_case(stack, meter: Meter) -> None:
    from govbus_dev.demo import Journey

    stack.seed()
    journey = Journey(
        gateway=stack.url,
        simulators={name: sim.url for name, sim in stack.simulators.items()},
        stack_name=stack.stack_name,
        out=open(os.devnull, "w"),
    )
    steps = [
        journey.login,
        journey.apply,
        journey.upload,
        journey.submit,
        journey.department_client,
        journey.decide,
        journey.licence,
        journey.delivery,
    ]
    meter.on = True
    try:
        for step in steps:
            step()
        time.sleep(2)  # the last events' consumers
    finally:
        meter.on = False
        journey.revoke_clients()


def _delta(after: dict, before: dict) -> dict:
    return {k: after[k] - before[k] for k in after}


def price(delta: dict, per: int, memory: dict[str, int], sqs_triggered: set[str]) -> dict:
    """Dollars per million of what ``delta`` measured for ``per`` items, by line."""
    scale = 1e6 / per
    gb_seconds = sum(ms / 1000 * memory[name] / 1024 for name, ms in delta["billed_ms"].items())
    units = Counter(delta["units"])
    units["lambda_request"] = sum(delta["invocations"].values())
    units["lambda_gb_second"] = gb_seconds
    units["sqs_request"] = 3 * sum(n for f, n in delta["invocations"].items() if f in sqs_triggered)
    lines = {key: units[key] * scale * US_EAST_1[key] for key in US_EAST_1}
    return {"units_per_item": {k: units[k] / per for k in US_EAST_1}, "usd_per_million": lines}


def _print(title: str, priced: dict, delta: dict, per: int) -> None:
    total = sum(priced["usd_per_million"].values())
    print(f"cost.{title} usd_per_million={total:.2f} (us-east-1; CNY unverified)")
    for key, usd in priced["usd_per_million"].items():
        per_item = priced["units_per_item"][key]
        unit_price = US_EAST_1[key]
        print(
            f"  {key:<20} {per_item:>9.3f} per item x ${unit_price * 1e6:.4f}/M "
            f"= ${usd:>8.2f} per million   (CNY: unverified, {CHINA_SOURCES[key]})"
        )
    functions = ", ".join(
        f"{name} {n / per:.2f}x {delta['billed_ms'][name] / max(n, 1):.0f} ms"
        for name, n in sorted(delta["invocations"].items())
    )
    print(f"  invocations per item (mean billed ms): {functions}")


def main() -> int:
    from govbus_dev.local.stack import LocalStack
    from govbus_dev.local.template import load_template

    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    template = load_template(ROOT / "template.yaml")
    default_memory = int(template["Globals"]["Function"].get("MemorySize", 128))
    memory = defaultdict(
        lambda: default_memory,
        {
            name: int(res["Properties"].get("MemorySize", default_memory))
            for name, res in template["Resources"].items()
            if res["Type"] == "AWS::Serverless::Function"
        },
    )
    meter = Meter()
    _install(meter)
    out, sys.stdout = sys.stdout, open(os.devnull, "w")
    try:
        with LocalStack(
            ROOT,
            port=0,
            pollers=True,
            schedules=False,
            environment={"POWERTOOLS_LOG_LEVEL": "ERROR"},
        ) as stack:
            meter.endpoint = stack.endpoint
            triggered = _sqs_triggered(stack)
            before = meter.snapshot()
            _measure_webhooks(stack, meter)
            webhooks = _delta(meter.snapshot(), before)
            before = meter.snapshot()
            _measure_case(stack, meter)
            case = _delta(meter.snapshot(), before)
    finally:
        sys.stdout = out
    print("cost on paper: on-demand list prices, x86, first tier, no free tier")
    _print("webhook_accepted", price(webhooks, WEBHOOKS, memory, triggered), webhooks, WEBHOOKS)
    _print("case_application_to_delivery", price(case, 1, memory, triggered), case, 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
