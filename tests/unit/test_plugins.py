import types

import pytest

from contracts import hookimpl
from contracts.adapters import AdapterFamily, AdapterInfo
from contracts.errors import AdapterNotFound
from govbus.plugins import (
    PluginError,
    adapter_names,
    adapter_settings,
    allowed_adapters,
    call,
    create_plugin_manager,
)
from tests.fixtures import acme_adapter


def make_adapter(name: str, **hooks):
    module = types.ModuleType(name)

    @hookimpl
    def govbus_adapter_info():
        return AdapterInfo(name=name, family=AdapterFamily.other, title=name)

    module.govbus_adapter_info = govbus_adapter_info
    for hook_name, fn in hooks.items():
        setattr(module, hook_name, hookimpl(fn))
    return module


def test_allow_list_unset_means_all_empty_means_none():
    assert allowed_adapters({}) is None
    assert allowed_adapters({"GOVBUS_ADAPTERS": ""}) == set()
    assert allowed_adapters({"GOVBUS_ADAPTERS": "ems, ca"}) == {"ems", "ca"}


def test_allow_list_naming_an_uninstalled_adapter_fails_loudly():
    with pytest.raises(PluginError, match="not installed: nosuch"):
        create_plugin_manager({"nosuch"})


def test_a_hookimpl_without_a_spec_fails_loudly():
    bad = make_adapter("bad", govbus_no_such_hook=lambda: None)
    with pytest.raises(PluginError, match="no spec"):
        create_plugin_manager(set(), extra_plugins={"bad": bad})


def test_an_adapter_must_call_itself_by_its_registered_name():
    liar = make_adapter("someone_else")
    with pytest.raises(PluginError, match="calls itself"):
        create_plugin_manager(set(), extra_plugins={"liar": liar})


def test_call_reaches_only_the_named_adapter():
    one = make_adapter("one", govbus_delivery_track=lambda waybill_no, ctx: ["one"])
    two = make_adapter("two", govbus_delivery_track=lambda waybill_no, ctx: ["two"])
    pm = create_plugin_manager(set(), extra_plugins={"one": one, "two": two})
    assert adapter_names(pm) == ["one", "two"]
    assert call(pm, "two", "govbus_delivery_track", waybill_no="W1", ctx=None) == ["two"]
    assert call(pm, "one", "govbus_delivery_track", waybill_no="W1", ctx=None) == ["one"]
    with pytest.raises(AdapterNotFound):
        call(pm, "three", "govbus_delivery_track", waybill_no="W1", ctx=None)
    with pytest.raises(NotImplementedError):
        call(pm, "one", "govbus_ping")


def test_adapter_settings_come_from_prefixed_variables():
    env = {"GOVBUS_ACME_ENDPOINT": "http://x", "GOVBUS_ACME_TIMEOUT": "3", "OTHER": "y"}
    assert adapter_settings("acme", env) == {"endpoint": "http://x", "timeout": "3"}


def test_the_test_adapter_registers_cleanly():
    pm = create_plugin_manager(set(), extra_plugins={"acme": acme_adapter})
    assert call(pm, "acme", "govbus_ping").status == "up"


def test_development_adapters_are_imported_by_name_and_malformed_pairs_are_refused():
    from govbus.plugins import development_adapters

    env = {"GOVBUS_DEV_ADAPTERS": "acme=tests.fixtures.acme_adapter"}
    assert development_adapters(env) == {"acme": acme_adapter}
    assert development_adapters({}) == {}
    with pytest.raises(PluginError, match="name=module"):
        development_adapters({"GOVBUS_DEV_ADAPTERS": "acme"})
    with pytest.raises(PluginError, match="failed to import"):
        development_adapters({"GOVBUS_DEV_ADAPTERS": "acme=tests.fixtures.no_such_module"})


@pytest.mark.parametrize(("allow", "loaded"), [("acme", ["acme"]), ("", [])])
def test_a_development_adapter_obeys_the_allow_list(monkeypatch, allow, loaded):
    from govbus import plugins

    monkeypatch.setattr(plugins, "_MANAGERS", {})
    from govbus import settings

    with settings.override(development="acme=tests.fixtures.acme_adapter", allow_list=allow):
        assert adapter_names(plugins.plugin_manager()) == loaded


# --- the lazy manager a function builds: adapters load when first addressed -------------


class FakeEntryPoint:
    """An installed adapter's entry point: its name is known, loading it is counted."""

    def __init__(self, name: str, module: object) -> None:
        self.name, self.value, self.module, self.loads = name, f"tests.fake.{name}", module, 0

    def load(self) -> object:
        self.loads += 1
        return self.module


def install(monkeypatch, **modules: object) -> dict[str, FakeEntryPoint]:
    from govbus import plugins

    points = {name: FakeEntryPoint(name, module) for name, module in modules.items()}
    monkeypatch.setattr(plugins, "installed_adapters", lambda: dict(points))
    return points


def track(name: str):
    return make_adapter(name, govbus_delivery_track=lambda waybill_no, ctx: [name])


def test_a_lazy_manager_names_every_allowed_adapter_and_loads_none(monkeypatch):
    from govbus.plugins import create_lazy_plugin_manager

    points = install(monkeypatch, one=track("one"), two=track("two"), three=track("three"))
    pm = create_lazy_plugin_manager({"one", "three"})
    assert adapter_names(pm) == ["one", "three"]
    assert [p.loads for p in points.values()] == [0, 0, 0]


def test_addressing_an_adapter_loads_and_configures_that_one_only(monkeypatch):
    from govbus.plugins import adapter_info, create_lazy_plugin_manager, implements

    points = install(monkeypatch, one=track("one"), two=track("two"))
    configured: list[str] = []
    pm = create_lazy_plugin_manager(on_load=lambda _pm, name: configured.append(name))
    assert call(pm, "two", "govbus_delivery_track", waybill_no="W1", ctx=None) == ["two"]
    assert implements(pm, "two", "govbus_delivery_track")
    assert adapter_info(pm, "two").name == "two"
    assert (points["one"].loads, points["two"].loads) == (0, 1)
    assert configured == ["two"]
    # the other one, addressed later, answers alone as well
    assert call(pm, "one", "govbus_delivery_track", waybill_no="W1", ctx=None) == ["one"]
    assert configured == ["two", "one"]
    assert adapter_names(pm) == ["one", "two"]


def test_a_lazy_manager_refuses_an_unknown_adapter_and_an_uninstalled_allow_list(monkeypatch):
    from govbus.plugins import create_lazy_plugin_manager

    install(monkeypatch, one=track("one"))
    with pytest.raises(PluginError, match="not installed: nosuch"):
        create_lazy_plugin_manager({"one", "nosuch"})
    pm = create_lazy_plugin_manager()
    with pytest.raises(AdapterNotFound):
        call(pm, "two", "govbus_delivery_track", waybill_no="W1", ctx=None)
    # an adapter the allow-list leaves out is unknown too, though installed
    pm = create_lazy_plugin_manager(set())
    assert adapter_names(pm) == []
    with pytest.raises(AdapterNotFound):
        call(pm, "one", "govbus_delivery_track", waybill_no="W1", ctx=None)


def test_a_misnamed_adapter_is_refused_when_addressed_and_every_time_after(monkeypatch):
    from govbus.plugins import create_lazy_plugin_manager

    points = install(monkeypatch, liar=make_adapter("someone_else"), one=track("one"))
    pm = create_lazy_plugin_manager()
    assert adapter_names(pm) == ["liar", "one"]  # named, though it will not load
    for _ in range(2):
        with pytest.raises(PluginError, match="calls itself"):
            call(pm, "liar", "govbus_adapter_info")
    assert points["liar"].loads == 1
    # the other adapters serve on
    assert call(pm, "one", "govbus_delivery_track", waybill_no="W1", ctx=None) == ["one"]


def test_a_hookimpl_without_a_spec_is_refused_when_its_adapter_is_addressed(monkeypatch):
    from govbus.plugins import create_lazy_plugin_manager

    install(monkeypatch, bad=make_adapter("bad", govbus_no_such_hook=lambda: None))
    pm = create_lazy_plugin_manager()
    with pytest.raises(PluginError, match="no spec"):
        pm.get_plugin("bad")
    with pytest.raises(PluginError, match="no spec"):
        call(pm, "bad", "govbus_ping")


def test_an_adapter_that_fails_to_import_is_refused_loudly(monkeypatch):
    from govbus.plugins import create_lazy_plugin_manager

    points = install(monkeypatch, broken=track("broken"))

    def fail():
        raise ImportError("no module named broken_dependency")

    monkeypatch.setattr(points["broken"], "load", fail)
    pm = create_lazy_plugin_manager()
    with pytest.raises(PluginError, match="failed to load"):
        call(pm, "broken", "govbus_ping")


def test_an_adapter_whose_configuration_failed_is_configured_again_when_next_addressed(
    monkeypatch,
):
    from govbus.plugins import create_lazy_plugin_manager

    install(monkeypatch, one=track("one"))
    attempts: list[str] = []

    def configure(_pm, name):
        attempts.append(name)
        if len(attempts) == 1:
            raise ValueError("GOVBUS_ONE_TIMEOUT_SECONDS is not a number")

    pm = create_lazy_plugin_manager(on_load=configure)
    with pytest.raises(ValueError, match="not a number"):
        call(pm, "one", "govbus_delivery_track", waybill_no="W1", ctx=None)
    assert call(pm, "one", "govbus_delivery_track", waybill_no="W1", ctx=None) == ["one"]
    assert attempts == ["one", "one"]


def test_health_reports_an_adapter_that_cannot_load_as_down_and_pings_the_others(monkeypatch):
    from govbus.health import health_report
    from govbus.plugins import create_lazy_plugin_manager

    install(monkeypatch, acme=acme_adapter, liar=make_adapter("someone_else"))
    report = health_report(create_lazy_plugin_manager(), "dev")
    assert [(p.adapter, p.status) for p in report.adapters] == [
        ("acme", "up"),
        ("liar", "down"),
    ]
    assert report.adapters[1].detail == "adapter failed to load: PluginError"
    assert report.status == "degraded"


LAZY_PROBE = """
import json, sys
from govbus.plugins import adapter_names, call, installed_adapters, plugin_manager
pm = plugin_manager()
names = adapter_names(pm)
before = sorted(m for m in sys.modules if m.startswith("adapters."))
info = call(pm, "ems", "govbus_adapter_info")
after = sorted(m for m in sys.modules if m.startswith("adapters."))
print(json.dumps({"names": names, "installed": sorted(installed_adapters()),
                  "before": before, "after": after, "info": info.name}))
"""


def test_a_function_addressing_one_adapter_imports_no_other_adapter():
    import json
    import subprocess
    import sys

    from tests.conftest import ROOT

    done = subprocess.run(
        [sys.executable, "-c", LAZY_PROBE],
        cwd=ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(ROOT),
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # nothing may be called
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(seen["installed"]) >= 7 and "ems" in seen["installed"]
    assert seen["names"] == seen["installed"]  # exact before any is loaded
    assert seen["before"] == []
    assert seen["info"] == "ems"
    assert "adapters.ems.plugin" in seen["after"]
    assert [m for m in seen["after"] if m.split(".")[1] != "ems"] == []


# --- many threads addressing adapters for the first time at once --------------------------


def configured_track(name: str, configured: set[str]):
    """An adapter that answers only once the host has configured it, as a real one needs
    its endpoint and secret first."""

    def govbus_delivery_track(waybill_no, ctx):
        if name not in configured:
            raise RuntimeError(f"{name} was called before it was configured")
        return [name]

    return make_adapter(name, govbus_delivery_track=govbus_delivery_track)


@pytest.fixture
def switch_often():
    """Threads switch every microsecond, so a window of a few bytecodes is found quickly."""
    import sys

    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


def test_threads_addressing_adapters_for_the_first_time_each_get_their_own_configured_answer(
    monkeypatch, switch_often
):
    """Loading one adapter (registering its hooks) while another thread calls one already
    loaded, or while a second thread addresses the one being loaded, answers each thread
    from the adapter it named, configured: never another adapter's answer, never "not
    loaded", never an adapter that is registered but not yet configured."""
    import threading

    from govbus.plugins import create_lazy_plugin_manager

    names = ["one", "two", "three", "four"]
    threads_per_adapter = 3
    wrong: list[str] = []
    for _round in range(150):
        configured: set[str] = set()
        install(monkeypatch, **{n: configured_track(n, configured) for n in names})

        def configure(pm, name, configured=configured):
            # as configure_one does: the adapter's own hook is called while it loads
            call(pm, name, "govbus_adapter_info")
            configured.add(name)

        pm = create_lazy_plugin_manager(on_load=configure)
        asked = [n for n in names for _ in range(threads_per_adapter)]
        barrier = threading.Barrier(len(asked))

        def address(name, pm=pm, barrier=barrier):
            barrier.wait(timeout=30)
            for _ in range(3):
                try:
                    answer = call(pm, name, "govbus_delivery_track", waybill_no="W1", ctx=None)
                except Exception as exc:  # every failure is the finding
                    answer = f"{type(exc).__name__}: {exc}"
                if answer != [name]:
                    wrong.append(f"{name} answered {answer!r}")

        workers = [threading.Thread(target=address, args=(n,)) for n in asked]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=30)
        assert not any(w.is_alive() for w in workers), "a thread is stuck"
    assert wrong == [], f"{len(wrong)} wrong answers, e.g. {sorted(set(wrong))[:5]}"
