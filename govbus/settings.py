"""A function's configuration, read once from its environment into typed models.

Lambda gives a function its configuration as environment variables (template.yaml's
``Environment``), fixed for the life of the execution environment. Each concern has a
small frozen model here, built from ``os.environ`` the first time it is asked for and
cached for the process: a store asks ``settings.table("cases")`` for its table, a
function reads ``settings.tuning()`` at init. Nothing else in the runtime reads
``os.environ``.

Tests that use the stores in the test process point them at the local stack's tables
with :func:`override` (a context manager) or call :func:`reset` after changing the
environment.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

_CONFIG = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class Tables(BaseModel):
    """DynamoDB tables, by the variable the template sets (``<NAME>_TABLE``)."""

    model_config = _CONFIG

    accounts: str | None = Field(None, alias="ACCOUNTS_TABLE")
    appointments_slots: str | None = Field(None, alias="SLOTS_TABLE")
    appointments_bookings: str | None = Field(None, alias="BOOKINGS_TABLE")
    audit: str | None = Field(None, alias="AUDIT_TABLE")
    cases: str | None = Field(None, alias="CASES_TABLE")
    catalog: str | None = Field(None, alias="CATALOG_TABLE")
    challenges: str | None = Field(None, alias="CHALLENGES_TABLE")
    circuit: str | None = Field(None, alias="CIRCUIT_TABLE")
    clients: str | None = Field(None, alias="CLIENTS_TABLE")
    event_log: str | None = Field(None, alias="EVENT_LOG_TABLE")
    idempotency: str | None = Field(None, alias="IDEMPOTENCY_TABLE")
    licences: str | None = Field(None, alias="LICENCES_TABLE")
    outbox: str | None = Field(None, alias="OUTBOX_TABLE")
    shipments: str | None = Field(None, alias="SHIPMENTS_TABLE")
    subject_access: str | None = Field(None, alias="SUBJECT_ACCESS_TABLE")
    subject_index: str | None = Field(None, alias="SUBJECT_INDEX_TABLE")
    tickets: str | None = Field(None, alias="TICKETS_TABLE")
    subscriptions: str | None = Field(None, alias="SUBSCRIPTIONS_TABLE")
    deliveries: str | None = Field(None, alias="DELIVERIES_TABLE")
    payments: str | None = Field(None, alias="PAYMENTS_TABLE")
    disclosure: str | None = Field(None, alias="DISCLOSURE_TABLE")
    notifications: str | None = Field(None, alias="NOTIFICATIONS_TABLE")
    telemetry: str | None = Field(None, alias="TELEMETRY_TABLE")


class Platform(BaseModel):
    """The shared resources a function talks to, and the stage it runs in."""

    model_config = _CONFIG

    stage: str = Field("dev", alias="GOVBUS_STAGE")
    event_bus: str | None = Field(None, alias="EVENT_BUS_NAME")
    materials_bucket: str | None = Field(None, alias="MATERIALS_BUCKET")
    personal_data_key_id: str | None = Field(None, alias="PERSONAL_DATA_KEY_ID")
    dlq_url: str | None = Field(None, alias="DLQ_URL")
    readiness_parameter: str | None = Field(None, alias="READINESS_PARAMETER")
    ca_adapter: str = Field("ca", alias="CA_ADAPTER")
    open_data_bucket: str | None = Field(None, alias="OPEN_DATA_BUCKET")
    # this stack's dead-letter queues, by name, comma-separated (tools/alarms.py writes the
    # list into the template): the ops API reaches these and no other stack's
    dead_letter_queues: str | None = Field(None, alias="DEAD_LETTER_QUEUES")
    # the layer's botocore data (govbus_dev/botocore_data.py); botocore reads it too
    aws_data_path: str | None = Field(None, alias="AWS_DATA_PATH")


class Tuning(BaseModel):
    """Limits and timings; ``None`` where each function keeps its own default."""

    model_config = _CONFIG

    partner_timeout_seconds: float | None = Field(None, alias="PARTNER_TIMEOUT_SECONDS")
    retry_attempts: int = Field(3, alias="RETRY_ATTEMPTS")
    max_receive_count: int = Field(3, alias="MAX_RECEIVE_COUNT")
    circuit_failure_threshold: int = Field(5, alias="CIRCUIT_FAILURE_THRESHOLD")
    circuit_cool_down_seconds: float = Field(30.0, alias="CIRCUIT_COOL_DOWN_SECONDS")
    outbox_sweep_after_seconds: int = Field(60, alias="OUTBOX_SWEEP_AFTER_SECONDS")
    webhook_max_body_bytes: int = Field(256 * 1024, alias="WEBHOOK_MAX_BODY_BYTES")
    # events out (subscriptions) and notifications to people
    delivery_retry_schedule: str = Field("", alias="DELIVERY_RETRY_SCHEDULE")
    delivery_timeout_seconds: float | None = Field(None, alias="DELIVERY_TIMEOUT_SECONDS")
    subscriptions_allow_loopback: str = Field("false", alias="SUBSCRIPTIONS_ALLOW_LOOPBACK")
    # loopback ports no webhook may reach even where loopback is allowed (a local stack's
    # own AWS endpoint and gateway), comma-separated
    subscriptions_reserved_ports: str = Field("", alias="SUBSCRIPTIONS_RESERVED_PORTS")
    subscription_disable_after_seconds: int | None = Field(
        None, alias="SUBSCRIPTION_DISABLE_AFTER_SECONDS"
    )
    delivery_attempts_queue_url: str = Field("", alias="DELIVERY_ATTEMPTS_QUEUE_URL")
    notify_adapter: str = Field("sms", alias="NOTIFY_ADAPTER")
    notify_rate_limit_per_hour: int | None = Field(None, alias="NOTIFY_RATE_LIMIT_PER_HOUR")


class Observability(BaseModel):
    """What Powertools is told: service name, metrics namespace, log level."""

    model_config = _CONFIG

    service: str = Field("govbus", alias="POWERTOOLS_SERVICE_NAME")
    metrics_namespace: str = Field("govbus", alias="POWERTOOLS_METRICS_NAMESPACE")
    log_level: str = Field("INFO", alias="POWERTOOLS_LOG_LEVEL")
    trace_disabled: bool = Field(False, alias="POWERTOOLS_TRACE_DISABLED")
    lambda_task_root: str | None = Field(None, alias="LAMBDA_TASK_ROOT")
    sam_local: bool = Field(False, alias="AWS_SAM_LOCAL")

    @property
    def tracing(self) -> bool:
        """Whether X-Ray tracing is on: Powertools' own rule (off when disabled by
        ``POWERTOOLS_TRACE_DISABLED``, outside Lambda, or under ``sam local``)."""
        return not self.trace_disabled and bool(self.lambda_task_root) and not self.sam_local


class Adapters(BaseModel):
    """Which adapters load, and every ``GOVBUS_<NAME>_<KEY>`` variable for their settings."""

    model_config = _CONFIG

    allow_list: str | None = Field(None, alias="GOVBUS_ADAPTERS")
    development: str = Field("", alias="GOVBUS_DEV_ADAPTERS")
    # the adapters a local stack loaded when it started (``govbus dev`` sets it, for every
    # function alike): one installed later is "installed, not loaded until the stack
    # restarts" in every function, whenever its environment started
    started_with: str | None = Field(None, alias="GOVBUS_STACK_STARTED_WITH")
    variables: dict[str, str] = Field(default_factory=dict)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Adapters:
        govbus = {k: v for k, v in environ.items() if k.startswith("GOVBUS_")}
        return cls.model_validate({**govbus, "variables": govbus})


M = TypeVar("M", bound=BaseModel)
_OVERRIDES: dict[type[BaseModel], BaseModel] = {}


@functools.cache
def _load[M: BaseModel](model: type[M]) -> M:
    if model is Adapters:
        return Adapters.from_environ(os.environ)  # type: ignore[return-value]
    return model.model_validate(dict(os.environ))


def _get[M: BaseModel](model: type[M]) -> M:
    found = _OVERRIDES.get(model)
    return found if found is not None else _load(model)  # type: ignore[return-value]


def tables() -> Tables:
    return _get(Tables)


def platform() -> Platform:
    return _get(Platform)


def tuning() -> Tuning:
    return _get(Tuning)


def observability() -> Observability:
    return _get(Observability)


def adapters() -> Adapters:
    return _get(Adapters)


def table(name: str) -> str:
    """The physical name of table ``name`` (a :class:`Tables` field); a clear error if unset."""
    value = getattr(tables(), name)
    if not value:
        variable = Tables.model_fields[name].alias
        raise LookupError(f"{variable} is not set: this function has no {name} table")
    return value


def require(model: BaseModel, name: str) -> Any:
    """A setting the caller cannot work without; a clear error naming its variable."""
    value = getattr(model, name)
    if value is None or value == "":
        variable = type(model).model_fields[name].alias
        raise LookupError(f"{variable} is not set for this function")
    return value


def reset() -> None:
    """Read the environment again on next use (after a test or tool changed it)."""
    _load.cache_clear()


_FIELDS_OF: dict[str, type[BaseModel]] = {
    name: model
    for model in (Tables, Platform, Tuning, Observability, Adapters)
    for name in model.model_fields
}


@contextlib.contextmanager
def override(**values: Any) -> Iterator[None]:
    """Replace some settings (by field name, any model) for the ``with`` block.

    ``with settings.override(cases="Cases-123", stage="dev"): ...`` is how a test
    points the stores at the local stack's tables without touching ``os.environ``.
    """
    unknown = sorted(set(values) - set(_FIELDS_OF))
    if unknown:
        raise TypeError(f"unknown settings: {', '.join(unknown)}")
    saved = dict(_OVERRIDES)
    by_model: dict[type[BaseModel], dict[str, Any]] = {}
    for name, value in values.items():
        by_model.setdefault(_FIELDS_OF[name], {})[name] = value
    try:
        for model, update in by_model.items():
            current = _get(model)
            _OVERRIDES[model] = model.model_validate({**current.model_dump(), **update})
        yield
    finally:
        _OVERRIDES.clear()
        _OVERRIDES.update(saved)
