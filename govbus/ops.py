"""What the ops console shows: adapters, the bus's throughput and latency, DLQs, cases.

Everything here reads; the one write is :func:`redrive` (through :mod:`govbus.dlq`, the
logic ``govbus dlq redrive`` uses). The event archive is read through its
``by-archive-minute`` index, one query per minute of the window, never a scan.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections import Counter, defaultdict
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from contracts.errors import Conflict, NotFound
from govbus import settings
from govbus.aws import client

if TYPE_CHECKING:
    import pluggy

# archived_minute: the UTC minute an event was archived in (the index's partition key)
ARCHIVE_MINUTE = "%Y-%m-%dT%H:%M"
MAX_WINDOW_MINUTES = 60
LATEST_CASES = 20


class AdapterStatus(BaseModel):
    adapter: str
    title: str
    family: str
    version: str
    health: str
    detail: str | None = None
    latency_ms: float | None = None
    circuit: str
    circuit_since: _dt.datetime | None = None  # when the circuit moved to that state
    failures: int
    last_error: str = ""


class EventTypeStats(BaseModel):
    type: str
    count: int
    per_minute: float
    latency_ms_p50: float | None
    latency_ms_p95: float | None
    latency_ms_p99: float | None


class Throughput(BaseModel):
    minutes: int
    total: int
    types: list[EventTypeStats]


class DeadLetterQueue(BaseModel):
    name: str
    depth: int
    sources: list[str]


class LatestCase(BaseModel):
    case_id: str
    state: str
    agency: str
    created_at: str


class CasesByState(BaseModel):
    total: int
    by_state: dict[str, int]
    latest: list[LatestCase]


# --- adapters -------------------------------------------------------------------


def adapters(pm: pluggy.PluginManager, stage: str, circuit_table: str) -> list[AdapterStatus]:
    """Every loaded adapter: what it is, its ping, and its shared circuit's state."""
    from govbus.circuit import CircuitBreaker
    from govbus.health import health_report
    from govbus.plugins import adapter_info, installed_adapters

    report = health_report(pm, stage)
    pings = report.adapters
    circuits = CircuitBreaker(circuit_table).states(
        [ping.adapter for ping in pings] + [idle.adapter for idle in report.not_loaded]
    )
    found = []
    for ping in pings:
        info = adapter_info(pm, ping.adapter)
        circuit = circuits[ping.adapter]
        found.append(
            AdapterStatus(
                adapter=ping.adapter,
                title=info.title,
                family=info.family.value,
                version=info.version,
                health=ping.status.value,
                detail=ping.detail,
                latency_ms=round(ping.latency_ms, 1) if ping.latency_ms is not None else None,
                circuit=circuit["state"],
                circuit_since=_moment(circuit["changed_at"]),
                failures=circuit["failures"],
                last_error=circuit["last_error"],
            )
        )
    points = installed_adapters()
    for idle in report.not_loaded:  # installed after the stack started: its metadata only
        circuit = circuits[idle.adapter]
        dist = points[idle.adapter].dist if idle.adapter in points else None
        found.append(
            AdapterStatus(
                adapter=idle.adapter,
                title=(dist.metadata["Summary"] or "") if dist else "",
                family="",
                version=dist.version if dist else "",
                health=idle.status,
                detail=idle.detail,
                circuit=circuit["state"],
                circuit_since=_moment(circuit["changed_at"]),
                failures=circuit["failures"],
                last_error=circuit["last_error"],
            )
        )
    return found


def _moment(unix_seconds: float) -> _dt.datetime | None:
    if not unix_seconds:
        return None
    return _dt.datetime.fromtimestamp(unix_seconds, _dt.UTC).replace(microsecond=0)


# --- the bus --------------------------------------------------------------------


def _percentile(ordered: list[float], share: float) -> float | None:
    """Nearest-rank percentile of an ascending list; None when it is empty."""
    if not ordered:
        return None
    rank = max(1, math.ceil(share * len(ordered)))
    return round(ordered[rank - 1], 1)


def _minutes(now: _dt.datetime, minutes: int) -> list[str]:
    return [(now - _dt.timedelta(minutes=m)).strftime(ARCHIVE_MINUTE) for m in range(minutes)]


def throughput(minutes: int, now: _dt.datetime | None = None) -> Throughput:
    """Events archived per type in the last ``minutes`` (the current one included), and
    each type's publish-to-archive latency percentiles (event time to archive time)."""
    if not 1 <= minutes <= MAX_WINDOW_MINUTES:
        raise ValueError(f"minutes must be between 1 and {MAX_WINDOW_MINUTES}")
    now = now or _dt.datetime.now(_dt.UTC)
    since = (now - _dt.timedelta(minutes=minutes)).isoformat()
    ddb = client("dynamodb")
    counts: Counter[str] = Counter()
    latencies: dict[str, list[float]] = defaultdict(list)
    for minute in _minutes(now, minutes + 1):
        kwargs: dict[str, Any] = {
            "TableName": settings.table("event_log"),
            "IndexName": "by-archive-minute",
            "KeyConditionExpression": "archived_minute = :m AND archived_at >= :since",
            "ExpressionAttributeValues": {":m": {"S": minute}, ":since": {"S": since}},
            "ProjectionExpression": "#t, #w, archived_at",
            "ExpressionAttributeNames": {"#t": "type", "#w": "time"},
        }
        while True:
            answer = ddb.query(**kwargs)
            for row in answer.get("Items", []):
                kind = row["type"]["S"]
                counts[kind] += 1
                archived = _dt.datetime.fromisoformat(row["archived_at"]["S"])
                published = _dt.datetime.fromisoformat(row["time"]["S"])
                latencies[kind].append(max(0.0, (archived - published).total_seconds() * 1000))
            if "LastEvaluatedKey" not in answer:
                break
            kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
    types = []
    for kind, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        ordered = sorted(latencies[kind])
        types.append(
            EventTypeStats(
                type=kind,
                count=count,
                per_minute=round(count / minutes, 2),
                latency_ms_p50=_percentile(ordered, 0.50),
                latency_ms_p95=_percentile(ordered, 0.95),
                latency_ms_p99=_percentile(ordered, 0.99),
            )
        )
    return Throughput(minutes=minutes, total=sum(counts.values()), types=types)


# --- dead letters ---------------------------------------------------------------


def _own_queues() -> list[dict[str, Any]]:
    from govbus import dlq

    listed = settings.require(settings.platform(), "dead_letter_queues")
    return dlq.named_queues(n.strip() for n in listed.split(",") if n.strip())


def dead_letter_queues() -> list[DeadLetterQueue]:
    """This stack's dead-letter queues (exactly those the template names), with depth."""
    return [
        DeadLetterQueue(name=q["name"], depth=q["count"], sources=q["sources"])
        for q in _own_queues()
    ]


def redrive(name: str, stayed: list[str] | None = None) -> list[str]:
    """Move every letter of this stack's DLQ ``name`` (its full name, or without the
    stack's prefix) back to where it failed; returns the moved ids."""
    from govbus import dlq

    own = _own_queues()
    exact = [q["url"] for q in own if q["name"] == name]
    short = [q["url"] for q in own if q["name"].endswith("-" + name)]
    # one queue by its full name, or the one whose name ends with it (e.g. dispatch-dlq)
    url = exact[0] if exact else (short[0] if len(short) == 1 else None)
    if url is None:
        raise NotFound(f"no dead-letter queue named {name[:80]!r} in this stack")
    try:
        return dlq.redrive(url, stayed=stayed)
    except LookupError as exc:  # several source queues: no one place to put letters back
        raise Conflict(str(exc)) from None


# --- cases ----------------------------------------------------------------------


def cases_by_state(limit: int = LATEST_CASES) -> CasesByState:
    """How many cases are in each state, and the latest ``limit`` of them.

    Reads the case items only (not their timelines), their state, agency and creation
    time: no applicant, sealed or not, leaves the table.
    """
    kwargs: dict[str, Any] = {
        "TableName": settings.table("cases"),
        "FilterExpression": "entry = :case",
        "ProjectionExpression": "case_id, #s, agency, created_at",
        "ExpressionAttributeNames": {"#s": "state"},
        "ExpressionAttributeValues": {":case": {"S": "case"}},
    }
    rows: list[LatestCase] = []
    ddb = client("dynamodb")
    while True:
        answer = ddb.scan(**kwargs)
        rows.extend(
            LatestCase(
                case_id=r["case_id"]["S"],
                state=r["state"]["S"],
                agency=r.get("agency", {}).get("S", ""),
                created_at=r.get("created_at", {}).get("S", ""),
            )
            for r in answer.get("Items", [])
        )
        if "LastEvaluatedKey" not in answer:
            break
        kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
    rows.sort(key=lambda r: r.created_at, reverse=True)
    return CasesByState(
        total=len(rows),
        by_state=dict(sorted(Counter(r.state for r in rows).items())),
        latest=rows[:limit],
    )
