"""The lifecycle every adapter shares (contracts.adapterkit): configure, client, ping."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel

from contracts.adapterkit import AdapterState
from contracts.adapters import Health
from contracts.errors import PartnerUnavailable


class Config(BaseModel):
    endpoint: str = "https://partner.example/"
    secret_name: str = "govbus/dev/adapters/partner"
    ping_cache_seconds: float = 60.0


class Client:
    def __init__(self, config: Config, key: str) -> None:
        self.config, self.key, self.closed = config, key, False

    def close(self) -> None:
        self.closed = True


def build(config: Config, creds: dict) -> Client:
    return Client(config, creds["app_key"])


def test_the_client_is_built_once_from_the_named_secret_and_rebuilt_after_configure():
    asked: list[str] = []

    def get_secret(name: str) -> str:
        asked.append(name)
        return json.dumps({"app_key": f"key-{len(asked)}"})

    state: AdapterState[Config, Client] = AdapterState("the partner", Config)
    state.configure({"secret_name": "ours", "unrelated_setting": "x"}, get_secret)
    first = state.client(build)
    assert state.client(build) is first and first.key == "key-1" and asked == ["ours"]

    state.configure({"endpoint": "https://other.example/"}, get_secret)
    second = state.client(build)
    assert first.closed, "the old client's connections are closed"
    assert second is not first and second.config.endpoint == "https://other.example/"


@pytest.mark.parametrize(
    ("get_secret", "reason"),
    [
        (None, "the adapter for the partner is not configured"),
        (lambda name: "not json", "the credentials secret for the partner is malformed"),
        (lambda name: "[1, 2]", "the credentials secret for the partner is malformed"),
        (lambda name: '{"other": 1}', "the credentials secret for the partner is malformed"),
    ],
)
def test_missing_or_malformed_credentials_are_a_partner_unavailable(get_secret, reason):
    state: AdapterState[Config, Client] = AdapterState("the partner", Config)
    state.configure({}, get_secret)
    with pytest.raises(PartnerUnavailable, match=reason):
        state.client(build)


def test_a_ping_is_cached_never_raises_and_says_why_it_is_down():
    calls: list[int] = []

    def up() -> bool:
        calls.append(1)
        return True

    state: AdapterState[Config, Client] = AdapterState("the partner", Config)
    assert state.ping("partner", up).status is Health.up
    assert state.ping("partner", up).status is Health.up
    assert len(calls) == 1, "the second ping within ping_cache_seconds is the cached answer"

    state.configure({"ping_cache_seconds": 0}, None)
    down = state.ping("partner", lambda: False)
    assert (down.status, down.detail) == (Health.down, "the partner did not answer its ping")

    def broken() -> bool:
        raise ConnectionResetError("peer reset")

    failed = state.ping("partner", broken)
    assert (failed.status, failed.detail) == (Health.down, "ping failed: ConnectionResetError")
    assert failed.latency_ms is not None and failed.adapter == "partner"
