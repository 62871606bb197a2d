"""What the IoT adapter needs to know, from ``GOVBUS_IOT_*`` settings."""

from __future__ import annotations

from pydantic import BaseModel, Field, HttpUrl


class IotConfig(BaseModel):
    """``GOVBUS_IOT_ENDPOINT`` (the broker's HTTPS face: health, as IoT Core's data
    endpoint), ``GOVBUS_IOT_TIMEOUT_SECONDS``, ``GOVBUS_IOT_PING_CACHE_SECONDS``."""

    endpoint: HttpUrl = HttpUrl("https://iot.example/")
    timeout_seconds: float = Field(default=2.0, gt=0, le=30)
    ping_cache_seconds: float = Field(default=5.0, ge=0)
