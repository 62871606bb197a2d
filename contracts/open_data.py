"""Open data (数据开放): the datasets govbus publishes, their schemas, the suppression rule.

Every dataset is a de-identified daily aggregate: no row names a person, and no
published cell counts fewer than :data:`MIN_CELL` people. A row whose population (the
distinct people behind it) is under the minimum has every count cell suppressed; in
other rows a count of 1 to 4 is suppressed alone. Suppressed cells are empty (null in
Parquet, empty in CSV) and named in the row's ``suppressed`` column.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

MIN_CELL = 5
LICENCE = "https://creativecommons.org/licenses/by/4.0/"
DAILY = "http://purl.org/cld/freq/daily"

ColumnType = Literal["date", "string", "int64", "bool"]


class Column(BaseModel):
    name: str
    type: ColumnType
    description: str
    count: bool = False  # a count of people or cases: subject to suppression


class Dataset(BaseModel):
    name: str
    title: str
    description: str
    columns: list[Column]
    population: str  # the column-free notion of "people behind a row", for the docs

    def count_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.count]


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

DATASETS = [APPLICATIONS_DAILY, HOTLINE_DAILY]


def suppress(row: dict, counts: list[str], population: int) -> dict:
    """The row as published: small counts emptied and named (see the module)."""
    published = dict(row)
    hidden = [
        name for name in counts if population < MIN_CELL or 0 < (row.get(name) or 0) < MIN_CELL
    ]
    for name in hidden:
        published[name] = None
    published["suppressed"] = ",".join(hidden)
    return published
