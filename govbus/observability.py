"""The one Logger / Tracer / Metrics every function shares, with PII masking.

Every log line passes through :func:`contracts.masking.mask_text` after it is
formatted, so an identifier in a message, an ``extra`` field or a traceback never
reaches CloudWatch in the clear.
"""

from __future__ import annotations

import functools
import logging
import sys
import warnings
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from contracts.errors import RetryableError
from contracts.masking import mask_text
from govbus import init_phase, settings


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


class ExpectedFailureFilter(logging.Filter):
    """A retryable failure (a partner down, slow or answering 5xx, an open circuit) is
    expected: its line keeps ``error`` (type and message) and loses the traceback, which
    would say nothing new a thousand times over. Tracebacks stay for the unexpected."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if isinstance(record.exc_info, tuple) else None
        if isinstance(exc, RetryableError):
            record.exc_info = None
            record.exc_text = None
            if not hasattr(record, "error"):
                record.error = f"{type(exc).__name__}: {exc}"
        return True


class CurrentStreamHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stdout`` (or ``sys.stderr``) is at the moment of writing:
    the Lambda runtime's, a redirect, a test's capture."""

    def __init__(self, name: str = "stdout") -> None:
        self._stream_name = name
        super().__init__(getattr(sys, name))

    @property  # type: ignore[override]
    def stream(self):
        return getattr(sys, self._stream_name)

    @stream.setter
    def stream(self, _value) -> None:
        pass


class StdoutHandler(CurrentStreamHandler):
    """The runtime's handler: a Lambda function's logs go to its stdout."""

    def __init__(self) -> None:
        super().__init__("stdout")


class GovbusLogger(Logger):
    """Powertools' Logger whose handler decorator also ends the init phase
    (:mod:`govbus.init_phase`) when the first invocation ends: every function's handler
    carries ``@logger.inject_lambda_context``, so none can forget it."""

    def inject_lambda_context(self, lambda_handler: Any = None, **options: Any) -> Any:  # type: ignore[override]
        if lambda_handler is None:
            return functools.partial(self.inject_lambda_context, **options)
        decorated = super().inject_lambda_context(lambda_handler, **options)
        return init_phase.ends_after_first_call(decorated)


SERVICE = settings.observability().service

logger = GovbusLogger(
    service=SERVICE, logger_formatter=MaskingFormatter(), logger_handler=StdoutHandler()
)
logger.addFilter(ExpectedFailureFilter())


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
NAMESPACE = settings.observability().metrics_namespace
# CloudWatch embedded metric format (EMF): every lambda_handler is decorated with
# ``@metrics.log_metrics``, which prints the invocation's metrics as one EMF document
# when the handler returns; :func:`count` prints a metric with dimensions of its own.
# Powertools' package already loads the Metrics provider with the Logger, so this
# costs a cold start nothing more.
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
# an invocation that had nothing to count is normal, not worth a warning per call
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)

# a dimension's value comes from a bounded set (partners, states, reasons); anything
# longer is cut so a caller's input can never make a metric of its own
MAX_DIMENSION_LENGTH = 64


def count(name: str, dimensions: Mapping[str, str] | None = None, value: float = 1) -> None:
    """Print one count now as its own EMF document: ``service`` plus ``dimensions``.

    For what differs within an invocation (one partner, one reason, one transition),
    which the invocation-wide ``metrics`` cannot hold apart. Never raises: a metric
    that cannot be written must not fail the work it counts.
    """
    try:
        with single_metric(
            name=name,
            unit=MetricUnit.Count,
            value=value,
            namespace=NAMESPACE,
            default_dimensions={"service": SERVICE},
        ) as metric:
            for key, raw in (dimensions or {}).items():
                metric.add_dimension(name=key, value=str(raw)[:MAX_DIMENSION_LENGTH] or "-")
    except Exception:
        logger.exception("metric not written", extra={"metric": name})


# Adapters log with the standard library (they import nothing of the host): their lines
# go through the same masking JSON formatter, never straight to the runtime's handler.
_adapter_handler = StdoutHandler()
_adapter_handler.setFormatter(MaskingFormatter())
_adapters_logger = logging.getLogger("adapters")
_adapters_logger.handlers[:] = [_adapter_handler]
_adapters_logger.setLevel(settings.observability().log_level)
_adapters_logger.propagate = False
