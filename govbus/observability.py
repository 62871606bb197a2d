"""The one Logger / Tracer / Metrics every function shares, with PII masking.

Every log line passes through :func:`contracts.masking.mask_text` after it is
formatted, so an identifier in a message, an ``extra`` field or a traceback never
reaches CloudWatch in the clear.
"""

from __future__ import annotations

import logging
import os

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from contracts.masking import mask_text


class MaskingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON formatter, with identifiers masked in the finished line."""

    def format(self, record: logging.LogRecord) -> str:
        return mask_text(super().format(record))


class MaskingFilter(logging.Filter):
    """For plain ``logging`` handlers (local stack, CLI): masks the rendered message."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_text(record.getMessage())
        record.args = None
        return True


SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "govbus")

logger = Logger(service=SERVICE, logger_formatter=MaskingFormatter())
tracer = Tracer(service=SERVICE)
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "govbus"))
