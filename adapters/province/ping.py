"""The province adapter's ping: an HTTP GET of the hall's service address.

Kept apart from :mod:`adapters.province.client` so that health, which pings every
adapter, needs neither zeep nor requests: the hall answers a GET of its service address
without credentials (the partner allows it), so no SOAP is built or parsed. urllib3 is
what botocore uses already. The environment's proxy variables are never read: the only
proxy is the one the adapter's configuration names.
"""

from __future__ import annotations

import threading

import urllib3

_POOLS: dict[str | None, urllib3.PoolManager] = {}
_POOLS_LOCK = threading.Lock()


def _pool(proxy: str | None) -> urllib3.PoolManager:
    with _POOLS_LOCK:
        pool = _POOLS.get(proxy)
        if pool is None:
            if proxy:
                pool = urllib3.ProxyManager(proxy, num_pools=2, maxsize=2, retries=False)
            else:
                pool = urllib3.PoolManager(num_pools=2, maxsize=2, retries=False)
            _POOLS[proxy] = pool
        return pool


def ping_endpoint(
    endpoint: str, timeout: float = 1.0, proxy: str | None = None
) -> tuple[bool, str]:
    """A GET of the service address: no credentials needed, no SOAP parsed."""
    try:
        answer = _pool(proxy).request(
            "GET",
            endpoint,
            timeout=urllib3.Timeout(connect=timeout, read=timeout),
            redirect=False,
            preload_content=True,
        )
    except urllib3.exceptions.HTTPError as exc:
        return False, f"the provincial hall is unreachable: {type(exc).__name__}"
    if answer.status != 200:
        return False, f"the provincial hall answered its ping with HTTP {answer.status}"
    return True, ""
