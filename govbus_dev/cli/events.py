"""``govbus events tail`` and ``govbus replay``: watching the bus and re-publishing to it.

``events tail --follow`` subscribes to the bus for as long as it runs: a queue and a
rule of its own (``<stack>-tail-<random>``), removed on exit (Ctrl-C, SIGTERM,
``--count`` or ``--timeout``). ``--no-follow`` reads the event log's archive instead.
Identity codes and phone numbers are masked in everything printed.

``replay`` re-publishes archived events (by id or time range) to ONE consumer: a
target of the bus's rules (``eventlog``, ``dispatch``, ``notifications`` ...). Each
event goes to the consumer's queue as EventBridge would deliver it, and only when one
of the consumer's rules routes it there. The archive keeps identifiers masked, so a
replayed event carries them masked; consumers are idempotent on the event id, so an
event the consumer already carried out is not carried out again.
"""

from __future__ import annotations

import datetime as _dt
import fnmatch
import json
import signal
import threading
import time
import uuid
from typing import Annotated, Any

import typer

from govbus_dev.cli.app import app, events_app
from govbus_dev.cli.output import print_json, progress, say, table, warn
from govbus_dev.cli.stack import (
    StackOption,
    require_table,
    stack_name,
    use_local_stack_if_running,
)

TAIL_MARK = "-tail-"
_MISSING = object()


def _bus(stack: str) -> str:
    return f"{stack}-bus"


def _eventlog(stack: str) -> str:
    return f"{stack}-eventlog"


# ------------------------------------------------------------------ printing events


def _row(detail: dict[str, Any]) -> dict[str, str]:
    """What a person sees of an event: no identity code or phone number in clear."""
    from contracts.masking import mask_text

    return {
        "time": str(detail.get("time", "")),
        "type": str(detail.get("type", "")),
        "source": str(detail.get("source", "")),
        "subject": mask_text(str(detail.get("subject") or "-")),
        "id": str(detail.get("id", "")),
    }


def _emit(detail: dict[str, Any], as_json: bool) -> None:
    from contracts.masking import mask_text

    if as_json:
        # JSON Lines: one masked envelope a line, for `| jq` while it runs
        print(mask_text(json.dumps(detail, ensure_ascii=False, default=str)), flush=True)
        return
    row = _row(detail)
    say(f"{row['time']:<33} {row['type']:<30} {row['source']:<24} {row['subject']:<22} {row['id']}")


# ------------------------------------------------------------------ events tail


@events_app.command("tail")
def tail(
    type_pattern: Annotated[
        str | None,
        typer.Option("--type", help="only event types matching this glob, e.g. 'case.*'"),
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow/--no-follow", help="follow live, or print the archive")
    ] = True,
    as_json: Annotated[
        bool, typer.Option("--json", help="one JSON envelope a line (masked), for scripts")
    ] = False,
    limit: Annotated[int, typer.Option(help="--no-follow: the latest this many")] = 20,
    count: Annotated[int | None, typer.Option(help="--follow: stop after this many events")] = None,
    timeout: Annotated[
        float | None, typer.Option(help="--follow: stop after this many seconds")
    ] = None,
    stack: StackOption = None,
) -> int:
    """Follow the bus live (or print the latest archived events), identifiers masked."""
    use_local_stack_if_running()
    name = stack_name(stack)

    def wanted(event_type: str) -> bool:
        return type_pattern is None or fnmatch.fnmatchcase(event_type, type_pattern)

    if not follow:
        return _print_archive(name, wanted, limit, as_json)
    return _follow(name, wanted, count, timeout, as_json)


def _print_archive(stack: str, wanted: Any, limit: int, as_json: bool) -> int:
    from govbus.aws import client

    table_name = _eventlog(stack)
    if not require_table(table_name):
        return 2
    found: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table_name}
    # the event log has no index on time: a scan (fine for a look; replay says the same)
    while True:
        answer = client("dynamodb").scan(**kwargs)
        for item in answer.get("Items", []):
            if wanted(item["type"]["S"]):
                found.append(json.loads(item["envelope"]["S"]))
        if "LastEvaluatedKey" not in answer:
            break
        kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
    latest = sorted(found, key=lambda d: str(d.get("time", "")))[-limit:] if limit > 0 else []
    for detail in latest:
        _emit(detail, as_json)
    if not as_json:
        warn(f"({len(latest)} of {len(found)} archived event(s) in {table_name})")
    return 0


def _follow(
    stack: str, wanted: Any, count: int | None, timeout: float | None, as_json: bool
) -> int:
    from botocore.exceptions import ClientError, EndpointConnectionError

    from govbus.aws import client

    events, sqs = client("events"), client("sqs")
    bus = _bus(stack)
    tag = f"{stack}{TAIL_MARK}{uuid.uuid4().hex[:8]}"
    try:
        events.describe_event_bus(Name=bus)
    except (ClientError, EndpointConnectionError) as exc:
        warn(f"govbus events tail: no bus {bus} (is --stack right? is the stack running?): {exc}")
        return 2
    stop = threading.Event()
    previous = _stop_on_sigterm(stop)
    queue_url = ""
    try:
        queue_url = sqs.create_queue(QueueName=tag, Attributes={"MessageRetentionPeriod": "300"})[
            "QueueUrl"
        ]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        rule_arn = events.put_rule(
            Name=tag,
            EventBusName=bus,
            EventPattern=json.dumps({"source": [{"prefix": "govbus."}]}),
            Description="govbus events tail (removed when the tail ends)",
        )["RuleArn"]
        # EventBridge may send to the queue only for this rule
        sqs.set_queue_attributes(
            QueueUrl=queue_url,
            Attributes={
                "Policy": json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "events.amazonaws.com"},
                                "Action": "sqs:SendMessage",
                                "Resource": queue_arn,
                                "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
                            }
                        ],
                    }
                )
            },
        )
        events.put_targets(Rule=tag, EventBusName=bus, Targets=[{"Id": "tail", "Arn": queue_arn}])
        if not as_json:
            warn(f"(following {bus}; Ctrl-C stops)")
        seen = 0
        deadline = time.monotonic() + timeout if timeout is not None else None
        while not stop.is_set():
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                break
            wait = 2 if left is None else max(0, min(2, int(left)))
            messages = sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait
            ).get("Messages", [])
            for message in messages:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                detail = json.loads(message["Body"]).get("detail") or {}
                if not wanted(str(detail.get("type", ""))):
                    continue
                _emit(detail, as_json)
                seen += 1
                if count is not None and seen >= count:
                    stop.set()
                    break
    except KeyboardInterrupt:
        pass
    finally:
        _remove(events, sqs, bus, tag, queue_url)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return 0


def _stop_on_sigterm(stop: threading.Event) -> Any:
    """SIGTERM ends the tail as Ctrl-C does: its rule and queue are removed."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def _handler(signum: int, _frame: object) -> None:
        stop.set()

    return signal.signal(signal.SIGTERM, _handler)


def _remove(events: Any, sqs: Any, bus: str, tag: str, queue_url: str) -> None:
    from botocore.exceptions import ClientError

    for step in (
        lambda: events.remove_targets(Rule=tag, EventBusName=bus, Ids=["tail"]),
        lambda: events.delete_rule(Name=tag, EventBusName=bus),
        lambda: sqs.delete_queue(QueueUrl=queue_url) if queue_url else None,
    ):
        try:
            step()
        except ClientError:
            pass  # never created (an early failure): nothing to remove


# ------------------------------------------------------------------ replay


def matches(pattern: dict[str, Any], event: Any) -> bool:
    """Whether an EventBridge event pattern matches ``event`` (the subset govbus uses).

    Values lists, nested objects, ``prefix``, ``suffix``, ``anything-but``, ``exists``
    and ``equals-ignore-case``; any other operator is refused, never guessed.
    """
    for key, rule in pattern.items():
        value = event.get(key, _MISSING) if isinstance(event, dict) else _MISSING
        if isinstance(rule, dict):
            if not isinstance(value, dict) or not matches(rule, value):
                return False
        elif not any(_alternative(alt, value) for alt in rule):
            return False
    return True


def _alternative(alt: Any, value: Any) -> bool:
    values = value if isinstance(value, list) else [value]
    if not isinstance(alt, dict):
        return value is not _MISSING and alt in values
    ((op, arg),) = alt.items()
    if op == "exists":
        return (value is not _MISSING) == bool(arg)
    if value is _MISSING:
        return False
    strings = [v for v in values if isinstance(v, str)]
    if op == "prefix":
        return any(v.startswith(arg) for v in strings)
    if op == "suffix":
        return any(v.endswith(arg) for v in strings)
    if op == "equals-ignore-case":
        return any(v.lower() == str(arg).lower() for v in strings)
    if op == "anything-but":
        excluded = arg if isinstance(arg, list) else [arg]
        return all(v not in excluded for v in values)
    raise ValueError(f"event pattern operator {op!r} is not understood by govbus replay")


def consumers(stack: str) -> dict[str, dict[str, Any]]:
    """The bus's consumers: target id -> its rules' patterns and queue URLs."""
    from govbus.aws import client

    events, sqs = client("events"), client("sqs")
    found: dict[str, dict[str, Any]] = {}
    kwargs: dict[str, Any] = {"EventBusName": _bus(stack)}
    while True:
        answer = events.list_rules(**kwargs)
        for rule in answer.get("Rules", []):
            if TAIL_MARK in rule["Name"] or not rule.get("EventPattern"):
                continue  # a running tail; a schedule
            for target in events.list_targets_by_rule(
                Rule=rule["Name"], EventBusName=_bus(stack)
            ).get("Targets", []):
                if ":sqs:" not in target["Arn"]:
                    continue
                queue = target["Arn"].rsplit(":", 1)[-1]
                entry = found.setdefault(target["Id"], {"patterns": [], "queues": {}, "rules": []})
                entry["patterns"].append(json.loads(rule["EventPattern"]))
                entry["rules"].append(rule["Name"])
                if queue not in entry["queues"]:
                    entry["queues"][queue] = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
        if not answer.get("NextToken"):
            break
        kwargs["NextToken"] = answer["NextToken"]
    return found


def _pick_consumer(found: dict[str, dict[str, Any]], name: str, stack: str) -> str | None:
    if name in found:
        return name
    for consumer, entry in found.items():
        if any(q in (name, f"{stack}-{name}") for q in entry["queues"]):
            return consumer
    return None


def _envelope(event: Any, region: str) -> dict[str, Any]:
    """The event as EventBridge delivers it to a queue (what consumers parse)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": event.type,
        "source": event.source,
        "account": "000000000000",
        "time": event.time.astimezone(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [],
        "detail": json.loads(event.model_dump_json()),
    }


def _archived_by_id(table_name: str, ids: list[str]) -> tuple[list[Any], list[str]]:
    from contracts.events import Event
    from contracts.subscriptions import EVENT_OWNER
    from govbus.aws import client

    found, missing = [], []
    for event_id in ids:
        item = (
            client("dynamodb")
            .get_item(TableName=table_name, Key={"id": {"S": event_id}})
            .get("Item")
        )
        if not item:
            missing.append(event_id)
            continue
        doc = json.loads(item["envelope"]["S"])
        # as the subscriptions' replay does: the owning agency's code is public
        owner_field = EVENT_OWNER.get(doc.get("type", ""))
        if owner_field and "owner" in item:
            doc.setdefault("data", {})[owner_field] = item["owner"]["S"]
        found.append(Event.model_validate(doc))
    return sorted(found, key=lambda e: e.time), missing


def _when(text: str) -> _dt.datetime:
    moment = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:  # a time without a zone is Beijing time, as the city's
        from govbus.calendar import CST

        moment = moment.replace(tzinfo=CST)
    return moment


@app.command()
def replay(
    consumer: Annotated[
        str, typer.Option(help="a consumer of the bus: eventlog, dispatch, notifications, ...")
    ],
    ids: Annotated[
        list[str] | None, typer.Option("--id", help="an archived event's id (repeatable)")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="from this time (ISO 8601; no zone = Beijing time)")
    ] = None,
    until: Annotated[str | None, typer.Option(help="up to this time, not included")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="list what would be sent; send nothing")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON document, for scripts")] = False,
    stack: StackOption = None,
) -> int:
    """Re-publish archived events, by id or time range, to one consumer."""
    from govbus import settings
    from govbus import subscriptions as subscriptions_logic
    from govbus.aws import client

    if (ids and (since or until)) or (not ids and not (since and until)):
        warn("govbus replay: give --id ID (repeatable), or both --since and --until")
        return 2
    try:
        window = (_when(since), _when(until)) if since and until else None
    except ValueError as exc:
        warn(f"govbus replay: --since/--until: {exc} (use ISO 8601, e.g. 2026-11-27T09:00)")
        return 2
    if window and window[0] >= window[1]:
        warn(
            f"govbus replay: --since {since} is not before --until {until}: "
            "the range is empty (since is included, until is not)"
        )
        return 2
    use_local_stack_if_running()
    name = stack_name(stack)
    table_name = _eventlog(name)
    if not require_table(table_name):
        return 2
    found = consumers(name)
    picked = _pick_consumer(found, consumer, name)
    if picked is None:
        warn(
            f"govbus replay: no consumer {consumer!r} on {_bus(name)} "
            f"(there are: {', '.join(sorted(found)) or 'none'})"
        )
        return 2
    target = found[picked]
    if window:
        # the event log has no index on time: this scans it, filtered (as the
        # subscriptions' replay does, and within its limit of events)
        with settings.override(event_log=table_name):
            chosen = subscriptions_logic._archived(*window)
    else:
        chosen, missing = _archived_by_id(table_name, list(ids or []))
        if missing:
            warn(f"govbus replay: not in the event log ({table_name}): {', '.join(missing)}")
            return 2
    region = client("sqs").meta.region_name
    routed, skipped = [], []
    for event in chosen:
        envelope = _envelope(event, region)
        try:
            hit = any(matches(p, envelope) for p in target["patterns"])
        except ValueError as exc:
            warn(f"govbus replay: {exc}")
            return 2
        (routed if hit else skipped).append((event, envelope))
    if not dry_run:
        sqs = client("sqs")
        with progress(f"replaying to {picked}", total=len(routed) * len(target["queues"])) as step:
            for _event, envelope in routed:
                for url in target["queues"].values():
                    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(envelope))
                    step()
    verb = "would replay" if dry_run else "replayed"
    if as_json:
        print_json(
            {
                "consumer": picked,
                "queues": sorted(target["queues"]),
                "dry_run": dry_run,
                "replayed": [_row(json.loads(e.model_dump_json())) for e, _ in routed],
                "skipped": [_row(json.loads(e.model_dump_json())) for e, _ in skipped],
            }
        )
        return 0
    if routed:
        table(
            ["time", "type", "subject", "id"],
            [
                (r["time"], r["type"], r["subject"], r["id"])
                for r in (_row(json.loads(e.model_dump_json())) for e, _ in routed)
            ],
        )
    say(
        f"{verb} {len(routed)} event(s) to {picked} ({', '.join(sorted(target['queues']))})"
        + (f"; {len(skipped)} skipped: its rules do not route them there" if skipped else "")
    )
    if routed:
        warn("(identity codes and phone numbers arrive masked: the event log keeps them so)")
    return 0
