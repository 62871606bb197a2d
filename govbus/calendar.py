"""Working days (工作日): weekends and public holidays off, make-up working days on.

The calendar lives in SSM (``/govbus/<stage>/calendar``) as
``{"non_working_days": [...], "extra_working_days": [...]}`` so the digital office can
publish next year's holidays without a deployment.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import functools
import json

from govbus.aws import client, stage

# Beijing time: every "day" of the platform (a statement's, an open dataset's) is one
CST = _dt.timezone(_dt.timedelta(hours=8))


def yesterday() -> _dt.date:
    """The last whole day in Beijing time: what a nightly job (reconciliation, open data)
    works on, a day's records being complete the next."""
    return _dt.datetime.now(CST).date() - _dt.timedelta(days=1)


@dataclasses.dataclass(frozen=True)
class WorkingCalendar:
    non_working: frozenset[_dt.date] = frozenset()
    extra_working: frozenset[_dt.date] = frozenset()  # 调休: a weekend day worked

    def is_working_day(self, day: _dt.date) -> bool:
        if day in self.extra_working:
            return True
        return day.weekday() < 5 and day not in self.non_working

    def add_working_days(self, start: _dt.date, days: int) -> _dt.date:
        """The date ``days`` working days after ``start`` (``start`` itself not counted)."""
        day = start
        remaining = days
        while remaining > 0:
            day += _dt.timedelta(days=1)
            if self.is_working_day(day):
                remaining -= 1
        return day

    @classmethod
    def from_json(cls, text: str) -> WorkingCalendar:
        doc = json.loads(text)
        return cls(
            non_working=frozenset(
                _dt.date.fromisoformat(d) for d in doc.get("non_working_days", [])
            ),
            extra_working=frozenset(
                _dt.date.fromisoformat(d) for d in doc.get("extra_working_days", [])
            ),
        )


@functools.lru_cache(maxsize=1)
def _load(name: str) -> WorkingCalendar:
    value = client("ssm").get_parameter(Name=name)["Parameter"]["Value"]
    return WorkingCalendar.from_json(value)


def calendar() -> WorkingCalendar:
    return _load(f"/govbus/{stage()}/calendar")
