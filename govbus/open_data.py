"""The daily open-data job and the DCAT catalogue of what it wrote.

The job aggregates one day (China Standard Time) of cases and hotline tickets into the
datasets of :mod:`contracts.open_data`, suppresses small cells, and writes each dataset
as Parquet (for Athena, through the Glue tables of template.yaml, which use partition
projection so no partition needs registering) and as CSV, under
``datasets/<name>/day=<YYYY-MM-DD>/`` and ``csv/<name>/day=<YYYY-MM-DD>/``.

Reading the sources is a Scan of the cases and tickets tables, once a day: a batch
job's cost, never a request's. (At a larger scale: DynamoDB's export to S3.)
The Parquet writer (arro3) is imported only here, and only when writing.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as _dt
import io
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from contracts.cases import Case, CaseState, TimelineEntry
from contracts.catalog import ServiceItem, StarLevel
from contracts.errors import NotFound
from contracts.hotline import Ticket, TicketStatus
from contracts.open_data import (
    APPLICATIONS_DAILY,
    DAILY,
    DATASETS,
    HOTLINE_DAILY,
    LICENCE,
    MIN_CELL,
    PROCESSING_TIMES,
    SATISFACTION,
    STAR_LEVELS,
    Dataset,
    protect,
)
from govbus import settings
from govbus.aws import client
from govbus.calendar import CST, WorkingCalendar, calendar
from govbus.stores import catalog

URL_SECONDS = 3600
CATALOGUE_DAYS = 31  # distributions listed per dataset: the last month's days
DECISIONS = (CaseState.approved, CaseState.rejected)


def _bucket() -> str:
    return settings.require(settings.platform(), "open_data_bucket")


def _scan(table: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    request: dict[str, Any] = {"TableName": table, **kwargs}
    while True:
        answer = client("dynamodb").scan(**request)
        yield from answer.get("Items", [])
        if "LastEvaluatedKey" not in answer:
            return
        request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def _day_of(moment: _dt.datetime | None) -> _dt.date | None:
    return moment.astimezone(CST).date() if moment else None


# --- aggregation (pure) ----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CaseFacts:
    """What the aggregate needs of a case: never its applicant, only a blind key."""

    case: Case
    applicant_key: str
    reached: frozenset[CaseState]  # every state its timeline went through
    decided_at: _dt.datetime | None = None  # when it was first approved or rejected


def applications_rows(cases: list[CaseFacts], day: _dt.date) -> list[dict]:
    """Rows for the cases submitted on ``day``; outcomes from the timelines (a rejected
    case is closed later, an approved one collected: its state now says too little)."""
    groups: dict[tuple[str, str], list[CaseFacts]] = defaultdict(list)
    for facts in cases:
        if _day_of(facts.case.submitted_at) == day:
            groups[(facts.case.agency, facts.case.item_code)].append(facts)
    rows, people = [], []
    for (agency, item_code), group in sorted(groups.items()):
        rows.append(
            {
                "day": day,
                "agency": agency,
                "item_code": item_code,
                "item_name": group[0].case.item_name,
                "applications": len(group),
                "approved": sum(1 for f in group if CaseState.approved in f.reached),
                "rejected": sum(1 for f in group if CaseState.rejected in f.reached),
                "overdue": sum(1 for f in group if f.case.overdue),
            }
        )
        people.append(len({f.applicant_key for f in group}))
    return protect(rows, people, APPLICATIONS_DAILY)


def hotline_rows(tickets: list[Ticket], day: _dt.date) -> list[dict]:
    groups: dict[tuple[str, str, str], list[Ticket]] = defaultdict(list)
    for ticket in tickets:
        if _day_of(ticket.created_at) == day:
            category = ticket.category.value if ticket.category else ""
            groups[(ticket.agency, ticket.kind.value, category)].append(ticket)
    rows, people = [], []
    for (agency, kind, category), group in sorted(groups.items()):
        rows.append(
            {
                "day": day,
                "agency": agency,
                "kind": kind,
                "category": category,
                "tickets": len(group),
                "answered": sum(
                    1 for t in group if t.status in (TicketStatus.answered, TicketStatus.closed)
                ),
                "escalated": sum(1 for t in group if t.status == TicketStatus.escalated),
            }
        )
        people.append(len(group))
    return protect(rows, people, HOTLINE_DAILY)


def satisfaction_rows(cases: list[CaseFacts], day: _dt.date) -> list[dict]:
    """Evaluations so far, per agency (evaluations carry no time: a snapshot as of the run)."""
    groups: dict[str, list[CaseFacts]] = defaultdict(list)
    for facts in cases:
        if facts.case.evaluation is not None:
            groups[facts.case.agency].append(facts)
    rows, people = [], []
    for agency, group in sorted(groups.items()):
        scores = [f.case.evaluation.score for f in group if f.case.evaluation]
        rows.append(
            {
                "day": day,
                "agency": agency,
                "evaluations": len(scores),
                "mean_score": round(sum(scores) / len(scores), 2),
                **{f"score_{n}": scores.count(n) for n in range(1, 6)},
            }
        )
        people.append(len({f.applicant_key for f in group}))
    return protect(rows, people, SATISFACTION)


def working_days_between(start: _dt.date, end: _dt.date, days: WorkingCalendar) -> int:
    """Working days after ``start`` up to and including ``end`` (0 when decided the day
    it was accepted), as a promised limit counts them from acceptance."""
    count, day = 0, start
    while day < end:
        day += _dt.timedelta(days=1)
        count += days.is_working_day(day)
    return count


def percentile(values: list[int], share: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), ``values`` sorted."""
    position = (len(values) - 1) * share
    low = int(position)
    high = min(low + 1, len(values) - 1)
    return round(values[low] + (values[high] - values[low]) * (position - low), 2)


def processing_rows(
    cases: list[CaseFacts],
    day: _dt.date,
    promised_days: dict[tuple[str, int], int],
    days: WorkingCalendar,
) -> list[dict]:
    """Rows for the cases decided on ``day``: working days from acceptance to decision
    against the item's promised limit (``promised_days`` by item code and version)."""
    groups: dict[tuple[str, str], list[tuple[CaseFacts, int, int]]] = defaultdict(list)
    for facts in cases:
        case = facts.case
        key = (case.item_code, case.item_version)
        if _day_of(facts.decided_at) != day or case.accepted_at is None or key not in promised_days:
            continue
        taken = working_days_between(_day_of(case.accepted_at), day, days)  # type: ignore[arg-type]
        groups[(case.agency, case.item_code)].append((facts, taken, promised_days[key]))
    rows, people = [], []
    for (agency, item_code), group in sorted(groups.items()):
        taken = sorted(t for _, t, _ in group)
        within = sum(1 for _, t, limit in group if t <= limit)
        rows.append(
            {
                "day": day,
                "agency": agency,
                "item_code": item_code,
                "item_name": group[0][0].case.item_name,
                "promised_days": max(limit for _, _, limit in group),
                "decided": len(group),
                "within_limit": within,
                "overdue": len(group) - within,
                "p50_working_days": percentile(taken, 0.5),
                "p90_working_days": percentile(taken, 0.9),
                "within_limit_share": round(within / len(group), 4),
                "overdue_share": round((len(group) - within) / len(group), 4),
            }
        )
        people.append(len({f.applicant_key for f, _, _ in group}))
    return protect(rows, people, PROCESSING_TIMES)


def _promised_days(cases: list[CaseFacts]) -> dict[tuple[str, int], int]:
    """The promised limit of each item version the cases were decided under (catalogue)."""
    limits = {}
    for key in {(f.case.item_code, f.case.item_version) for f in cases if f.decided_at}:
        try:
            limits[key] = catalog.public_version(*key).promised_days
        except NotFound:  # an item version never published: its cases are left out
            continue
    return limits


def star_level_rows(items: list[ServiceItem], day: _dt.date) -> list[dict]:
    groups: dict[str, list[ServiceItem]] = defaultdict(list)
    for item in items:
        groups[str(item.agency)].append(item)

    def share(group: list[ServiceItem], at_least: StarLevel) -> float:
        return round(sum(1 for i in group if i.star_level >= at_least) / len(group), 4)

    return [
        {
            "day": day,
            "agency": agency,
            "items": len(group),
            "at_least_3_star": share(group, StarLevel.online_application),
            "at_least_4_star": share(group, StarLevel.fully_online),
            "five_star": share(group, StarLevel.no_visit),
            "suppressed": "",
        }
        for agency, group in sorted(groups.items())
    ]


# --- sources ---------------------------------------------------------------------------


def _cases() -> list[CaseFacts]:
    """Every case with the states it went through: the head rows and the timeline rows."""
    heads: dict[str, tuple[Case, str]] = {}
    reached: dict[str, set[CaseState]] = defaultdict(set)
    decided: dict[str, _dt.datetime] = {}
    for row in _scan(
        settings.table("cases"), ProjectionExpression="case_id, entry, doc, applicant_key"
    ):
        case_id = row["case_id"]["S"]
        if row["entry"]["S"] == "case":
            heads[case_id] = (Case.model_validate_json(row["doc"]["S"]), row["applicant_key"]["S"])
        else:
            entry = TimelineEntry.model_validate_json(row["doc"]["S"])
            reached[case_id].add(entry.to_state)
            if entry.to_state in DECISIONS and (
                case_id not in decided or entry.at < decided[case_id]
            ):
                decided[case_id] = entry.at
    return [
        CaseFacts(case, key, frozenset(reached[case_id] | {case.state}), decided.get(case_id))
        for case_id, (case, key) in heads.items()
    ]


def _tickets() -> list[Ticket]:
    rows = _scan(settings.table("tickets"), ProjectionExpression="doc")
    return [Ticket.model_validate_json(r["doc"]["S"]) for r in rows]


# --- writing ---------------------------------------------------------------------------


# Parquet is written by arro3 (arro3-core, arro3-io: Rust's arrow and parquet crates),
# 35 MB installed against pyarrow's 172 MB, which took the function over Lambda's
# 250 MB with its layer, and importing in ~5 ms against pyarrow's 100-300 ms
# (bench/RESULTS.md). The files are plain Parquet: pyarrow and Athena read them.
_ARROW_TYPES = {
    "date": "date32",
    "string": "string",
    "int64": "int64",
    "double": "float64",
    "bool": "bool",
}
_EPOCH = _dt.date(1970, 1, 1)


def arrow_schema(dataset: Dataset) -> Any:
    from arro3.core import DataType, Field, Schema

    def field(name: str, type_: str, nullable: bool) -> Any:
        return Field(name, getattr(DataType, _ARROW_TYPES[type_])(), nullable=nullable)

    return Schema(
        [field("day", "date", False)] + [field(c.name, c.type, True) for c in dataset.columns],
        metadata={"suppression": f"counts of fewer than {MIN_CELL} people are empty"},
    )


def _column(type_: str, values: list[Any]) -> Any:
    from arro3.core import Array, DataType

    if type_ == "date":  # arro3 builds date32 from the days since 1970-01-01
        days = [None if v is None else (_as_date(v) - _EPOCH).days for v in values]
        return Array(days, DataType.int32()).cast(DataType.date32())
    return Array(values, getattr(DataType, _ARROW_TYPES[type_])())


def _as_date(value: Any) -> _dt.date:
    return value if isinstance(value, _dt.date) else _dt.date.fromisoformat(str(value))


def parquet_bytes(dataset: Dataset, rows: list[dict]) -> bytes:
    from arro3.core import Table
    from arro3.io import write_parquet

    columns = [("day", "date")] + [(c.name, c.type) for c in dataset.columns]
    arrays = [_column(type_, [row.get(name) for row in rows]) for name, type_ in columns]
    table = Table.from_arrays(arrays, schema=arrow_schema(dataset))
    sink = io.BytesIO()
    write_parquet(table, sink, compression="snappy")
    return sink.getvalue()


def csv_bytes(dataset: Dataset, rows: list[dict]) -> bytes:
    names = ["day"] + [c.name for c in dataset.columns]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=names, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else row[k] for k in names})
    return out.getvalue().encode("utf-8")


def _keys(dataset: str, day: _dt.date) -> tuple[str, str]:
    part = f"day={day.isoformat()}"
    return (
        f"datasets/{dataset}/{part}/{dataset}.parquet",
        f"csv/{dataset}/{part}/{dataset}.csv",
    )


def run(day: _dt.date) -> dict[str, int]:
    """Aggregate ``day`` and write every dataset (overwriting a rerun); rows per dataset."""
    cases = _cases()
    produced = {
        APPLICATIONS_DAILY.name: applications_rows(cases, day),
        HOTLINE_DAILY.name: hotline_rows(_tickets(), day),
        SATISFACTION.name: satisfaction_rows(cases, day),
        STAR_LEVELS.name: star_level_rows(catalog.published_items(), day),
        PROCESSING_TIMES.name: processing_rows(cases, day, _promised_days(cases), calendar()),
    }
    s3 = client("s3")
    for dataset in DATASETS:
        rows = produced[dataset.name]
        parquet_key, csv_key = _keys(dataset.name, day)
        s3.put_object(
            Bucket=_bucket(),
            Key=parquet_key,
            Body=parquet_bytes(dataset, rows),
            ContentType="application/vnd.apache.parquet",
        )
        s3.put_object(
            Bucket=_bucket(),
            Key=csv_key,
            Body=csv_bytes(dataset, rows),
            ContentType="text/csv; charset=utf-8",
        )
    return {name: len(rows) for name, rows in produced.items()}


# --- the catalogue -----------------------------------------------------------------------


def _days_written(dataset: str) -> list[_dt.date]:
    s3 = client("s3")
    kwargs: dict[str, Any] = {
        "Bucket": _bucket(),
        "Prefix": f"datasets/{dataset}/day=",
        "Delimiter": "/",
    }
    days = []
    while True:
        answer = s3.list_objects_v2(**kwargs)
        for prefix in answer.get("CommonPrefixes", []):
            days.append(_dt.date.fromisoformat(prefix["Prefix"].rstrip("/").rsplit("=", 1)[1]))
        if not answer.get("IsTruncated"):
            break
        kwargs["ContinuationToken"] = answer["NextContinuationToken"]
    return sorted(days, reverse=True)[:CATALOGUE_DAYS]


def _url(key: str) -> str:
    return client("s3").generate_presigned_url(
        "get_object", Params={"Bucket": _bucket(), "Key": key}, ExpiresIn=URL_SECONDS
    )


def catalogue() -> dict[str, Any]:
    """The datasets in DCAT terms (JSON-LD), with presigned download URLs per day."""
    datasets = []
    for dataset in DATASETS:
        distributions = []
        for day in _days_written(dataset.name):
            parquet_key, csv_key = _keys(dataset.name, day)
            for key, media, fmt in (
                (parquet_key, "application/vnd.apache.parquet", "Parquet"),
                (csv_key, "text/csv", "CSV"),
            ):
                distributions.append(
                    {
                        "@type": "dcat:Distribution",
                        "dct:title": f"{dataset.name} {day.isoformat()} ({fmt})",
                        "dct:format": fmt,
                        "dcat:mediaType": media,
                        "dct:temporal": day.isoformat(),
                        "dcat:downloadURL": _url(key),
                        "dct:license": LICENCE,
                    }
                )
        datasets.append(
            {
                "@type": "dcat:Dataset",
                "dct:identifier": dataset.name,
                "dct:title": dataset.title,
                "dct:description": dataset.description,
                "dct:license": LICENCE,
                "dct:accrualPeriodicity": DAILY,
                "dct:publisher": "govbus (福州市政务服务)",
                "govbus:suppression": (
                    f"counts of fewer than {MIN_CELL} people ({dataset.population}) are "
                    "empty and named in the row's `suppressed` column"
                ),
                "govbus:schema": [
                    {"name": "day", "type": "date", "description": "the day (CST); partition"}
                ]
                + [c.model_dump(exclude={"count"}) for c in dataset.columns],
                "dcat:distribution": distributions,
            }
        )
    return {
        "@context": {
            "dcat": "http://www.w3.org/ns/dcat#",
            "dct": "http://purl.org/dc/terms/",
            "govbus": "https://govbus.example/ns#",
        },
        "@type": "dcat:Catalog",
        "dct:title": "福州市政务服务开放数据 Fuzhou government services open data",
        "dct:license": LICENCE,
        "dcat:dataset": datasets,
    }
