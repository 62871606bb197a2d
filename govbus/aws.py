"""AWS clients, built once per process.

boto3 honours ``AWS_ENDPOINT_URL`` (and the per-service ``AWS_ENDPOINT_URL_<SERVICE>``)
by itself, so the same code talks to moto server, LocalStack or a real account.
"""

from __future__ import annotations

import functools
import json
import time
from typing import Any

import boto3
from botocore.config import Config

from govbus import settings

_CONFIG = Config(
    retries={"max_attempts": 3, "mode": "standard"},
    connect_timeout=3,
    read_timeout=10,
)


@functools.cache
def client(service: str) -> Any:
    return boto3.client(service, config=_CONFIG)


@functools.cache
def resource(service: str) -> Any:
    return boto3.resource(service, config=_CONFIG)


def stage() -> str:
    return settings.platform().stage


_SECRET_CACHE: dict[str, tuple[float, str]] = {}
SECRET_TTL_SECONDS = 300.0


def get_secret(name: str) -> str:
    """Read a Secrets Manager secret string, cached for five minutes (rotation-safe)."""
    now = time.monotonic()
    hit = _SECRET_CACHE.get(name)
    if hit and now - hit[0] < SECRET_TTL_SECONDS:
        return hit[1]
    value = client("secretsmanager").get_secret_value(SecretId=name)["SecretString"]
    _SECRET_CACHE[name] = (now, value)
    return value


def get_secret_json(name: str) -> dict[str, Any]:
    return json.loads(get_secret(name))


def clear_caches(*, clients: bool = True) -> None:
    """Forget secrets, and clients unless ``clients=False`` (tests switch endpoints
    between sessions; a reset of the same endpoint leaves the clients good)."""
    if clients:
        client.cache_clear()
        resource.cache_clear()
    _SECRET_CACHE.clear()
