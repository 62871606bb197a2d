"""The IoT adapter's hook implementations (registered as entry point ``iot``)."""

from __future__ import annotations

import urllib3

from adapters.iot import wire
from adapters.iot.config import IotConfig
from contracts import hookimpl
from contracts.adapterkit import AdapterState
from contracts.adapters import AdapterFamily, AdapterInfo, PingResult
from contracts.telemetry import Reading

NAME = "iot"
VERSION = "1.0.0"
_PING_POOL = urllib3.PoolManager(num_pools=2, maxsize=2, retries=False)


_state: AdapterState[IotConfig, None] = AdapterState("the MQTT broker", IotConfig)


@hookimpl
def govbus_adapter_info() -> AdapterInfo:
    return AdapterInfo(
        name=NAME, family=AdapterFamily.telemetry, title="城市物联感知 IoT (MQTT)", version=VERSION
    )


@hookimpl
def govbus_adapter_configure(settings, get_secret) -> None:
    _state.configure(settings, get_secret)


@hookimpl
def govbus_ping() -> PingResult:
    def probe() -> tuple[bool, str]:
        timeout = min(_state.config.timeout_seconds, 2.0)
        answer = _PING_POOL.request(
            "GET",
            f"{str(_state.config.endpoint).rstrip('/')}/health",
            timeout=urllib3.Timeout(connect=timeout, read=timeout),
        )
        up = answer.status == 200
        return up, "" if up else f"the broker's health answered {answer.status}"

    return _state.ping(NAME, probe)


@hookimpl
def govbus_simulator():
    from adapters.iot.simulator import IotSimulator  # amqtt and paho only when asked for

    return IotSimulator()


@hookimpl
def govbus_telemetry_decode(topic: str, payload: bytes) -> Reading:
    domain, device = wire.parse_topic(topic)
    return wire.to_reading(domain, device, payload)
