"""What the citizen card adapter needs to know, from ``GOVBUS_CITIZEN_CARD_*`` settings."""

from __future__ import annotations

from pydantic import BaseModel, Field, HttpUrl


class CitizenCardConfig(BaseModel):
    """``GOVBUS_CITIZEN_CARD_ENDPOINT``, ``..._TIMEOUT_SECONDS``, ``..._SECRET_NAME``."""

    endpoint: HttpUrl = HttpUrl("https://api.citizencard.example/")
    timeout_seconds: float = Field(default=5.0, gt=0, le=30)
    # Secrets Manager: {"client_id": "...", "client_secret": "..."} issued by the platform
    secret_name: str = "govbus/dev/adapters/citizen_card"  # noqa: S105 - a name, not a secret
    ping_cache_seconds: float = Field(default=5.0, ge=0)
