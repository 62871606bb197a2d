"""The adapter kit: every registered adapter (or those named by --adapter) against
its own simulator, through the host's plugin manager, as the functions call it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from contracts.adapters import AdapterFamily, Faults
from govbus import plugins


def _selected(config: pytest.Config) -> list[str]:
    chosen = config.getoption("--adapter")
    return chosen or sorted(plugins.installed_adapters())


def _family(name: str) -> AdapterFamily:
    pm = plugins.create_plugin_manager({name})
    return plugins.adapter_info(pm, name).family


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "adapter_name" not in metafunc.fixturenames:
        return
    names = _selected(metafunc.config)
    family = getattr(metafunc.module, "FAMILY", None)
    if family is not None:
        names = [n for n in names if _family(n) == family]
    hook = getattr(metafunc.module, "REQUIRES_HOOK", None)
    if hook is not None:
        names = [
            n for n in names if plugins.implements(plugins.create_plugin_manager({n}), n, hook)
        ]
    metafunc.parametrize("adapter_name", names)


class Harness:
    """An adapter loaded alone, configured against its freshly started simulator."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.pm = plugins.create_plugin_manager({name})
        self.simulator = plugins.call(self.pm, name, "govbus_simulator")
        self.simulator.start()
        self.secrets = {k.replace("{stage}", "dev"): v for k, v in self.simulator.secrets().items()}
        plugins.call(
            self.pm,
            name,
            "govbus_adapter_configure",
            settings={
                # what the simulated partner issued (an app id), as the stack passes it
                **plugins.adapter_settings(name, getattr(self.simulator, "settings", dict)()),
                "endpoint": self.simulator.url,
                "timeout_seconds": "1",
                "ping_cache_seconds": "0",
            },
            get_secret=self.get_secret,
        )

    def get_secret(self, secret_name: str) -> str:
        return self.secrets[secret_name]

    def push_secrets(self) -> list[str]:
        from contracts.signatures import active_secrets

        document = self.secrets.get(f"govbus/dev/webhooks/{self.name}")
        return active_secrets(json.loads(document)) if document else []

    def call(self, hook: str, **kwargs: Any) -> Any:
        return plugins.call(self.pm, self.name, hook, **kwargs)

    def implements(self, hook: str) -> bool:
        return plugins.implements(self.pm, self.name, hook)

    def faults(self, **faults: Any) -> None:
        self.simulator.set_faults(Faults(**faults))

    def close(self) -> None:
        self.simulator.stop()


@pytest.fixture
def harness(adapter_name: str):
    h = Harness(adapter_name)
    try:
        yield h
    finally:
        h.close()
        # adapters keep module state: hand the process-wide plugin manager (if any) back
        # its own configuration, so later tests talk to the local stack's simulators
        plugins.reconfigure_all()
