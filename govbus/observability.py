"""The one Logger / Tracer / Metrics every function shares, with PII masking.

Every log line passes through :func:`contracts.masking.mask_text` after it is
formatted, so an identifier in a message, an ``extra`` field or a traceback never
reaches CloudWatch in the clear.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from contracts.masking import mask_text
from govbus import settings


class MaskingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON formatter, with identifiers masked in the finished line."""

    def format(self, record: logging.LogRecord) -> str:
        return mask_text(super().format(record))


class MaskingPlainFormatter(logging.Formatter):
    """A plain-text formatter whose whole output, tracebacks included, is masked."""

    def format(self, record: logging.LogRecord) -> str:
        return mask_text(super().format(record))


class MaskingFilter(logging.Filter):
    """For plain ``logging`` handlers (local stack, CLI): masks the rendered message."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_text(record.getMessage())
        record.args = None
        return True


class StdoutHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stdout`` is now (the Lambda runtime's, or a test's capture)."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property  # type: ignore[override]
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, _value) -> None:
        pass


SERVICE = settings.observability().service

logger = Logger(
    service=SERVICE, logger_formatter=MaskingFormatter(), logger_handler=StdoutHandler()
)


class DisabledTracer:
    """What Powertools' Tracer does when tracing is off, without importing the X-Ray SDK.

    ``Tracer()`` imports ``aws_xray_sdk`` (~90 ms of every cold start) even when it is
    disabled; with tracing off (``POWERTOOLS_TRACE_DISABLED``, outside Lambda) the
    decorators hand the function back unchanged and annotations go nowhere.
    """

    disabled = True

    def capture_lambda_handler(self, lambda_handler: Any = None, **_options: Any) -> Any:
        return lambda_handler if lambda_handler is not None else (lambda handler: handler)

    def capture_method(self, method: Any = None, **_options: Any) -> Any:
        return method if method is not None else (lambda function: function)

    def put_annotation(self, key: str, value: Any) -> None:
        pass

    def put_metadata(self, key: str, value: Any, namespace: str | None = None) -> None:
        pass


def _tracer() -> Any:
    if not settings.observability().tracing:
        return DisabledTracer()
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE)


tracer = _tracer()
metrics = Metrics(namespace=settings.observability().metrics_namespace)

# Adapters log with the standard library (they import nothing of the host): their lines
# go through the same masking JSON formatter, never straight to the runtime's handler.
_adapter_handler = StdoutHandler()
_adapter_handler.setFormatter(MaskingFormatter())
_adapters_logger = logging.getLogger("adapters")
_adapters_logger.handlers[:] = [_adapter_handler]
_adapters_logger.setLevel(settings.observability().log_level)
_adapters_logger.propagate = False
