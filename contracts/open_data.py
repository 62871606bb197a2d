"""Open data (数据开放): the datasets govbus publishes, their schemas, the suppression rule.

Every dataset is a de-identified daily aggregate: no row names a person, and no
published cell counts fewer than :data:`MIN_CELL` people. A row whose population (the
distinct people behind it) is under the minimum has every count cell suppressed; in
other rows a count of 1 to 4 is suppressed alone. Suppressed cells are empty (null in
Parquet, empty in CSV) and named in the row's ``suppressed`` column.
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


class Dataset(BaseModel):
    name: str
    title: str
    description: str
    columns: list[Column]
    population: str  # the column-free notion of "people behind a row", for the docs

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
        Column(name="mean_score", type="double", description="mean score, 1-5", derived=True),
        *(
            Column(name=f"score_{n}", type="int64", description=f"evaluations of {n}", count=True)
            for n in range(1, 6)
        ),
        SUPPRESSED,
    ],
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

DATASETS = [APPLICATIONS_DAILY, HOTLINE_DAILY, SATISFACTION, STAR_LEVELS]


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
