"""AWS clients, built once per process.

botocore honours ``AWS_ENDPOINT_URL`` (and the per-service ``AWS_ENDPOINT_URL_<SERVICE>``)
by itself, so the same code talks to moto server, LocalStack or a real account.

Clients come from botocore's own session, not boto3's: boto3 adds resources and S3's
transfer manager, which no function uses, and importing it (s3transfer, its
concurrency machinery) costs ~13 ms of every cold start. A botocore client is the very
client ``boto3.client`` returns (boto3 builds it the same way).
"""

from __future__ import annotations

import functools
import json
import os
import threading
import time
from typing import Any

import botocore
import botocore.session
from botocore.config import Config

from govbus import settings

_CONFIG = Config(
    retries={"max_attempts": 3, "mode": "standard"},
    connect_timeout=3,
    read_timeout=10,
)
# creating clients from one session is not thread-safe (botocore's own advice): the
# first call of each service is made under this lock, then the client is shared
_CREATING = threading.Lock()


def data_loader() -> Any | None:
    """A loader that reads only the layer's botocore data, when ``AWS_DATA_PATH`` names it
    whole and made for this botocore (its ``STAMP``); else ``None``: botocore's own.

    botocore's own loader lists every directory of every search path (its 400-odd
    services: ~2,700 ``stat`` calls, ~20 ms of a cold start) before it loads the first
    model; the layer's data holds the seven services the functions call, so looking
    nowhere else finds the same files (``tests/unit/test_botocore_data.py``).
    """
    path = settings.platform().aws_data_path
    if not path or os.pathsep in path:
        return None
    try:
        with open(os.path.join(path, "STAMP"), encoding="utf-8") as fh:
            stamp = fh.read().strip()
    except OSError:
        return None
    if not stamp.startswith(f"botocore {botocore.__version__};") or not stamp.endswith("; whole"):
        return None
    from botocore.loaders import Loader

    return Loader(extra_search_paths=[path], include_default_search_paths=False)


@functools.cache
def session() -> Any:
    """botocore's session for every client of this process (the layer's data loader on it)."""
    botocore_session = botocore.session.get_session()
    loader = data_loader()
    if loader is not None:
        botocore_session.register_component("data_loader", loader)
    return botocore_session


_CLIENTS: dict[str, Any] = {}


def client(service: str) -> Any:
    """The process's client for ``service``: made once, whichever thread asks first (a
    second thread asking meanwhile waits for that one rather than making its own)."""
    made = _CLIENTS.get(service)
    if made is None:
        with _CREATING:
            made = _CLIENTS.get(service)
            if made is None:
                made = _CLIENTS[service] = session().create_client(service, config=_CONFIG)
    return made


def stage() -> str:
    return settings.platform().stage


_SECRET_CACHE: dict[str, tuple[float, str]] = {}
SECRET_TTL_SECONDS = 300.0
# one read of a secret at a time: a caller that asks while another thread reads it (the
# dispatcher reads a partner's credentials beside its claim) waits for that read
_SECRET_LOCKS: dict[str, threading.Lock] = {}
_SECRET_LOCKS_LOCK = threading.Lock()


def secret_is_cached(name: str) -> bool:
    hit = _SECRET_CACHE.get(name)
    return bool(hit) and time.monotonic() - hit[0] < SECRET_TTL_SECONDS


def get_secret(name: str) -> str:
    """Read a Secrets Manager secret string, cached for five minutes (rotation-safe)."""
    hit = _SECRET_CACHE.get(name)
    if hit and time.monotonic() - hit[0] < SECRET_TTL_SECONDS:
        return hit[1]
    with _SECRET_LOCKS_LOCK:
        lock = _SECRET_LOCKS.setdefault(name, threading.Lock())
    with lock:
        hit = _SECRET_CACHE.get(name)  # read by the thread this one waited for
        if hit and time.monotonic() - hit[0] < SECRET_TTL_SECONDS:
            return hit[1]
        now = time.monotonic()
        value = client("secretsmanager").get_secret_value(SecretId=name)["SecretString"]
        _SECRET_CACHE[name] = (now, value)
        return value


def forget_secret(name: str) -> None:
    """Drop one cached secret: the next read asks Secrets Manager (a rotation seen)."""
    _SECRET_CACHE.pop(name, None)


def get_secret_json(name: str) -> dict[str, Any]:
    return json.loads(get_secret(name))


def clear_caches(*, clients: bool = True) -> None:
    """Forget secrets, and clients unless ``clients=False`` (tests switch endpoints
    between sessions; a reset of the same endpoint leaves the clients good)."""
    if clients:
        _CLIENTS.clear()
        session.cache_clear()
    _SECRET_CACHE.clear()
