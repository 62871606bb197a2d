"""What the province adapter needs to know, from ``GOVBUS_PROVINCE_*`` settings."""

from __future__ import annotations

from pydantic import BaseModel, Field, HttpUrl


class ProvinceConfig(BaseModel):
    """``GOVBUS_PROVINCE_ENDPOINT`` (the SOAP address), ``..._TIMEOUT_SECONDS``,
    ``..._SECRET_NAME``, ``..._PUSH_USERNAME`` and the cache of ``ping``."""

    endpoint: HttpUrl = HttpUrl("https://zwfw.fujian.gov.cn/hall/services/HallService")
    timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    connect_timeout_seconds: float = Field(default=3.0, gt=0, le=30)
    # Secrets Manager: {"username": "...", "password": "..."} issued by the hall
    secret_name: str = "govbus/dev/adapters/province"  # noqa: S105 - a name, not a secret
    # the user the hall signs its pushes as; its passwords are govbus/{stage}/webhooks/province
    push_username: str = "fujian-hall"
    ping_cache_seconds: float = Field(default=5.0, ge=0)
    # an outbound proxy (government networks often need one), read once here: the
    # client never consults the environment per call
    proxy: str | None = None
