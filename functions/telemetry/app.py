"""Sensor readings from the telemetry queue (IoT topic rule): decode with the ``iot``
adapter, count, record as events, raise ``city.alert`` over a threshold.

A message no one can decode is counted and dropped, never retried; only an
infrastructure failure (DynamoDB) fails the record, so SQS delivers it again."""

from govbus import init_phase  # noqa: F401 - first: see govbus/init_phase.py

# isort: split

from aws_lambda_powertools.utilities.typing import LambdaContext

from govbus.batch import SQSRecord, process_partial_response
from govbus.observability import logger, metrics, tracer
from govbus.plugins import call, plugin_manager
from govbus.telemetry import ADAPTER, handle_message


def decode(topic: str, payload: bytes):
    return call(plugin_manager(), ADAPTER, "govbus_telemetry_decode", topic=topic, payload=payload)


def handle(record: SQSRecord) -> None:
    handle_message(record.body, decode)


@metrics.log_metrics
@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process_partial_response(event, handle)
