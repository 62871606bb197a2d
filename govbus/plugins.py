"""The plugin manager: hook specifications, adapters from entry points, allow-list.

Built-in adapters register exactly like a department's package: through the
``govbus.adapters`` entry point group. ``GOVBUS_ADAPTERS`` (comma-separated names)
pins which adapters a process loads; unset loads every installed one, an empty
value loads none.

``GOVBUS_DEV_ADAPTERS`` (``name=module,...``) names adapters that are not installed
packages, for development and tests only: the local stack hands it to its workers so a
test's adapter module serves the functions as an installed one would. The allow-list
applies to them too. Never set it in a deployed stack.

The host addresses one adapter at a time: :func:`call` runs a hook on the named
adapter only, so adapters never filter calls meant for someone else.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import threading
from collections.abc import Iterable, Mapping
from typing import Any

import pluggy

from contracts import hookspecs
from contracts.adapters import AdapterInfo
from contracts.errors import AdapterNotFound
from govbus import settings

ENTRY_POINT_GROUP = "govbus.adapters"
ALLOW_LIST_VARIABLE = "GOVBUS_ADAPTERS"
DEV_ADAPTERS_VARIABLE = "GOVBUS_DEV_ADAPTERS"


class PluginError(RuntimeError):
    """An adapter is installed wrongly (bad entry point, unknown hook, name mismatch)."""


def allowed_adapters(environ: Mapping[str, str] | None = None) -> set[str] | None:
    """The allow-list from the environment; ``None`` means no pin (load all)."""
    if environ is None:
        raw = settings.adapters().allow_list
    else:
        raw = environ.get(ALLOW_LIST_VARIABLE)
    if raw is None:
        return None
    return {name.strip() for name in raw.split(",") if name.strip()}


def development_adapters(environ: Mapping[str, str] | None = None) -> dict[str, object]:
    """Adapter modules named in ``GOVBUS_DEV_ADAPTERS`` (``name=module``), imported."""
    if environ is None:
        raw = settings.adapters().development
    else:
        raw = environ.get(DEV_ADAPTERS_VARIABLE, "")
    found: dict[str, object] = {}
    for pair in filter(None, (p.strip() for p in raw.split(","))):
        name, sep, module = pair.partition("=")
        if not sep or not name.strip() or not module.strip():
            raise PluginError(f"{DEV_ADAPTERS_VARIABLE} wants name=module pairs, not {pair!r}")
        try:
            found[name.strip()] = importlib.import_module(module.strip())
        except ImportError as exc:
            raise PluginError(f"development adapter {name!r} failed to import {module}") from exc
    return found


def installed_adapters() -> dict[str, importlib.metadata.EntryPoint]:
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


def create_plugin_manager(
    allow: Iterable[str] | None = None,
    *,
    extra_plugins: Mapping[str, object] | None = None,
    load_entry_points: bool = True,
) -> pluggy.PluginManager:
    """Build a plugin manager with the hookspecs and the allowed adapters.

    ``extra_plugins`` (name -> module or object) are registered as well, as a test
    or a scaffolded adapter's own suite would. Fails loudly on a hook
    implementation without a spec and on an adapter whose info names another.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    allow_set = set(allow) if allow is not None else None
    plugins: dict[str, object] = {}
    if load_entry_points:
        installed = installed_adapters()
        if allow_set is not None:
            missing = allow_set - installed.keys() - set(extra_plugins or {})
            if missing:
                raise PluginError(
                    f"{ALLOW_LIST_VARIABLE} names adapters that are not installed: "
                    f"{', '.join(sorted(missing))}"
                )
        for name, ep in sorted(installed.items()):
            if allow_set is not None and name not in allow_set:
                continue
            try:
                plugins[name] = ep.load()
            except Exception as exc:
                raise PluginError(f"adapter {name!r} failed to load from {ep.value}") from exc
    plugins.update(extra_plugins or {})
    for name, plugin in plugins.items():
        register(pm, name, plugin)
    pm.check_pending()
    return pm


def register(pm: pluggy.PluginManager, name: str, plugin: object) -> None:
    """Register one adapter under ``name`` and check that it says the same name."""
    pm.register(plugin, name=name)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        pm.unregister(name=name)
        raise PluginError(f"adapter {name!r} implements a hook that has no spec: {exc}") from exc
    info = adapter_info(pm, name)
    if info.name != name:
        pm.unregister(name=name)
        raise PluginError(f"adapter registered as {name!r} calls itself {info.name!r}")


def adapter_info(pm: pluggy.PluginManager, name: str) -> AdapterInfo:
    info = call(pm, name, "govbus_adapter_info")
    if not isinstance(info, AdapterInfo):
        raise PluginError(f"adapter {name!r} does not implement govbus_adapter_info")
    return info


def adapter_names(pm: pluggy.PluginManager) -> list[str]:
    return sorted(
        name for name, plugin in pm.list_name_plugin() if plugin is not None and name != "__spec__"
    )


def call(pm: pluggy.PluginManager, adapter: str, hook: str, **kwargs: Any) -> Any:
    """Call ``hook`` on adapter ``adapter`` only.

    Raises :class:`AdapterNotFound` for an unknown adapter, and
    :class:`NotImplementedError` when the adapter does not implement the hook.
    """
    plugin = pm.get_plugin(adapter)
    if plugin is None:
        raise AdapterNotFound(f"no adapter named {adapter!r} is loaded")
    if not implements(pm, adapter, hook):
        raise NotImplementedError(f"adapter {adapter!r} does not implement {hook}")
    others = [p for p in pm.get_plugins() if p is not plugin]
    # a subset caller keeps pluggy's own machinery (wrappers, tracing) intact
    return pm.subset_hook_caller(hook, remove_plugins=others)(**kwargs)


def implements(pm: pluggy.PluginManager, adapter: str, hook: str) -> bool:
    plugin = pm.get_plugin(adapter)
    caller = getattr(pm.hook, hook)
    return any(impl.plugin is plugin for impl in caller.get_hookimpls())


def adapter_settings(name: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``GOVBUS_<NAME>_<KEY>`` variables as ``{key: value}`` (keys lower-cased)."""
    prefix = f"GOVBUS_{name.upper()}_"
    env = environ if environ is not None else settings.adapters().variables
    return {k[len(prefix) :].lower(): v for k, v in env.items() if k.startswith(prefix)}


def configure(pm: pluggy.PluginManager, get_secret: Any) -> None:
    """Hand every adapter its settings and the secret reader (cold start)."""
    for name in adapter_names(pm):
        if implements(pm, name, "govbus_adapter_configure"):
            call(
                pm,
                name,
                "govbus_adapter_configure",
                settings=adapter_settings(name),
                get_secret=get_secret,
            )


_MANAGERS: dict[str | None, pluggy.PluginManager] = {}
_MANAGERS_LOCK = threading.Lock()


def plugin_manager() -> pluggy.PluginManager:
    """The plugin manager for this process's allow-list, built once at cold start.

    In Lambda (and in the local stack's workers) a process serves one function, so
    there is one; keying on ``GOVBUS_ADAPTERS`` keeps a tool that builds managers for
    several allow-lists in one process honest.
    """
    key = settings.adapters().allow_list
    with _MANAGERS_LOCK:
        pm = _MANAGERS.get(key)
        if pm is None:
            from govbus.aws import get_secret

            allow = allowed_adapters()
            extra = {
                name: plugin
                for name, plugin in development_adapters().items()
                if allow is None or name in allow
            }
            pm = create_plugin_manager(allow, extra_plugins=extra)
            configure(pm, get_secret)
            _MANAGERS[key] = pm
        return pm


def reconfigure_all() -> None:
    """Hand every built plugin manager's adapters their configuration again."""
    from govbus.aws import get_secret

    with _MANAGERS_LOCK:
        for pm in _MANAGERS.values():
            configure(pm, get_secret)
