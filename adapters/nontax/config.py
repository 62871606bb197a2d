"""What the non-tax platform adapter needs to know, from ``GOVBUS_NONTAX_*`` settings."""

from __future__ import annotations

from pydantic import BaseModel, Field, HttpUrl


class NontaxConfig(BaseModel):
    """``GOVBUS_NONTAX_ENDPOINT``, ``..._TIMEOUT_SECONDS``, ``..._SECRET_NAME`` and more."""

    endpoint: HttpUrl = HttpUrl("https://pay.nontax.example/")
    timeout_seconds: float = Field(default=5.0, gt=0, le=30)
    # a statement is read for as long as it takes; this bounds each wait for more bytes
    statement_read_timeout_seconds: float = Field(default=30.0, gt=0, le=300)
    # Secrets Manager: {"app_id": "...", "app_secret": "..."} issued by the platform
    secret_name: str = "govbus/dev/adapters/nontax"  # noqa: S105 - a name, not a secret
    # the app id the platform issued to us (as in the secret): a notification names it in
    # app_id, and one addressed to another app is refused. A setting, not read from the
    # secret: the webhooks function may read only the platform's public key
    app_id: str = Field(default="govbus", min_length=1)
    ping_cache_seconds: float = Field(default=5.0, ge=0)
    # a notification whose notify_time is further off than this is refused as stale.
    # The platform re-sends the same signed bytes on its retry schedule, so this must
    # cover that schedule, and stay below the webhook path's 24 h idempotency window
    # (a replay inside the window is answered from the idempotency record instead).
    notify_window_seconds: int = Field(default=2 * 3600, ge=60, le=20 * 3600)
