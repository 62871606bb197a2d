"""Smart-city sensor feeds (智慧城市物联感知): readings, per-domain contracts, thresholds.

Devices publish to ``city/<domain>/<device>/telemetry``. Each domain has its own
reading model with physical bounds (a reading outside them is malformed, not an
alarm) and thresholds that raise a ``city.alert`` for the agency responsible.
"""

from __future__ import annotations

import datetime as _dt
import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from contracts.base import ContractModel
from contracts.events import event_type

TOPIC = re.compile(r"^city/(?P<domain>[a-z_]{1,32})/(?P<device>[A-Za-z0-9_\-]{1,64})/telemetry$")
TOPIC_FILTER = "city/+/+/telemetry"


class TelemetryDomain(StrEnum):
    water = "water"  # 水位监测: rivers, reservoirs, waterlogging points
    air = "air"  # 空气质量
    vehicle = "vehicle"  # 车辆定位: buses, taxis, muck trucks
    meter = "meter"  # 水电气表


class _Values(ContractModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WaterLevel(_Values):
    domain: Literal["water"] = "water"
    level_m: float = Field(ge=-20, le=200)  # above the gauge's datum


class AirQuality(_Values):
    domain: Literal["air"] = "air"
    pm25: float = Field(ge=0, le=2000)  # µg/m³
    pm10: float = Field(ge=0, le=3000)
    aqi: int | None = Field(default=None, ge=0, le=500)


class VehiclePosition(_Values):
    domain: Literal["vehicle"] = "vehicle"
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    speed_kmh: float = Field(ge=0, le=300)
    heading: float | None = Field(default=None, ge=0, lt=360)


class MeterKind(StrEnum):
    water = "water"
    electricity = "electricity"
    gas = "gas"


class UtilityMeter(_Values):
    domain: Literal["meter"] = "meter"
    meter_kind: MeterKind
    reading: float = Field(ge=0, le=1e10)  # cumulative, in the kind's unit
    consumption: float = Field(ge=0, le=1e6)  # since the previous reading


Values = Annotated[
    WaterLevel | AirQuality | VehiclePosition | UtilityMeter, Field(discriminator="domain")
]


class Reading(ContractModel):
    """One valid reading of one device."""

    model_config = ConfigDict(frozen=True)

    domain: TelemetryDomain
    device: str = Field(pattern=r"^[A-Za-z0-9_\-]{1,64}$")
    measured_at: _dt.datetime
    values: Values


class Threshold(ContractModel):
    domain: TelemetryDomain
    metric: str
    above: float
    agency: str  # the responsible agency's credit code
    agency_name: str
    meaning: str


# The agencies answerable for each domain (demo codes of Fuzhou's bureaus).
WATER_BUREAU = "11350100MB0000101P"  # 市水利局
ECOLOGY_BUREAU = "11350100MB0000102T"  # 市生态环境局
TRANSPORT_BUREAU = "11350100MB0000103X"  # 市交通运输局
URBAN_MANAGEMENT = "11350100MB00001041"  # 市城市管理委员会 (utilities)

THRESHOLDS: list[Threshold] = [
    Threshold(
        domain=TelemetryDomain.water,
        metric="level_m",
        above=5.0,
        agency=WATER_BUREAU,
        agency_name="福州市水利局",
        meaning="water above the warning level (警戒水位)",
    ),
    Threshold(
        domain=TelemetryDomain.air,
        metric="pm25",
        above=150.0,
        agency=ECOLOGY_BUREAU,
        agency_name="福州市生态环境局",
        meaning="PM2.5 at heavy pollution (重度污染)",
    ),
    Threshold(
        domain=TelemetryDomain.vehicle,
        metric="speed_kmh",
        above=120.0,
        agency=TRANSPORT_BUREAU,
        agency_name="福州市交通运输局",
        meaning="a vehicle over the expressway limit",
    ),
    Threshold(
        domain=TelemetryDomain.meter,
        metric="consumption",
        above=500.0,
        agency=URBAN_MANAGEMENT,
        agency_name="福州市城市管理委员会",
        meaning="consumption far above normal (a leak?)",
    ),
]


def breaches(reading: Reading) -> list[tuple[Threshold, float]]:
    """The thresholds a reading is over, with the value that is."""
    found = []
    for threshold in THRESHOLDS:
        if threshold.domain != reading.domain:
            continue
        value = getattr(reading.values, threshold.metric, None)
        if isinstance(value, int | float) and value > threshold.above:
            found.append((threshold, float(value)))
    return found


def watched_metrics(domain: TelemetryDomain) -> list[Threshold]:
    return [t for t in THRESHOLDS if t.domain == domain]


@event_type("telemetry.reading")
class TelemetryReading(ContractModel):
    """A valid sensor reading, as the bus carries it."""

    domain: TelemetryDomain
    device: str
    measured_at: _dt.datetime
    values: dict


@event_type("city.alert")
class CityAlert(ContractModel):
    """A reading crossed a threshold: the responsible agency must look (routed on ``agency``).

    Raised once when a device's metric crosses over; not again until it has come back
    under the threshold."""

    domain: TelemetryDomain
    device: str
    metric: str
    value: float
    threshold: float
    agency: str
    agency_name: str
    meaning: str
    measured_at: _dt.datetime
