"""A consumer names the scope of its once-per-event claims (govbus.idempotency): a name
it gives, checked at import, held by one handler in a process, so two consumers can
never share their claims by accident (in Lambda every handler module is ``app``)."""

from __future__ import annotations

import importlib.util
import uuid

import pytest

from govbus.idempotency import once_per_event

CONSUMER = """
from govbus.idempotency import once_per_event


@once_per_event({scope!r})
def react(command: dict) -> dict:
    return {{}}
"""


def load_app(path, scope: str, name: str = "app"):
    """Import ``path`` as Lambda does: a module named ``app``."""
    path.write_text(CONSUMER.format(scope=scope), encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("scope", ["", "Payments", "pay ments", "1st", "x" * 65, None])
def test_a_scope_that_is_not_a_consumers_name_is_refused(scope):
    with pytest.raises(TypeError, match="the consumer's name"):
        once_per_event(scope)


def test_the_decorator_without_a_name_is_refused_with_the_way_to_write_it():
    with pytest.raises(TypeError, match=r'@once_per_event\("payments"\)'):

        @once_per_event  # type: ignore[arg-type]
        def react(command: dict) -> dict:
            return {}


def test_a_second_consumer_asking_for_a_held_scope_is_refused(tmp_path):
    scope = f"unit-{uuid.uuid4().hex[:12]}"
    (tmp_path / "payments").mkdir()
    (tmp_path / "notices").mkdir()
    load_app(tmp_path / "payments" / "app.py", scope)

    with pytest.raises(ValueError, match=f"scope '{scope}' is already held by .*payments"):
        load_app(tmp_path / "notices" / "app.py", scope)


def test_the_same_consumer_imported_again_keeps_its_scope(tmp_path):
    scope = f"unit-{uuid.uuid4().hex[:12]}"
    first = load_app(tmp_path / "app.py", scope)
    # as the OpenAPI build and a test both import a function, each under its own name
    again = load_app(tmp_path / "app.py", scope, name="functions.payments.app")
    assert again.react.__module__ != first.react.__module__
