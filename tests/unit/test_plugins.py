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
