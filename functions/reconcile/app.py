"""Daily reconciliation (对账), and the finance office's view of it.

Schedule (daily): reconcile yesterday's statement (Beijing time) against the orders
held here, store the report, replay any payment whose notification never arrived.
GET /reconciliation/{day}   the stored report of a day (scope payments:reconcile)
"""

from govbus import init_phase  # noqa: F401 - first: see govbus/init_phase.py

# isort: split

import datetime as dt

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from contracts.errors import ValidationFailed
from govbus.auth import caller
from govbus.http import documented, install_problem_handlers, json_response
from govbus.observability import logger, metrics, tracer
from govbus.routing import HttpResolver
from govbus.stores import payments as store

FINANCE_SCOPE = "payments:reconcile"

app = HttpResolver()
install_problem_handlers(app)


class ReconciliationReport(BaseModel):
    """A day's reconciliation against the platform's statement."""


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValidationFailed("the day is YYYY-MM-DD", field="day") from None


@app.get(
    "/reconciliation/<day>",
    **documented(
        "A day's reconciliation report (对账)",
        ok=ReconciliationReport,
        errors=(404, 422),
        scopes=("payments:reconcile",),
    ),
)
def report(day: str):
    caller(app).require(FINANCE_SCOPE)
    return json_response(store.report(_day(day)))


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    if event.get("detail-type") == "Scheduled Event":
        # the daily job's machinery (the matcher, payments, the partners' statements):
        # the finance office's report, read over HTTP, needs none of it
        from govbus import reconciliation
        from govbus.calendar import yesterday

        done = reconciliation.run(yesterday())
        logger.info("reconciled", extra={"day": done["day"], "counts": done["counts"]})
        return {"day": done["day"], "counts": done["counts"]}
    return app.resolve(event, context)
