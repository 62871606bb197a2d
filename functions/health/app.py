"""GET /health: the platform's status and every loaded adapter's ping.

Until the stack says it is ready (the readiness parameter, set by whoever finishes
starting it: `govbus dev` after loading its demo data), the answer is 503 "starting".
"""

from govbus import init_phase  # noqa: F401 - first: see govbus/init_phase.py

# isort: split

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from govbus import settings
from govbus.aws import client, stage
from govbus.health import HealthReport, health_report
from govbus.http import documented, install_problem_handlers, json_response, problem
from govbus.observability import logger, metrics, tracer
from govbus.plugins import plugin_manager
from govbus.routing import HttpResolver

READY = "ready"

app = HttpResolver()
install_problem_handlers(app)


def readiness() -> str:
    """The stack's readiness; read per request, since it changes once at start-up."""
    name = settings.platform().readiness_parameter
    if not name:
        return READY  # a deployment without the parameter has no start-up phase
    try:
        return client("ssm").get_parameter(Name=name)["Parameter"]["Value"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ParameterNotFound":
            raise
        return "starting"


@app.get(
    "/health",
    **documented(
        "The platform's and each adapter's health", ok=HealthReport, errors=(503,), scopes=None
    ),
)
def get_health():
    state = readiness()
    if state != READY:
        return problem(
            503,
            "starting",
            "The platform is starting",
            f"the stack is {state}: not ready to serve yet; retry shortly",
            state=state,
        )
    return json_response(health_report(plugin_manager(), stage()))


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
