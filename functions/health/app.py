"""GET /health: the platform's status and every loaded adapter's ping."""

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from govbus.aws import stage
from govbus.health import health_report
from govbus.http import install_problem_handlers, json_response
from govbus.observability import logger, tracer
from govbus.plugins import plugin_manager

app = APIGatewayHttpResolver()
install_problem_handlers(app)


@app.get("/health")
def get_health():
    return json_response(health_report(plugin_manager(), stage()))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
