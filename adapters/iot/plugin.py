"""The IoT adapter's hook implementations (registered as entry point ``iot``)."""

from __future__ import annotations

import threading
import time

import urllib3

from adapters.iot import wire
from adapters.iot.config import IotConfig
from contracts import hookimpl
from contracts.adapters import AdapterFamily, AdapterInfo, Health, PingResult
from contracts.telemetry import Reading

NAME = "iot"
VERSION = "1.0.0"
_PING_POOL = urllib3.PoolManager(num_pools=2, maxsize=2, retries=False)


class _State:
    def __init__(self) -> None:
        self.config = IotConfig()
        self.lock = threading.Lock()
        self.ping_cache: tuple[float, PingResult] | None = None


_state = _State()


@hookimpl
def govbus_adapter_info() -> AdapterInfo:
    return AdapterInfo(
        name=NAME, family=AdapterFamily.telemetry, title="城市物联感知 IoT (MQTT)", version=VERSION
    )


@hookimpl
def govbus_adapter_configure(settings, get_secret) -> None:
    known = {k: v for k, v in settings.items() if k in IotConfig.model_fields}
    with _state.lock:
        _state.config = IotConfig.model_validate(known)
        _state.ping_cache = None


@hookimpl
def govbus_ping() -> PingResult:
    now = time.monotonic()
    cached = _state.ping_cache
    if cached and now - cached[0] < _state.config.ping_cache_seconds:
        return cached[1]
    started = time.perf_counter()
    timeout = min(_state.config.timeout_seconds, 2.0)
    try:
        answer = _PING_POOL.request(
            "GET",
            f"{str(_state.config.endpoint).rstrip('/')}/health",
            timeout=urllib3.Timeout(connect=timeout, read=timeout),
        )
        up = answer.status == 200
        detail = "" if up else f"the broker's health answered {answer.status}"
    except Exception as exc:  # a ping never raises
        up, detail = False, f"ping failed: {type(exc).__name__}"
    result = PingResult(
        adapter=NAME,
        status=Health.up if up else Health.down,
        latency_ms=(time.perf_counter() - started) * 1000,
        detail=detail,
    )
    _state.ping_cache = (now, result)
    return result


@hookimpl
def govbus_simulator():
    from adapters.iot.simulator import IotSimulator  # amqtt and paho only when asked for

    return IotSimulator()


@hookimpl
def govbus_telemetry_decode(topic: str, payload: bytes) -> Reading:
    domain, device = wire.parse_topic(topic)
    return wire.to_reading(domain, device, payload)
