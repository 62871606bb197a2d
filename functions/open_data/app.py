"""Open data: the daily job (a schedule) and the public DCAT catalogue.

schedule                 aggregate yesterday (CST), or {"day": "YYYY-MM-DD"} to backfill
GET /open-data           the datasets in DCAT terms, presigned Parquet and CSV downloads
"""

from govbus import init_phase  # noqa: F401 - first: see govbus/init_phase.py

# isort: split

import datetime as dt

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from govbus import calendar, open_data
from govbus.http import documented, install_problem_handlers, json_response
from govbus.observability import logger, metrics, tracer
from govbus.routing import HttpResolver

app = HttpResolver()
install_problem_handlers(app)


class OpenDataCatalogue(BaseModel):
    """The open-data catalogue (DCAT): de-identified aggregates."""


@app.get(
    "/open-data", **documented("The open-data catalogue (DCAT)", ok=OpenDataCatalogue, scopes=None)
)
def catalogue():
    return json_response(open_data.catalogue())


def daily_job(event: dict) -> dict:
    raw = event.get("day")
    day = dt.date.fromisoformat(raw) if isinstance(raw, str) else calendar.yesterday()
    rows = open_data.run(day)
    logger.info("open data written", extra={"day": day.isoformat(), "rows": rows})
    return {"day": day.isoformat(), "rows": rows}


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    if "requestContext" in event:  # the HTTP API
        return app.resolve(event, context)
    return daily_job(event)  # the schedule (or an operator's backfill)
