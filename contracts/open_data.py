"""Open data (数据开放): the datasets govbus publishes, their schemas, the suppression rule.

Every dataset is a de-identified daily aggregate: no row names a person, and no
published cell counts fewer than :data:`MIN_CELL` people. A row whose population (the
distinct people behind it) is under the minimum has every count cell suppressed; in
other rows a count of 1 to 4 is suppressed; then complementary suppression (:func:`protect`)
hides what would let a reader work a suppressed cell out from a published total. Suppressed
cells are empty (null in Parquet, empty in CSV) and named in the row's ``suppressed`` column.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel

MIN_CELL = 5
LICENCE = "https://creativecommons.org/licenses/by/4.0/"
DAILY = "http://purl.org/cld/freq/daily"

ColumnType = Literal["date", "string", "int64", "double", "bool"]


class Column(BaseModel):
    name: str
    type: ColumnType
    description: str
    count: bool = False  # a count of people or cases: subject to suppression
    derived: bool = False  # computed from the row's people (a mean): hidden with a small row
    # computed from these counts (a share, a mean): hidden whenever one of them is, since
    # with the published counts it would be one more equation a reader solves
    hidden_with: list[str] = []


class Total(BaseModel):
    """A count column that is exactly the sum of others in the same row."""

    total: str
    parts: list[str]


class Dataset(BaseModel):
    name: str
    title: str
    description: str
    columns: list[Column]
    population: str  # the column-free notion of "people behind a row", for the docs
    totals: list[Total] = []  # groups for complementary suppression within a row

    def count_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.count]

    def derived_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.derived]


DAY = Column(name="day", type="date", description="the day (China Standard Time); partition")
SUPPRESSED = Column(
    name="suppressed",
    type="string",
    description="count columns suppressed in this row (fewer than 5 people), comma-separated",
)

APPLICATIONS_DAILY = Dataset(
    name="applications_daily",
    title="Applications and results per service item, agency and day (办件量与办理结果)",
    description=(
        "Applications submitted per service item and day, with their outcome so far, the "
        "cases past their promised time limit, and how many were decided within it."
    ),
    population="distinct applicants of the item that day",
    columns=[
        Column(name="agency", type="string", description="implementing agency's credit code"),
        Column(name="item_code", type="string", description="service item code"),
        Column(name="item_name", type="string", description="service item name"),
        Column(name="applications", type="int64", description="cases submitted", count=True),
        Column(name="approved", type="int64", description="of those, approved", count=True),
        Column(name="rejected", type="int64", description="of those, rejected", count=True),
        Column(
            name="overdue",
            type="int64",
            description="of those, past the promised time limit",
            count=True,
        ),
        SUPPRESSED,
    ],
)

HOTLINE_DAILY = Dataset(
    name="hotline_daily",
    title="12345 hotline tickets by agency, kind, category and day (12345热线工单)",
    description="Consultations and complaints filed per agency and day, answered and escalated.",
    population="tickets (one caller each) in the row",
    columns=[
        Column(name="agency", type="string", description="assigned agency's credit code"),
        Column(name="kind", type="string", description="consultation or complaint"),
        Column(name="category", type="string", description="complaint category, or empty"),
        Column(name="tickets", type="int64", description="tickets filed", count=True),
        Column(name="answered", type="int64", description="of those, answered", count=True),
        Column(name="escalated", type="int64", description="of those, escalated", count=True),
        SUPPRESSED,
    ],
)

SATISFACTION = Dataset(
    name="satisfaction",
    title="Applicants' satisfaction per agency, as of each day (好差评)",
    description=(
        "Every evaluation applicants gave the agency's closed cases up to the day: how many, "
        "the mean score and the spread of scores 1 (poor) to 5 (very satisfied)."
    ),
    population="applicants who evaluated",
    columns=[
        Column(name="agency", type="string", description="implementing agency's credit code"),
        Column(name="evaluations", type="int64", description="evaluations given", count=True),
        Column(
            name="mean_score",
            type="double",
            description="mean score, 1-5",
            derived=True,
            hidden_with=[f"score_{n}" for n in range(1, 6)],
        ),
        *(
            Column(name=f"score_{n}", type="int64", description=f"evaluations of {n}", count=True)
            for n in range(1, 6)
        ),
        SUPPRESSED,
    ],
    totals=[Total(total="evaluations", parts=[f"score_{n}" for n in range(1, 6)])],
)

STAR_LEVELS = Dataset(
    name="star_levels",
    title="Online depth of service items per agency, as of each day (网上办事深度)",
    description=(
        "Published service items per agency and the shares at 3★ or more (online application "
        "and pre-review), 4★ or more (fully online, 全程网办) and 5★ (no visit)."
    ),
    population="service items (not people: nothing to suppress)",
    columns=[
        Column(name="agency", type="string", description="implementing agency's credit code"),
        Column(name="items", type="int64", description="published service items"),
        Column(name="at_least_3_star", type="double", description="share of items at 3★+"),
        Column(name="at_least_4_star", type="double", description="share of items at 4★+"),
        Column(name="five_star", type="double", description="share of items at 5★"),
        SUPPRESSED,
    ],
)

PROCESSING_TIMES = Dataset(
    name="processing_times",
    title="Processing times against the promised limit per service item, agency and day (办理时效)",
    description=(
        "Cases decided (approved or rejected) per service item and day, and how long they "
        "took in working days from acceptance (受理) to the decision: the median and 90th "
        "percentile, and how many were decided within the item's promised time limit "
        "(承诺时限) and how many after it."
    ),
    population="distinct applicants of the cases decided that day",
    columns=[
        Column(name="agency", type="string", description="implementing agency's credit code"),
        Column(name="item_code", type="string", description="service item code"),
        Column(name="item_name", type="string", description="service item name"),
        Column(
            name="promised_days",
            type="int64",
            description="the item's promised time limit in working days (catalogue)",
        ),
        Column(name="decided", type="int64", description="cases decided that day", count=True),
        Column(
            name="within_limit",
            type="int64",
            description="of those, decided within the promised limit",
            count=True,
        ),
        Column(
            name="overdue",
            type="int64",
            description="of those, decided after the promised limit",
            count=True,
        ),
        Column(
            name="p50_working_days",
            type="double",
            description="median working days from acceptance to decision",
            derived=True,
        ),
        Column(
            name="p90_working_days",
            type="double",
            description="90th percentile of working days from acceptance to decision",
            derived=True,
        ),
        Column(
            name="within_limit_share",
            type="double",
            description="within_limit / decided",
            derived=True,
            hidden_with=["within_limit", "decided"],
        ),
        Column(
            name="overdue_share",
            type="double",
            description="overdue / decided",
            derived=True,
            hidden_with=["overdue", "decided"],
        ),
        SUPPRESSED,
    ],
    totals=[Total(total="decided", parts=["within_limit", "overdue"])],
)

DATASETS = [APPLICATIONS_DAILY, HOTLINE_DAILY, SATISFACTION, STAR_LEVELS, PROCESSING_TIMES]


def suppress(
    row: dict, counts: Sequence[str], population: int, derived: Sequence[str] = ()
) -> dict:
    """The row as published: small counts emptied and named (see the module)."""
    published = dict(row)
    hidden = [
        name for name in counts if population < MIN_CELL or 0 < (row.get(name) or 0) < MIN_CELL
    ]
    if population < MIN_CELL:
        hidden += list(derived)
    for name in hidden:
        published[name] = None
    published["suppressed"] = ",".join(hidden)
    return published


Cell = tuple[int, str]  # (row index, column name)
Group = tuple[Cell, list[Cell]]  # a total and the cells that add up to it


def protect(
    rows: Sequence[dict],
    populations: Sequence[int],
    dataset: Dataset,
    groups: Sequence[Group] = (),
) -> list[dict]:
    """The rows as published: primary suppression (see the module), then complementary.

    Primary suppression alone leaks: where a published total is the sum of its parts
    (a row's ``evaluations`` of its ``score_n``; ``decided`` of ``within_limit`` and
    ``overdue``; any ``groups`` given, such as an agency total over its items' rows), the
    one hidden part is the total minus the others. So, until nothing changes: in each
    group with a published total and exactly one hidden part, the next smallest published
    part (non-zero first) is hidden too, or the total when no other part is published; a
    hidden total whose parts are all published gets its smallest part hidden. A value
    computed from counts (``hidden_with``) is hidden with any of them.
    """
    counts = dataset.count_columns()
    hidden: set[Cell] = set()
    for i, (row, people) in enumerate(zip(rows, populations, strict=True)):
        for name in counts:
            if people < MIN_CELL or 0 < (row.get(name) or 0) < MIN_CELL:
                hidden.add((i, name))
    every_group: list[Group] = list(groups) + [
        ((i, t.total), [(i, part) for part in t.parts])
        for i in range(len(rows))
        for t in dataset.totals
    ]

    def value(cell: Cell) -> int:
        return rows[cell[0]].get(cell[1]) or 0

    def smallest(cells: list[Cell]) -> Cell:
        return min(cells, key=lambda c: (value(c) == 0, value(c), c))

    changed = True
    while changed:
        changed = False
        for total, parts in every_group:
            shown = [c for c in parts if c not in hidden]
            hidden_parts = len(parts) - len(shown)
            if total not in hidden and hidden_parts == 1:
                hidden.add(smallest(shown) if shown else total)
                changed = True
            elif total in hidden and hidden_parts == 0 and shown:
                hidden.add(smallest(shown))
                changed = True

    published = []
    for i, (row, people) in enumerate(zip(rows, populations, strict=True)):
        out = dict(row)
        names = [c.name for c in dataset.columns]
        gone = {name for name in counts if (i, name) in hidden}
        if people < MIN_CELL:
            gone |= set(dataset.derived_columns())
        for column in dataset.columns:
            if any((i, name) in hidden for name in column.hidden_with):
                gone.add(column.name)
        for name in gone:
            out[name] = None
        out["suppressed"] = ",".join(n for n in names if n in gone)
        published.append(out)
    return published
