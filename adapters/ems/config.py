"""What the EMS adapter needs to know, from ``GOVBUS_EMS_*`` settings."""

from __future__ import annotations

from pydantic import BaseModel, Field, HttpUrl


class EmsConfig(BaseModel):
    """``GOVBUS_EMS_ENDPOINT``, ``GOVBUS_EMS_TIMEOUT_SECONDS``, ``GOVBUS_EMS_SECRET_NAME``."""

    endpoint: HttpUrl = HttpUrl("https://api.ems.example/")
    timeout_seconds: float = Field(default=5.0, gt=0, le=30)
    # Secrets Manager: {"app_key": "...", "secret": "..."} issued by EMS
    secret_name: str = "govbus/dev/adapters/ems"  # noqa: S105 - a name, not a secret
    ping_cache_seconds: float = Field(default=5.0, ge=0)
