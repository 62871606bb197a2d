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

A function's manager (:func:`plugin_manager`) loads an installed adapter when it is
first addressed (:func:`call`, :func:`implements`, :func:`adapter_info`, ``get_plugin``):
the entry points' names are known without importing them, so :func:`adapter_names` is
exact from the start, and a function that serves one partner imports and configures
that partner's adapter only. The checks (a hook without a spec, an adapter calling
itself by another name) run at that load and fail it loudly, every time it is tried.
Tools that list or test every adapter build an eager manager
(:func:`create_plugin_manager`), which loads and checks them all at once.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import threading
from collections.abc import Callable, Iterable, Mapping
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


def _selected_entry_points(
    allow: set[str] | None, extra: Mapping[str, object]
) -> dict[str, importlib.metadata.EntryPoint]:
    """The installed adapters the allow-list keeps; refuses names not installed."""
    installed = installed_adapters()
    if allow is not None:
        missing = allow - installed.keys() - set(extra)
        if missing:
            raise PluginError(
                f"{ALLOW_LIST_VARIABLE} names adapters that are not installed: "
                f"{', '.join(sorted(missing))}"
            )
    return {
        name: ep
        for name, ep in sorted(installed.items())
        if (allow is None or name in allow) and name not in extra
    }


def _load_entry_point(name: str, ep: importlib.metadata.EntryPoint) -> object:
    try:
        return ep.load()
    except Exception as exc:
        raise PluginError(f"adapter {name!r} failed to load from {ep.value}") from exc


def create_plugin_manager(
    allow: Iterable[str] | None = None,
    *,
    extra_plugins: Mapping[str, object] | None = None,
    load_entry_points: bool = True,
) -> pluggy.PluginManager:
    """Build a plugin manager with the hookspecs and the allowed adapters, all loaded.

    The eager path, for tools that list or test every adapter (the CLI's ``govbus
    adapters``, the conformance kit, the local stack's simulators).
    ``extra_plugins`` (name -> module or object) are registered as well, as a test
    or a scaffolded adapter's own suite would. Fails loudly on a hook
    implementation without a spec and on an adapter whose info names another.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    allow_set = set(allow) if allow is not None else None
    plugins: dict[str, object] = {}
    if load_entry_points:
        for name, ep in _selected_entry_points(allow_set, extra_plugins or {}).items():
            plugins[name] = _load_entry_point(name, ep)
    plugins.update(extra_plugins or {})
    for name, plugin in plugins.items():
        register(pm, name, plugin)
    pm.check_pending()
    return pm


class LazyPluginManager(pluggy.PluginManager):
    """A plugin manager whose installed adapters load when first addressed.

    ``pending`` maps each adapter's name to what loads it (its entry point); the
    adapter is imported, registered (with :func:`register`'s checks) and handed its
    configuration (``on_load``) the first time ``get_plugin`` asks for it, which every
    helper here does before it touches an adapter. Loading is serialised by one lock: two
    threads addressing the same adapter load it once, and an adapter stays pending until
    it is registered *and* configured, so a second thread that addresses it meanwhile
    waits for the load instead of finding it missing or unconfigured. Once loaded, an
    adapter is found without the lock (a dict lookup). An adapter that failed to import
    or its checks is not tried again in this process: each address raises its
    :class:`PluginError` again. One whose configuration failed is tried again.

    Registering one adapter while another thread calls a loaded one is safe because
    :func:`call` picks the named adapter's implementations when it runs them, never
    "every plugin but the others it saw a moment before".
    """

    def __init__(
        self,
        project_name: str,
        pending: Mapping[str, Callable[[], object]],
        on_load: Callable[[pluggy.PluginManager, str], None] | None = None,
    ) -> None:
        super().__init__(project_name)
        self._pending = dict(pending)
        self._failed: dict[str, PluginError] = {}
        self._on_load = on_load
        self._load_lock = threading.RLock()
        self._loading: set[str] = set()  # being loaded by the thread holding the lock

    def pending_names(self) -> list[str]:
        """The allowed adapters not loaded yet (failed ones included: they are named)."""
        return sorted(self._pending.keys() | self._failed.keys())

    def get_plugin(self, name: str) -> Any | None:
        # the warm path takes no lock: a loaded adapter is in neither dict
        if name in self._pending or name in self._failed:
            self.load(name)
        return super().get_plugin(name)

    def load(self, name: str) -> None:
        """Import, register, check and configure adapter ``name`` if it is pending.

        It leaves ``pending`` only when configured: until then another thread that
        addresses it comes here and waits on the lock. Its own configuration calls its
        hooks (``on_load``), which address it again from this thread: that is let through.
        """
        with self._load_lock:
            if name in self._failed:
                raise self._failed[name]
            if name in self._loading:
                return  # its configuration, in this thread, calls its own hooks
            loader = self._pending.get(name)
            if loader is None:
                return  # loaded already (or never pending)
            self._loading.add(name)
            try:
                self._load(name, loader)
            finally:
                self._loading.discard(name)

    def _load(self, name: str, loader: Callable[[], object]) -> None:
        try:
            plugin = loader()
            register(self, name, plugin)  # unregisters what it refuses
        except PluginError as exc:  # installed wrongly: no later address can help
            self._failed[name] = exc
            del self._pending[name]
            raise
        except BaseException:
            del self._pending[name]
            raise
        if self._on_load is not None:
            try:
                self._on_load(self, name)
            except BaseException:
                # its configuration failed (a bad setting): the next address tries again
                self.unregister(name=name)
                self._pending[name] = lambda: plugin
                raise
        del self._pending[name]  # loaded and configured: found without the lock from now

    def load_all(self) -> None:
        """Load every pending adapter now (a caller about to address them all at once)."""
        for name in self.pending_names():
            self.load(name)


def create_lazy_plugin_manager(
    allow: Iterable[str] | None = None,
    *,
    extra_plugins: Mapping[str, object] | None = None,
    on_load: Callable[[pluggy.PluginManager, str], None] | None = None,
) -> LazyPluginManager:
    """A manager that knows the allowed adapters by name and loads each when addressed.

    ``extra_plugins`` (modules already imported, such as ``GOVBUS_DEV_ADAPTERS``'s) are
    registered and checked at once, as :func:`create_plugin_manager` does, but not
    configured: ``on_load`` is for the adapters loaded later.
    """
    allow_set = set(allow) if allow is not None else None
    points = _selected_entry_points(allow_set, extra_plugins or {})
    pending = {
        name: (lambda name=name, ep=ep: _load_entry_point(name, ep)) for name, ep in points.items()
    }
    pm = LazyPluginManager(hookspecs.PROJECT, pending, on_load)
    pm.add_hookspecs(hookspecs)
    for name, plugin in (extra_plugins or {}).items():
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
    """Every allowed adapter's name, loaded or not (a lazy manager imports none here)."""
    names = set(loaded_adapter_names(pm))
    if isinstance(pm, LazyPluginManager):
        names.update(pm.pending_names())
    return sorted(names)


def load(pm: pluggy.PluginManager, name: str) -> None:
    """Load adapter ``name`` now if a lazy manager has not yet (no-op for an eager one).

    For a caller that wants a load's failure apart from the calls that follow (health
    reports an adapter that cannot load as down before it pings the others). Loading
    while other threads call adapters is safe (see :class:`LazyPluginManager`).
    """
    if isinstance(pm, LazyPluginManager):
        pm.load(name)


def load_all(pm: pluggy.PluginManager) -> None:
    """Load every adapter a lazy manager has not loaded yet (no-op for an eager one)."""
    if isinstance(pm, LazyPluginManager):
        pm.load_all()


def loaded_adapter_names(pm: pluggy.PluginManager) -> list[str]:
    """The adapters already loaded (for a lazy manager, those addressed so far)."""
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
    # its own implementations, chosen as it is called: an adapter that another thread
    # registers meanwhile does not join the call (pluggy's subset caller would take it in)
    return _AdapterHookCaller(getattr(pm.hook, hook), plugin)(**kwargs)


class _AdapterHookCaller(pluggy.HookCaller):
    """One hook of one adapter: pluggy's own call path (defaults, wrappers, tracing)
    over that adapter's implementations only, read from a copy taken at the call."""

    __slots__ = ("_orig", "_plugin")

    def __init__(self, orig: pluggy.HookCaller, plugin: object) -> None:
        self._orig = orig
        self._plugin = plugin
        self.name = orig.name  # type: ignore[misc]
        self._hookexec = orig._hookexec  # type: ignore[misc]

    @property  # type: ignore[misc]
    def _hookimpls(self) -> list[Any]:
        # get_hookimpls() copies the list in one step; a registration cannot shift it
        return [impl for impl in self._orig.get_hookimpls() if impl.plugin is self._plugin]

    @property
    def spec(self) -> Any:  # type: ignore[override]
        return self._orig.spec

    @property
    def _call_history(self) -> Any:  # type: ignore[override]
        return self._orig._call_history


def implements(pm: pluggy.PluginManager, adapter: str, hook: str) -> bool:
    plugin = pm.get_plugin(adapter)
    caller = getattr(pm.hook, hook)
    return any(impl.plugin is plugin for impl in caller.get_hookimpls())


def settings_prefix(name: str) -> str:
    """``GOVBUS_<NAME>_``: what adapter ``name``'s environment variables start with."""
    return f"GOVBUS_{name.upper()}_"


def adapter_settings(name: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``GOVBUS_<NAME>_<KEY>`` variables as ``{key: value}`` (keys lower-cased)."""
    prefix = settings_prefix(name)
    env = environ if environ is not None else settings.adapters().variables
    return {k[len(prefix) :].lower(): v for k, v in env.items() if k.startswith(prefix)}


def configure_one(pm: pluggy.PluginManager, name: str, get_secret: Any) -> None:
    """Hand adapter ``name`` its settings and the secret reader."""
    if implements(pm, name, "govbus_adapter_configure"):
        call(
            pm,
            name,
            "govbus_adapter_configure",
            settings=adapter_settings(name),
            get_secret=get_secret,
        )


def configure(pm: pluggy.PluginManager, get_secret: Any) -> None:
    """Hand every loaded adapter its settings and the secret reader.

    A lazy manager's adapters not loaded yet are configured when they load, from the
    settings of that moment.
    """
    for name in loaded_adapter_names(pm):
        configure_one(pm, name, get_secret)


_MANAGERS: dict[str | None, pluggy.PluginManager] = {}
_MANAGERS_LOCK = threading.Lock()


def plugin_manager() -> pluggy.PluginManager:
    """The plugin manager for this process's allow-list, built at the first call.

    Lazy: it knows the allowed adapters' names from their entry points and loads and
    configures each when it is first addressed (``GOVBUS_DEV_ADAPTERS``'s modules,
    imported already, are registered and configured at once). In Lambda (and in the
    local stack's workers) a process serves one function, so there is one; keying on ``GOVBUS_ADAPTERS`` keeps a tool that builds managers for
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
            pm = create_lazy_plugin_manager(
                allow,
                extra_plugins=extra,
                on_load=lambda manager, name: configure_one(manager, name, get_secret),
            )
            configure(pm, get_secret)
            _MANAGERS[key] = pm
        return pm


def reconfigure_all() -> None:
    """Hand every built plugin manager's adapters their configuration again."""
    from govbus.aws import get_secret

    with _MANAGERS_LOCK:
        for pm in _MANAGERS.values():
            configure(pm, get_secret)
