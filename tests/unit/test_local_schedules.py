"""The local stack's schedules fire as EventBridge's would: cron names, constant input."""

from __future__ import annotations

import datetime as _dt

import pytest

from govbus_dev.local.schedules import Schedule, cron_matches

# 2026-11-23 is a Monday; the week runs to Sunday 2026-11-29
MONDAY = _dt.datetime(2026, 11, 23, 9, 0, tzinfo=_dt.UTC)


def _day(offset: int) -> _dt.datetime:
    return MONDAY + _dt.timedelta(days=offset)


def test_a_weekday_name_matches_that_day_only():
    fired = [
        _day(i).strftime("%a") for i in range(7) if cron_matches("cron(0 9 ? * MON *)", _day(i))
    ]
    assert fired == ["Mon"]


def test_a_range_of_day_names_matches_the_working_week():
    fired = [
        _day(i).strftime("%a") for i in range(7) if cron_matches("cron(0 9 ? * MON-FRI *)", _day(i))
    ]
    assert fired == ["Mon", "Tue", "Wed", "Thu", "Fri"]


def test_day_names_in_a_list_and_in_lower_case_match_as_numbers_do():
    by_name = [i for i in range(7) if cron_matches("cron(0 9 ? * sat,SUN *)", _day(i))]
    by_number = [i for i in range(7) if cron_matches("cron(0 9 ? * 7,1 *)", _day(i))]
    assert by_name == by_number == [5, 6]


def test_a_month_name_matches_that_month_only():
    assert cron_matches("cron(0 9 ? NOV MON *)", MONDAY)
    assert not cron_matches("cron(0 9 ? DEC MON *)", MONDAY)
    assert cron_matches("cron(0 9 ? OCT-DEC MON *)", MONDAY)


def test_a_field_the_local_stack_cannot_honour_is_refused_rather_than_matching_every_day():
    with pytest.raises(ValueError, match="not served locally"):
        cron_matches("cron(0 9 ? * 6L *)", MONDAY)
    with pytest.raises(ValueError, match="not served locally"):
        cron_matches("cron(0 9 ? * MOX *)", MONDAY)


class _Function:
    """Stands in for a function's execution environment: notes the events it gets."""

    region = "us-east-1"

    def __init__(self) -> None:
        self.events: list[dict] = []

    def invoke(self, event: dict) -> None:
        self.events.append(event)


def test_a_schedule_with_input_hands_the_function_that_input_as_the_event():
    function = _Function()
    Schedule(function, "Sweep-Nightly", "rate(1 hour)", input='{"job": "sweep", "limit": 5}').fire()
    assert function.events == [{"job": "sweep", "limit": 5}]


def test_a_schedule_without_input_hands_the_function_a_scheduled_event():
    function = _Function()
    Schedule(function, "Sweep-Nightly", "cron(0 9 ? * MON *)").fire(MONDAY)
    assert len(function.events) == 1
    event = function.events[0]
    assert event["detail-type"] == "Scheduled Event" and event["source"] == "aws.events"
    assert event["resources"][0].endswith(":rule/Sweep-Nightly")
