"""``govbus open-data publish``: the open-data daily job, now, for one day.

The job is the runtime's (govbus/open_data.py, run by the ``open_data`` function's
schedule at 01:30 Beijing time for the day before); this runs the same logic from the
command line against the stack's tables and bucket, so a fresh local stack (or a missed
night) gets its datasets without waiting for the schedule.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from govbus_dev.cli.app import open_data_app
from govbus_dev.cli.output import say, table, warn
from govbus_dev.cli.stack import (
    StackOption,
    StageOption,
    require_table,
    stack_name,
    use_local_stack_if_running,
)


def bucket_name(stack: str, account: str) -> str:
    """template.yaml's ``OpenDataBucket``: ``${AWS::StackName}-open-data-${AWS::AccountId}``."""
    return f"{stack}-open-data-{account}".lower()


@open_data_app.command("publish")
def publish(
    day: Annotated[
        str | None, typer.Option(help="YYYY-MM-DD (Beijing time; default: yesterday)")
    ] = None,
    stack: StackOption = None,
    stage: StageOption = "dev",
) -> int:
    """Aggregate a day into the open datasets now (what the daily job does at 01:30)."""
    from govbus.calendar import yesterday

    latest = yesterday()
    try:
        when = dt.date.fromisoformat(day) if day else latest
    except ValueError:
        warn(f"govbus open-data publish: --day {day!r} is not YYYY-MM-DD")
        return 2
    if when > latest:
        # a day is published once it is over: a part of today, or the future, never
        warn(
            f"govbus open-data publish: {when} is not over yet (Beijing time); "
            f"the latest day to publish is {latest}"
        )
        return 2
    use_local_stack_if_running()
    name = stack_name(stack)
    # the template's TableName of each (``${AWS::StackName}-...``)
    tables = {
        "cases": f"{name}-cases",
        "tickets": f"{name}-hotline-tickets",
        "catalog": f"{name}-catalog",
    }
    if not all(require_table(t) for t in tables.values()):
        return 2
    from govbus import open_data, settings
    from govbus.aws import client

    bucket = bucket_name(name, client("sts").get_caller_identity()["Account"])
    with settings.override(**tables, open_data_bucket=bucket, stage=stage):
        rows = open_data.run(when)
    table(["dataset", "rows"], sorted(rows.items()))
    say(
        f"open data of {when.isoformat()} written to s3://{bucket} (Parquet and CSV); "
        "GET /open-data lists it"
    )
    return 0
