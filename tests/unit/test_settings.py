"""A function reads its configuration once, at init, into typed settings."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from govbus import settings
from tests.conftest import ROOT


@pytest.fixture(autouse=True)
def fresh_settings():
    settings.reset()
    yield
    settings.reset()


def test_settings_are_read_once_like_a_lambda_environment(monkeypatch):
    monkeypatch.setenv("CASES_TABLE", "Cases-1")
    monkeypatch.setenv("PARTNER_TIMEOUT_SECONDS", "2.5")
    assert settings.table("cases") == "Cases-1"
    assert settings.tuning().partner_timeout_seconds == 2.5
    monkeypatch.setenv("CASES_TABLE", "Cases-2")
    assert settings.table("cases") == "Cases-1", "the environment is fixed for the process"
    settings.reset()
    assert settings.table("cases") == "Cases-2"


def test_a_missing_table_names_the_variable_to_set(monkeypatch):
    monkeypatch.delenv("LICENCES_TABLE", raising=False)
    with pytest.raises(LookupError, match="LICENCES_TABLE is not set"):
        settings.table("licences")


def test_a_bad_number_is_refused_when_the_function_starts(monkeypatch):
    monkeypatch.setenv("RETRY_ATTEMPTS", "three")
    with pytest.raises(ValueError, match="RETRY_ATTEMPTS"):
        settings.tuning()


def test_override_points_the_stores_elsewhere_for_a_block_and_restores(monkeypatch):
    monkeypatch.setenv("CASES_TABLE", "Cases-env")
    monkeypatch.setenv("GOVBUS_STAGE", "prod")
    with settings.override(cases="Cases-test", stage="dev"):
        assert settings.table("cases") == "Cases-test"
        assert settings.platform().stage == "dev"
        with settings.override(cases="Cases-inner"):
            assert settings.table("cases") == "Cases-inner"
        assert settings.table("cases") == "Cases-test"
    assert settings.table("cases") == "Cases-env"
    assert settings.platform().stage == "prod"
    with pytest.raises(TypeError, match="no_such_setting"):
        with settings.override(no_such_setting="x"):
            pass


def test_adapter_variables_are_the_govbus_prefixed_ones(monkeypatch):
    monkeypatch.setenv("GOVBUS_EMS_ENDPOINT", "http://127.0.0.1:1")
    monkeypatch.setenv("GOVBUS_ADAPTERS", "ems")
    from govbus.plugins import adapter_settings, allowed_adapters

    assert adapter_settings("ems")["endpoint"] == "http://127.0.0.1:1"
    assert allowed_adapters() == {"ems"}


def _reads_environment(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv", "environb"}:
            if isinstance(node.value, ast.Name) and node.value.id == "os":
                lines.append(node.lineno)
    return lines


def test_only_the_settings_module_reads_the_environment():
    runtime = [
        *sorted((ROOT / "functions").glob("*/*.py")),
        *sorted((ROOT / "govbus").rglob("*.py")),
    ]
    assert len(runtime) > 40
    # init_phase runs before anything is imported (settings imports pydantic): it reads
    # AWS_LAMBDA_FUNCTION_NAME itself, once, and nothing else
    readers = {ROOT / "govbus" / "settings.py", ROOT / "govbus" / "init_phase.py"}
    offenders = {
        str(path.relative_to(ROOT)): lines
        for path in runtime
        if path not in readers and (lines := _reads_environment(path))
    }
    assert offenders == {}, "read configuration through govbus.settings, at init"
