"""The one Logger / Tracer / Metrics every function shares, with PII masking.

Every log line passes through :func:`contracts.masking.mask_text` after it is
formatted, so an identifier in a message, an ``extra`` field or a traceback never
reaches CloudWatch in the clear.
"""

from __future__ import annotations

import logging
import sys

from aws_lambda_powertools import Logger, Metrics, Tracer
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
tracer = Tracer(service=SERVICE)
metrics = Metrics(namespace=settings.observability().metrics_namespace)

# Adapters log with the standard library (they import nothing of the host): their lines
# go through the same masking JSON formatter, never straight to the runtime's handler.
_adapter_handler = StdoutHandler()
_adapter_handler.setFormatter(MaskingFormatter())
_adapters_logger = logging.getLogger("adapters")
_adapters_logger.handlers[:] = [_adapter_handler]
_adapters_logger.setLevel(settings.observability().log_level)
_adapters_logger.propagate = False
