"""``Schedule`` events: rate() and cron() expressions fired as EventBridge would."""

from __future__ import annotations

import datetime as _dt
import json
import logging
import re
import uuid
from typing import Any

from govbus_dev.local.background import Background
from govbus_dev.local.runtime import LocalFunction
from govbus_dev.local.template import ACCOUNT_ID

log = logging.getLogger("govbus_dev")

_UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}


def rate_seconds(expression: str) -> int | None:
    m = re.fullmatch(r"rate\((\d+)\s+(\w+)\)", expression.strip())
    if not m:
        return None
    return int(m.group(1)) * _UNITS[m.group(2)]


# EventBridge accepts names (any case) for months and days of the week; 1 = Sunday
_MONTHS = {
    name: number
    for number, name in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1
    )
}
_WEEKDAYS = {
    name: number for number, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], 1)
}


def _numbers(field: str, names: dict[str, int]) -> str:
    """``MON-FRI`` as ``2-6``; a letter left over (``L``, ``W``, ``#``) is refused."""
    upper = re.sub(r"[A-Za-z]{3}", lambda m: str(names.get(m.group(0).upper(), m.group(0))), field)
    if re.search(r"[^0-9*?,/-]", upper):
        raise ValueError(f"cron field {field!r} is not served locally (names, numbers, * ? , - /)")
    return upper


def _field_matches(field: str, value: int, low: int) -> bool:
    if field in ("*", "?"):
        return True
    for part in field.split(","):
        step = 1
        if "/" in part:
            part, raw_step = part.split("/")
            step = int(raw_step)
        if part in ("*", "?"):
            start, end = low, 10**6
        elif "-" in part:
            start, end = (int(x) for x in part.split("-"))
        else:
            start = end = int(part)
            if step > 1:
                end = 10**6
        if start <= value <= end and (value - start) % step == 0:
            return True
    return False


def cron_matches(expression: str, when: _dt.datetime) -> bool:
    """AWS cron: minutes hours day-of-month month day-of-week year (UTC)."""
    m = re.fullmatch(r"cron\((.+)\)", expression.strip())
    if not m:
        raise ValueError(f"not a cron expression: {expression}")
    minute, hour, dom, month, dow, year = m.group(1).split()
    minute, hour, dom, year = (_numbers(f, {}) for f in (minute, hour, dom, year))
    month, dow = _numbers(month, _MONTHS), _numbers(dow, _WEEKDAYS)
    aws_dow = (when.isoweekday() % 7) + 1  # AWS: 1 = Sunday
    return (
        _field_matches(minute, when.minute, 0)
        and _field_matches(hour, when.hour, 0)
        and _field_matches(dom, when.day, 1)
        and _field_matches(month, when.month, 1)
        and _field_matches(dow, aws_dow, 1)
        and _field_matches(year, when.year, 1970)
    )


def scheduled_event(rule_name: str, region: str, when: _dt.datetime) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{ACCOUNT_ID}:rule/{rule_name}"],
        "detail": {},
    }


class Schedule(Background):
    """``Input`` (a JSON text), when set, is the event the function gets, in place of the
    ``Scheduled Event``, as EventBridge sends a rule's constant input."""

    def __init__(
        self,
        function: LocalFunction,
        name: str,
        expression: str,
        input: str | dict[str, Any] | None = None,
    ) -> None:
        self.function = function
        self.name = name
        self.expression = expression
        self.input = json.loads(input) if isinstance(input, str) else input
        self.every = rate_seconds(expression)
        if self.every is None:
            cron_matches(expression, _dt.datetime.now(_dt.UTC))  # validate early
        super().__init__()

    def fire(self, when: _dt.datetime | None = None) -> Any:
        when = when or _dt.datetime.now(_dt.UTC)
        if self.input is not None:
            return self.function.invoke(self.input)
        return self.function.invoke(scheduled_event(self.name, self.function.region, when))

    def _run(self) -> None:
        last_minute = None
        while not self._stop.is_set():
            if self.every is not None:
                if self._stop.wait(self.every):
                    return
                self._safe_fire()
            else:
                now = _dt.datetime.now(_dt.UTC).replace(second=0, microsecond=0)
                if now != last_minute and cron_matches(self.expression, now):
                    last_minute = now
                    self._safe_fire(now)
                self._stop.wait(5)

    def _safe_fire(self, when: _dt.datetime | None = None) -> None:
        try:
            self.fire(when)
        except Exception:
            log.exception("scheduled %s failed", self.name)

    def _thread_name(self) -> str:
        return f"schedule-{self.name}"
