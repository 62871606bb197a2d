"""The soak: accepted work is done exactly once, through partner faults, a bus outage
and a broken consumer, once the platform has recovered.

``make soak`` runs it at full size (2,000 accepted events and commands): measured once,
17 minutes on the 2 shared cores with the load average at 13 (other work running), most
of it the dispatcher working through its queue and the settling waits; expect less on
a quiet machine;
``tests/integration/test_soak.py`` runs a short form (100) inside
``make test`` (about 40 s of soak, under a minute with the stack's start, on a quiet
machine; 2-3 minutes with the load average near 20) and asserts the final line's
invariants.

Every wait polls for its effect; only the deadlines are scaled, by :func:`slowness`
(the load average per core), so a slow or busy machine gets more time and a quiet one
waits no longer than it must.

What is sent (half each, interleaved):

- **events**: signed Standard Webhooks pushes of the ACME test partner to
  ``POST /webhooks/acme`` through the local gateway, each with a note of its own. The
  sender is a partner: it retries what was refused (5xx, no answer) with the same
  ``webhook-id``; only a push that got a 2xx counts as accepted.
- **commands**: ``delivery.requested`` for distinct case ids, written with
  :func:`govbus.outbox.record` as a core function writes them (the write is the
  acceptance); the outbox stream's publisher puts them on the bus, the dispatcher asks
  EMS for a waybill, the delivery function records it.

What goes wrong on the way:

- every simulator answers 30% of calls badly: 15% errors (5xx) and 15% timeouts
  (``Faults(error_rate=0.15, timeout_rate=0.15)``). The EMS simulator hangs twice the
  dispatcher's partner timeout (``PartnerTimeoutSeconds``, 0.5 s here), so a timeout
  costs an attempt 0.5 s and the waybill may be created although the dispatcher gave
  up (EMS answers a repeated order with the same waybill);
- **publisher failure**: for the second third the EventBridge bus is deleted (webhooks
  are refused with 5xx and retried by their sender; the outbox stream gives its
  batches up to the outbox DLQ), then re-provisioned;
- **consumer failure**: for the last third the event log consumer cannot reach its
  table; its messages go to its DLQ after ``maxReceiveCount`` receives.

The counts, each from what a user would see:

- ``accepted``: pushes answered 2xx + commands committed to the outbox;
- ``processed``: accepted pushes whose note is in the event log archive (the
  ``eventlog`` table) + accepted case ids with a waybill at EMS (the simulator) and in
  the shipments table;
- ``dead_lettered``: messages sitting in every dead-letter queue (consumer DLQs, the
  bus DLQ, the outbox stream's give-up notices);
- ``duplicated``: extra copies a user would see: an event id delivered more than once
  to a counting SQS queue subscribed to the bus, a note archived under more than one
  event id, a case with more than one live waybill at EMS;
- ``lost``: accepted work without its effect at that moment (``accepted -
  processed``): before recovery it is what sits in a DLQ or the outbox; after recovery
  it must be 0. Recovery goes on until every item is done or nothing is left anywhere
  (no message in an event source's queue or a DLQ, no outbox row pending), so what it
  reports lost is lost, not slow; a failed run prints which stage holds each item.

Recovery: faults cleared, the bus provisioned, the outbox sweep run (the publisher's
scheduled event), every DLQ that holds work redriven with :func:`govbus.dlq.redrive`
(what ``govbus dlq redrive`` runs); the outbox DLQ's notices, which only point at rows
the sweep has now published, are then cleared; this repeats (each DLQ can fill again
while the redriven work meets a circuit that is still open) until all is done.
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import dataclasses
import json
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import requests
from botocore.exceptions import ClientError

from contracts.adapters import Faults
from contracts.signatures import standard_webhook_headers

ACME_SECRET = "whsec_" + base64.b64encode(b"acme test secret, 32 bytes long!").decode()
PARTNER_FAULTS = Faults(error_rate=0.15, timeout_rate=0.15)
PARTNER_TIMEOUT_SECONDS = 0.5
COUNTED_TYPES = ["platform.heartbeat", "delivery.requested"]


def slowness() -> float:
    """How much slower than a quiet machine this one runs now (1 when quiet, up to 6):
    the runnable processes per core. The soak's waits poll for their effect; only their
    deadlines are scaled, so a quiet machine waits no longer than it must."""
    return min(6.0, max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1)))


@dataclasses.dataclass
class Counts:
    accepted: int
    processed: int
    dead_lettered: int
    duplicated: int
    lost: int

    def line(self) -> str:
        return (
            f"soak: accepted={self.accepted} processed={self.processed} "
            f"dead_lettered={self.dead_lettered} duplicated={self.duplicated} lost={self.lost}"
        )


class Soak:
    def __init__(self, stack: Any, total: int, *, say: Any = print) -> None:
        self.stack = stack
        self.total = total
        self.say = say
        self.tag = uuid.uuid4().hex[:8]
        session = boto3.session.Session(region_name=stack.region)
        self.aws = {
            name: session.client(name, endpoint_url=stack.endpoint)
            for name in ("dynamodb", "sqs", "events", "secretsmanager")
        }
        self.accepted_notes: set[str] = set()
        self.accepted_cases: set[str] = set()
        self.seen_on_bus: Counter = Counter()
        self.seen_keys: set[str] = set()  # notes and case ids seen on the bus
        self.seen_types: dict[str, str] = {}  # event id -> type, for the duplicates' report
        self.counter_url = ""
        self.http = requests.Session()

    # --- set-up ---------------------------------------------------------------

    def prepare(self) -> None:
        sm = self.aws["secretsmanager"]
        secret = json.dumps({"secrets": [ACME_SECRET]})
        try:
            sm.create_secret(Name="govbus/dev/webhooks/acme", SecretString=secret)
        except sm.exceptions.ResourceExistsException:
            sm.put_secret_value(SecretId="govbus/dev/webhooks/acme", SecretString=secret)
        self.counter_url = self.aws["sqs"].create_queue(QueueName=f"soak-counter-{self.tag}")[
            "QueueUrl"
        ]
        self.subscribe_counter()
        os.environ["OUTBOX_TABLE"] = self.stack.resolver.refs["OutboxTable"]
        # a delivery request's personal fields are sealed in the outbox row, as the
        # functions that write one do it (their PERSONAL_DATA_KEY_ID)
        os.environ["PERSONAL_DATA_KEY_ID"] = self.stack.resolver.refs["PersonalDataKeyAlias"]
        from govbus import settings

        settings.reset()  # this process writes outbox rows as a core function would
        self.stack.simulators["ems"].hang_seconds = 2 * PARTNER_TIMEOUT_SECONDS
        for simulator in self.stack.simulators.values():
            simulator.set_faults(PARTNER_FAULTS)

    def subscribe_counter(self) -> None:
        """A queue that gets every counted event on the bus (again after the bus is back)."""
        sqs, events = self.aws["sqs"], self.aws["events"]
        arn = sqs.get_queue_attributes(QueueUrl=self.counter_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        bus = self.stack.resolver.refs["EventBus"]
        rule = f"soak-counter-{self.tag}"
        events.put_rule(
            Name=rule,
            EventBusName=bus,
            EventPattern=json.dumps({"detail-type": COUNTED_TYPES}),
        )
        events.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": "counter", "Arn": arn}])

    # --- the load -------------------------------------------------------------

    def push(self, n: int, msg_id: str) -> int:
        """One delivery attempt of push ``n``: its status, 599 for no answer."""
        note = f"soak-{self.tag}-{n}"
        body = json.dumps({"note": note}).encode()
        headers = standard_webhook_headers(ACME_SECRET, msg_id, int(time.time()), body)
        headers["content-type"] = "application/json"
        try:
            answer = self.http.post(
                f"{self.stack.url}/webhooks/acme", data=body, headers=headers, timeout=15
            )
        except requests.RequestException:
            return 599
        if 200 <= answer.status_code < 300:
            self.accepted_notes.add(note)
        return answer.status_code

    def push_until_accepted(self, numbers: list[int], attempts: int) -> list[int]:
        """Send each push, retrying refusals as a partner would; the numbers still refused."""
        ids = {n: f"msg_{self.tag}_{n}" for n in numbers}
        waiting = list(numbers)
        for attempt in range(attempts):
            with concurrent.futures.ThreadPoolExecutor(4) as pool:
                statuses = list(pool.map(lambda n: self.push(n, ids[n]), waiting))
            waiting = [n for n, s in zip(waiting, statuses, strict=True) if s >= 500 or s == 429]
            if not waiting:
                break
            time.sleep(min(0.2 * 2**attempt, 2))  # a partner's back-off between rounds
        return waiting

    def command(self, n: int) -> None:
        from contracts.delivery import Address, DeliveryRequested, WaybillRequest
        from contracts.events import Event
        from govbus import outbox
        from govbus.applications import HALL

        case_id = f"SOAK-{self.tag}-{n:05d}"
        home = Address(
            name="林小姐",
            phone="13812345678",
            province="福建省",
            city="福州市",
            district="台江区",
            street="五一中路88号",
        )
        event = Event.create(
            "delivery.requested",
            DeliveryRequested(request=WaybillRequest(case_id=case_id, sender=HALL, receiver=home)),
            source="govbus.applications",
            subject=case_id,
        )
        try:
            outbox.record([event])
        except ClientError as exc:
            # botocore retries a TransactWriteItems whose answer timed out with the same
            # ClientRequestToken, which DynamoDB honours (the retry succeeds) and the
            # emulator does not (the retry fails its own attribute_not_exists): the write
            # is the acceptance, so what counts is whether the row is there
            if not self._in_outbox(event.id):
                raise
            self.say(f"{case_id}: committed, though its retried write was refused ({exc})")
        self.accepted_cases.add(case_id)

    def _in_outbox(self, event_id: str) -> bool:
        row = self.aws["dynamodb"].get_item(
            TableName=self.stack.resolver.refs["OutboxTable"],
            Key={"event_id": {"S": event_id}},
            ConsistentRead=True,
        )
        return "Item" in row

    def send(self, numbers: list[int], *, push_attempts: int = 6) -> list[int]:
        """Even numbers are pushes, odd ones commands; the pushes still refused."""
        pushes = [n for n in numbers if n % 2 == 0]
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            list(pool.map(self.command, [n for n in numbers if n % 2 == 1]))
        return self.push_until_accepted(pushes, push_attempts)

    # --- faults ----------------------------------------------------------------

    def delete_bus(self) -> None:
        """The bus gone. Not in the middle of a PutEvents: the emulator delivers the
        entries it got to before it fails the call, so the publisher (rightly) puts them
        again and the count would show the emulator's half-done call as duplicates."""
        for poller in self.stack.pollers:
            poller.pause()
        try:
            self.aws["events"].delete_event_bus(Name=self.stack.resolver.refs["EventBus"])
        finally:
            for poller in self.stack.pollers:
                poller.resume()

    def restore_bus(self) -> None:
        """The bus and its rules back. Nothing may publish in between: an event put on a
        bus whose rules are not there yet reaches no one (a gap of the fault, not of the
        platform), so the event sources wait (no push is in flight at this point)."""
        for poller in self.stack.pollers:
            poller.pause()
        try:
            self.stack.provision()
            self.subscribe_counter()
        finally:
            for poller in self.stack.pollers:
                poller.resume()

    def break_event_log(self) -> None:
        fn = self.stack.functions["EventLogFunction"]
        fn.overrides = {**self.stack.overrides, "EVENT_LOG_TABLE": f"soak-gone-{self.tag}"}
        fn.refresh(self.stack.resolver)

    def mend_event_log(self) -> None:
        fn = self.stack.functions["EventLogFunction"]
        fn.overrides = self.stack.overrides
        fn.refresh(self.stack.resolver)

    def dlq_depth(self, logical_id: str) -> int:
        url = self.stack.resolver.refs[logical_id]
        attrs = self.aws["sqs"].get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"])

    def wait_until(self, probe: Any, timeout: float, interval: float = 0.5) -> bool:
        deadline = time.monotonic() + timeout * slowness()
        while time.monotonic() < deadline:
            if probe():
                return True
            time.sleep(interval)
        return False

    # --- counting --------------------------------------------------------------

    def _scan(self, table: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        args: dict[str, Any] = {"TableName": table}
        while True:
            page = self.aws["dynamodb"].scan(**args)
            items.extend(page.get("Items") or [])
            if "LastEvaluatedKey" not in page:
                return items
            args["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def drain_counter(self) -> None:
        sqs = self.aws["sqs"]
        while True:
            got = sqs.receive_message(QueueUrl=self.counter_url, MaxNumberOfMessages=10)
            messages = got.get("Messages") or []
            if not messages:
                return
            for m in messages:
                if self.tag in m["Body"]:  # this run's note or case id
                    detail = json.loads(m["Body"])["detail"]
                    self.seen_on_bus[detail["id"]] += 1
                    self.seen_types[detail["id"]] = detail.get("type") or "?"
                    self.seen_keys.add((detail.get("data") or {}).get("note") or "")
                    self.seen_keys.add(detail.get("subject") or "")
            sqs.delete_message_batch(
                QueueUrl=self.counter_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages)
                ],
            )

    def _ems_waybills(self) -> list[dict[str, Any]]:
        """A copy of the EMS simulator's waybills, taken while its server threads write."""
        while True:
            try:
                return list(dict(self.stack.simulators["ems"].waybills).values())
            except RuntimeError:  # changed size during the copy: copy again
                continue

    def counts(self) -> Counts:
        refs = self.stack.resolver.refs
        # the event log: which notes are archived, under how many event ids
        archived: dict[str, set[str]] = {}
        for item in self._scan(refs["EventLogTable"]):
            envelope = json.loads(item["envelope"]["S"])
            note = (envelope.get("data") or {}).get("note")
            if isinstance(note, str) and note.startswith(f"soak-{self.tag}-"):
                archived.setdefault(note, set()).add(envelope["id"])
        # EMS: live waybills per order; the shipments table: cases with a waybill
        waybills = Counter(
            w["order"]
            for w in self._ems_waybills()
            if getattr(w["state"], "value", w["state"]) != "cancelled"
            and str(w["order"]).startswith(f"SOAK-{self.tag}-")
        )
        shipped = {
            item["case_id"]["S"]
            for item in self._scan(refs["ShipmentsTable"])
            if "waybill_no" in item and item["case_id"]["S"].startswith(f"SOAK-{self.tag}-")
        }
        self.drain_counter()
        processed = len(self.accepted_notes & set(archived)) + len(
            self.accepted_cases & shipped & set(waybills)
        )
        self.duplicates = {
            "on the bus": {
                f"{self.seen_types.get(i, '?')} {i}": n
                for i, n in self.seen_on_bus.items()
                if n > 1
            },
            "archived": {note: sorted(ids) for note, ids in archived.items() if len(ids) > 1},
            "waybills": {case: n for case, n in waybills.items() if n > 1},
        }
        duplicated = (
            sum(n - 1 for n in self.duplicates["on the bus"].values())
            + sum(len(ids) - 1 for ids in self.duplicates["archived"].values())
            + sum(n - 1 for n in self.duplicates["waybills"].values())
        )
        accepted = len(self.accepted_notes) + len(self.accepted_cases)
        self.missing = {
            "pushes": sorted(self.accepted_notes - set(archived)),
            "commands": sorted(self.accepted_cases - (shipped & set(waybills))),
        }
        from govbus import dlq

        dead = sum(q["count"] for q in dlq.dead_letter_queues())
        return Counts(accepted, processed, dead, duplicated, accepted - processed)

    def in_flight(self) -> dict[str, int]:
        """Messages still in the event sources' queues (waiting, being handled, or back
        off before a retry), by queue: work the platform has not finished with."""
        sqs = self.aws["sqs"]
        found = {}
        for poller in self.stack.pollers:
            url = getattr(poller, "queue_url", None)
            if not url:
                continue
            attrs = sqs.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed",
                ],
            )["Attributes"]
            depth = sum(int(v) for v in attrs.values())
            if depth:
                found[url.rsplit("/", 1)[-1]] = depth
        return found

    def settle(self, timeout: float) -> Counts:
        """Wait, at most ``timeout`` (scaled to the machine), until every item is done or
        the platform is quiet: no message left in any event source's queue, twice in a
        row. What is not done then sits in a DLQ or the outbox (or is lost); it is never
        merely slow."""
        deadline = time.monotonic() + timeout * slowness()
        quiet = 0
        counts = self.counts()
        while counts.lost and quiet < 2 and time.monotonic() < deadline:
            time.sleep(1)
            now = self.counts()
            quiet = quiet + 1 if now == counts and not self.in_flight() else 0
            counts = now
        return counts

    # --- the run -----------------------------------------------------------------

    def run(self) -> tuple[Counts, Counts]:
        self.prepare()
        third = self.total // 3
        numbers = list(range(self.total))
        phases = [numbers[:third], numbers[third : 2 * third], numbers[2 * third :]]
        started = time.monotonic()

        self.say(f"soak {self.tag}: {self.total} items; phase 1: partner faults only")
        refused = self.send(phases[0])

        self.say(
            f"{time.monotonic() - started:.0f}s phase 2: the bus is gone (publisher and webhooks fail)"
        )
        self.delete_bus()
        refused += self.send(phases[1], push_attempts=2)
        # the outbox stream gives up on what it could not publish
        self.wait_until(lambda: self.dlq_depth("OutboxDLQ") > 0, timeout=30)
        self.restore_bus()
        refused = self.push_until_accepted(refused, attempts=6)

        self.say(f"{time.monotonic() - started:.0f}s phase 3: the event log consumer fails")
        self.break_event_log()
        try:
            refused += self.send(phases[2])
            self.wait_until(lambda: self.dlq_depth("EventLogDLQ") > 0, timeout=30)
        finally:
            self.mend_event_log()
        if refused:
            self.say(f"{len(refused)} push(es) never accepted (refused to the end): not counted")

        self.say(f"{time.monotonic() - started:.0f}s settling")
        before = self.settle(timeout=max(30, self.total * 0.1))
        self.say(before.line())

        self.say(
            f"{time.monotonic() - started:.0f}s recovery: faults cleared, bus back, outbox swept, DLQs redriven"
        )
        recovered = self.recover()
        self.say(recovered.line())
        if recovered.lost:
            self.say(f"not done: {json.dumps(self.missing)[:2000]}")
            self.say(f"where they stand: {json.dumps(self.where())[:3000]}")
        if recovered.duplicated:
            self.say(f"duplicates: {json.dumps(self.duplicates)[:2000]}")
        self.say(f"soak took {time.monotonic() - started:.0f}s")
        return before, recovered

    def recover(self) -> Counts:
        """Clear the faults, bring the bus back, then sweep the outbox and redrive the
        DLQs until every item is done. Ends early only when nothing is left anywhere (no
        message in a queue or a DLQ, no outbox row pending, the counts unchanged twice):
        what is not done then is lost, not slow. The deadline is scaled to the machine."""
        from govbus import dlq

        for simulator in self.stack.simulators.values():
            simulator.set_faults(Faults())
        self.restore_bus()
        deadline = time.monotonic() + max(120, self.total * 0.5) * slowness()
        outbox_dlq = self.stack.resolver.refs["OutboxDLQ"]
        last, stalled = None, 0
        while True:
            try:
                self.stack.functions["PublisherFunction"].invoke(
                    {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
                )
            except Exception as exc:  # a sweep cut by its timeout: the next one goes on
                self.say(f"the outbox sweep failed ({exc}); sweeping again")
            for queue in dlq.dead_letter_queues():
                if queue["count"] and queue["url"] != outbox_dlq:
                    dlq.redrive(queue["url"])
            pending = self._outbox_pending()
            if pending == 0:
                self._clear_outbox_notices()
            counts = self.settle(timeout=20)
            if (not counts.lost and not counts.dead_lettered) or time.monotonic() >= deadline:
                return counts
            nothing_left = not pending and not counts.dead_lettered and not self.in_flight()
            stalled = stalled + 1 if nothing_left and counts == last else 0
            if stalled >= 2:
                return counts
            last = counts

    def where(self) -> dict[str, Any]:
        """Which stage holds each item not done: the trace of a failed run."""
        refs = self.stack.resolver.refs
        outbox_rows = {}
        for row in self._scan(refs["OutboxTable"]):
            envelope = json.loads(row["envelope"]["S"])
            state = "pending" if "pending" in row else "published"
            if "claimed_until" in row:
                state += " (claimed)"
            outbox_rows[envelope.get("subject") or ""] = state
        waybills = {str(w["order"]) for w in self._ems_waybills()}
        shipped = {item["case_id"]["S"] for item in self._scan(refs["ShipmentsTable"])}
        stages: dict[str, list[str]] = {}
        for note in self.missing["pushes"]:
            stage = (
                "push: on the bus, not archived"
                if note in self.seen_keys
                else ("push: accepted (2xx), never seen on the bus")
            )
            stages.setdefault(stage, []).append(note)
        for case in self.missing["commands"]:
            if case not in outbox_rows:
                stage = "command: no outbox row"
            elif outbox_rows[case].startswith("pending"):
                stage = f"command: outbox {outbox_rows[case]}"
            elif case not in self.seen_keys:
                stage = "command: marked published, never seen on the bus"
            elif case not in waybills:
                stage = "command: on the bus, no waybill at EMS"
            elif case not in shipped:
                stage = "command: waybill at EMS, no shipment recorded"
            else:
                stage = "command: ?"
            stages.setdefault(stage, []).append(case)
        from govbus import dlq

        return {
            "stages": {stage: [len(items), items[:5]] for stage, items in stages.items()},
            "queues in flight": self.in_flight(),
            "dead-letter queues": {q["name"]: q["count"] for q in dlq.dead_letter_queues()},
            "outbox pending": self._outbox_pending(),
        }

    def _outbox_pending(self) -> int:
        rows = self._scan(self.stack.resolver.refs["OutboxTable"])
        return sum(1 for r in rows if "pending" in r)

    def _clear_outbox_notices(self) -> None:
        sqs, url = self.aws["sqs"], self.stack.resolver.refs["OutboxDLQ"]
        while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages)
                ],
            )


def main(argv: list[str] | None = None) -> int:
    from govbus_dev.local.stack import LocalStack
    from tests.conftest import ROOT

    parser = argparse.ArgumentParser(
        prog="python -m tests.soak", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--total", type=int, default=2000, help="events and commands to accept")
    parser.add_argument(
        "--log",
        default=str(Path(tempfile.gettempdir()) / "govbus-soak.log"),
        help="where the functions' and the local stack's own output goes",
    )
    args = parser.parse_args(argv)
    # the functions' logs (thousands of expected failures) go to the log file; the
    # soak's own lines to the terminal
    terminal = sys.stdout
    log = open(args.log, "w", encoding="utf-8")

    def say(line: str) -> None:
        print(line, file=terminal, flush=True)

    say(f"soak: the platform's own output goes to {args.log}")
    sys.stdout = sys.stderr = log
    health = tempfile.NamedTemporaryFile("w", suffix="-acme-health", delete=False)
    health.write("up")
    health.close()
    stack = LocalStack(
        ROOT,
        port=0,
        schedules=False,
        parameters={
            "CircuitCoolDownSeconds": "2",
            "OutboxSweepAfterSeconds": "1",
            "PartnerTimeoutSeconds": str(PARTNER_TIMEOUT_SECONDS),
        },
        environment={
            "GOVBUS_DEV_ADAPTERS": "acme=tests.fixtures.acme_adapter",
            "GOVBUS_ACME_HEALTH_FILE": health.name,
        },
    )
    try:
        stack.start()
        _before, after = Soak(stack, args.total, say=say).run()
    finally:
        stack.stop()
        os.unlink(health.name)
        sys.stdout, sys.stderr = terminal, sys.__stderr__
        log.close()
    ok = after.duplicated == 0 and after.lost == 0 and after.processed == after.accepted
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
