"""Catalogue alignment with the provincial hall (省市事项目录比对).

"Same item, same standard, same code" across levels: a city item of province level
names the province's item it is forwarded under (``province_code``). Alignment pulls
the province's catalogue (``govbus_province_list_items``) and reports every such city
item whose code, name or time limit disagrees with the province's:

- ``code``: the province has no item under the city's ``province_code`` (when one of
  its items has the city item's name, the report names that item's code);
- ``name``: the names differ;
- ``time_limit``: the city's statutory time limit differs from the province's (working
  days).

``govbus province align`` prints the report; the weekly ``province_align`` function logs it.

The report is two plain dataclasses rather than pydantic models: it is built here, from
already validated items, and only ever written out (``as_dict``), so nothing validates
it; building two pydantic models' schemas was ~12 ms of the function's cold start.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import pluggy

from contracts.adapters import CallContext
from contracts.catalog import ItemLevel, ServiceItem
from contracts.province import ProvinceItem

ADAPTER = "province"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Disagreement:
    item_code: str  # the city's item
    item_name: str
    field: str  # code | name | time_limit
    city: str
    province: str
    note: str

    def as_dict(self) -> dict:
        """The line as JSON-ready values (every field is a str)."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class AlignmentReport:
    checked: int  # the city's province-level items compared
    province_items: int
    disagreements: list[Disagreement]

    def as_dict(self) -> dict:
        """The report as JSON-ready values (the function's result)."""
        return dataclasses.asdict(self)


def compare(city: Iterable[ServiceItem], province: Iterable[ProvinceItem]) -> AlignmentReport:
    """Compare the city's province-level items with the province's catalogue (pure)."""
    theirs = list(province)
    by_code = {p.code: p for p in theirs}
    by_name = {p.name.strip(): p for p in theirs}
    found: list[Disagreement] = []
    checked = 0
    for item in sorted(city, key=lambda i: i.code):
        if item.level != ItemLevel.province:
            continue
        checked += 1
        code = item.province_code or ""
        match = by_code.get(code)
        if match is None:
            namesake = by_name.get(item.name.strip())
            found.append(
                Disagreement(
                    item_code=item.code,
                    item_name=item.name,
                    field="code",
                    city=code,
                    province=namesake.code if namesake else "",
                    note=(
                        f"the province lists 「{item.name}」 under {namesake.code}"
                        if namesake
                        else f"the province has no item {code}"
                    ),
                )
            )
            continue
        if match.name.strip() != item.name.strip():
            found.append(
                Disagreement(
                    item_code=item.code,
                    item_name=item.name,
                    field="name",
                    city=item.name,
                    province=match.name,
                    note=f"the province names {code} 「{match.name}」",
                )
            )
        if match.time_limit_days != item.statutory_days:
            found.append(
                Disagreement(
                    item_code=item.code,
                    item_name=item.name,
                    field="time_limit",
                    city=str(item.statutory_days),
                    province=str(match.time_limit_days),
                    note=(
                        f"time limit {item.statutory_days} working days in the city, "
                        f"{match.time_limit_days} at the province"
                    ),
                )
            )
    return AlignmentReport(checked=checked, province_items=len(theirs), disagreements=found)


def run(
    pm: pluggy.PluginManager, ctx: CallContext, catalog_table: str | None = None
) -> AlignmentReport:
    """Pull the province's items and compare the city's published catalogue with them."""
    from govbus.beside import beside
    from govbus.plugins import call
    from govbus.stores import catalog

    # the city's catalogue is read while the hall is asked (and, at a cold start, while
    # the SOAP client loads): neither waits on the other
    ours = beside(lambda: catalog.published_items(table=catalog_table), "catalogue-read")
    try:
        theirs = call(pm, ADAPTER, "govbus_province_list_items", ctx=ctx)
    except BaseException:
        ours.join()  # no read outlives the run
        raise
    return compare(ours.result(), theirs)


def render(report: AlignmentReport) -> str:
    lines = [
        f"compared {report.checked} province-level item(s) with "
        f"{report.province_items} item(s) of the provincial hall"
    ]
    if not report.disagreements:
        lines.append("the catalogue agrees with the province's")
    for d in report.disagreements:
        lines.append(
            f"{d.item_code}  {d.item_name}  {d.field:<10} city {d.city or '-'}  "
            f"province {d.province or '-'}  ({d.note})"
        )
    return "\n".join(lines)
