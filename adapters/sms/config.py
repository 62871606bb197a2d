"""What the SMS adapter needs to know, from ``GOVBUS_SMS_*`` settings."""

from __future__ import annotations

from pydantic import BaseModel, Field, HttpUrl


class SmsConfig(BaseModel):
    """``GOVBUS_SMS_ENDPOINT``, ``GOVBUS_SMS_TIMEOUT_SECONDS``, ``GOVBUS_SMS_SECRET_NAME``."""

    endpoint: HttpUrl = HttpUrl("https://sms.fuzhou.example/")
    timeout_seconds: float = Field(default=5.0, gt=0, le=30)
    # Secrets Manager: {"app_id": "...", "secret": "..."} issued by the gateway
    secret_name: str = "govbus/dev/adapters/sms"  # noqa: S105 - a name, not a secret
    sign_name: str = "福州政务"  # the registered SMS signature (短信签名) shown as 【福州政务】
    ping_cache_seconds: float = Field(default=5.0, ge=0)
