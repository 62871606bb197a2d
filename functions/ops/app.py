"""The ops API behind the ops console: for tokens of the ops role only.

GET  /ops/adapters               every adapter: version, health (ping), circuit state
GET  /ops/events?minutes=N       events archived per type in the last N minutes (1-60),
                                 with publish-to-archive latency percentiles
GET  /ops/dlq                    this stack's dead-letter queues and their depth
POST /ops/dlq/{queue}/redrive    move a DLQ's letters back to where they failed (audited)
GET  /ops/cases                  cases per state and the latest ones (no applicant data)

A citizen's or a department's token is refused with 403 problem+json; the star-level
report the console shows beside these is the public GET /catalog/report.
"""

from govbus import init_phase  # noqa: F401 - first: see govbus/init_phase.py

# isort: split

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from contracts.errors import Forbidden
from govbus import audit, ops, settings
from govbus.auth import Caller, caller
from govbus.aws import stage
from govbus.http import documented, install_problem_handlers, json_response, whole_number
from govbus.observability import logger, metrics, tracer
from govbus.plugins import plugin_manager
from govbus.routing import HttpResolver

DEFAULT_MINUTES = 15
OPS = ("ops",)  # the one scope of an ops client's token


class AdapterList(BaseModel):
    adapters: list[ops.AdapterStatus]


class DeadLetterQueues(BaseModel):
    queues: list[ops.DeadLetterQueue]


class Redriven(BaseModel):
    queue: str
    moved: int
    message_ids: list[str]
    stayed: int = 0  # letters with no queue to go back to
    reason: str = ""  # why they stayed


app = HttpResolver()
install_problem_handlers(app)


def _ops() -> Caller:
    who = caller(app)
    if not who.is_ops:
        raise Forbidden("the ops API is for ops tokens only (a client of the ops role)")
    return who


@app.get(
    "/ops/adapters",
    **documented("Adapters: health and circuit state", ok=AdapterList, scopes=OPS),
)
def list_adapters():
    _ops()
    found = ops.adapters(plugin_manager(), stage(), settings.table("circuit"))
    return json_response({"adapters": [a.model_dump(mode="json") for a in found]})


@app.get(
    "/ops/events",
    **documented(
        "Events archived per type, with publish-to-archive latency",
        ok=ops.Throughput,
        errors=(422,),
        scopes=OPS,
        query={"minutes": f"the window, 1 to 60 minutes (default {DEFAULT_MINUTES})"},
    ),
)
def event_throughput():
    _ops()
    minutes = whole_number(
        app.current_event.get_query_string_value("minutes"),
        "minutes",
        1,
        ops.MAX_WINDOW_MINUTES,
        default=DEFAULT_MINUTES,
    )
    return json_response(ops.throughput(minutes))


@app.get(
    "/ops/dlq",
    **documented(
        "This stack's dead-letter queues and their depth", ok=DeadLetterQueues, scopes=OPS
    ),
)
def list_dead_letter_queues():
    _ops()
    return json_response({"queues": [q.model_dump() for q in ops.dead_letter_queues()]})


@app.post(
    "/ops/dlq/<queue>/redrive",
    **documented(
        "Move a DLQ's letters back to where they failed (audited)",
        ok=Redriven,
        errors=(404,),
        scopes=OPS,
    ),
)
def redrive(queue: str):
    who = _ops()
    stayed: list[str] = []
    moved = ops.redrive(queue, stayed)
    audit.record(
        "dlq.redriven", actor=f"ops:{who.subject}", target=queue, detail=f"{len(moved)} moved"
    )
    from govbus.dlq import STAYED_REASON

    answer = {"queue": queue, "moved": len(moved), "message_ids": moved, "stayed": len(stayed)}
    if stayed:
        answer["reason"] = f"{len(stayed)} letter(s) stayed: {STAYED_REASON}"
    return json_response(answer)


@app.get(
    "/ops/cases",
    **documented(
        "Cases per state and the latest ones (no applicant data)", ok=ops.CasesByState, scopes=OPS
    ),
)
def cases():
    _ops()
    return json_response(ops.cases_by_state())


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
