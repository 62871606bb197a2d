"""Health of the platform: every loaded adapter's ``govbus_ping``, in parallel, bounded."""

from __future__ import annotations

import concurrent.futures
import time

import pluggy
from pydantic import BaseModel

from contracts.adapters import Health, PingResult
from govbus import settings
from govbus.plugins import adapter_names, allowed_adapters, call, installed_adapters, load

PING_TIMEOUT_SECONDS = 2.0
NOT_LOADED = "installed, not loaded until the stack restarts"


class NotLoaded(BaseModel):
    """An adapter installed after the stack started: no function runs it yet."""

    adapter: str
    status: str = "not loaded"
    detail: str = NOT_LOADED


class HealthReport(BaseModel):
    status: Health
    stage: str
    adapters: list[PingResult]
    # beside the pings: installed, but the running stack does not run them (yet)
    not_loaded: list[NotLoaded] = []


def loaded_and_not(pm: pluggy.PluginManager) -> tuple[list[str], list[str]]:
    """The adapters the stack runs, and those installed since it started (not loaded).

    A function's environment knows the adapters installed when it started; a local
    stack's ``govbus dev`` also tells every function which adapters it started with
    (``GOVBUS_STACK_STARTED_WITH``), so an environment started after an install gives
    the same answer as one started before it.
    """
    known = adapter_names(pm)
    allow = allowed_adapters()
    installed = {name for name in installed_adapters() if allow is None or name in allow}
    started_with = settings.adapters().started_with
    if started_with is not None:
        started = {name.strip() for name in started_with.split(",") if name.strip()}
        loaded = [name for name in known if name in started or name not in installed]
    else:
        loaded = known
    return loaded, sorted(installed - set(loaded))


def _ping(pm: pluggy.PluginManager, name: str) -> PingResult:
    started = time.perf_counter()
    try:
        result = call(pm, name, "govbus_ping")
    except Exception as exc:  # a ping must never take the health endpoint down
        return PingResult(
            adapter=name, status=Health.down, detail=f"ping raised {type(exc).__name__}"
        )
    if not isinstance(result, PingResult):
        return PingResult(adapter=name, status=Health.down, detail="ping returned no PingResult")
    if result.latency_ms is None:
        result = result.model_copy(update={"latency_ms": (time.perf_counter() - started) * 1000})
    return result


def _load(pm: pluggy.PluginManager, name: str) -> PingResult | None:
    """Load the adapter before the pings start (``None``), or say why it cannot be."""
    try:
        load(pm, name)
    except Exception as exc:  # an adapter installed wrongly is down, not the endpoint
        return PingResult(
            adapter=name, status=Health.down, detail=f"adapter failed to load: {type(exc).__name__}"
        )
    return None


def health_report(pm: pluggy.PluginManager, stage: str) -> HealthReport:
    names, not_loaded = loaded_and_not(pm)
    # every adapter is loaded here first: one that cannot load is down, and the
    # parallel pings then time the partners' answers, not imports and configuration
    unloadable = {name: result for name in names if (result := _load(pm, name)) is not None}
    results: list[PingResult] = []
    if names:
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=min(8, len(names)))
        futures = {name: pool.submit(_ping, pm, name) for name in names if name not in unloadable}
        deadline = time.monotonic() + PING_TIMEOUT_SECONDS
        for name in names:
            if name in unloadable:
                results.append(unloadable[name])
                continue
            try:
                results.append(futures[name].result(timeout=max(0.0, deadline - time.monotonic())))
            except concurrent.futures.TimeoutError:
                results.append(
                    PingResult(adapter=name, status=Health.down, detail="ping timed out")
                )
        pool.shutdown(wait=False, cancel_futures=True)
    overall = Health.up if all(r.status == Health.up for r in results) else Health.degraded
    return HealthReport(
        status=overall,
        stage=stage,
        adapters=results,
        not_loaded=[NotLoaded(adapter=name) for name in not_loaded],
    )
