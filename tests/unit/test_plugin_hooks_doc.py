"""Guards in the datasette manner: every hook is documented with its exact signature,
and every hook is exercised by a test."""

import inspect
import re
from pathlib import Path

import pytest

from contracts import hookspecs

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "plugin_hooks.md").read_text(encoding="utf-8")
HOOKS = {
    n: f for n, f in inspect.getmembers(hookspecs, inspect.isfunction) if n.startswith("govbus_")
}

# Specified ahead of their adapters (issues "identity and trust", payments, province);
# each leaves this list when its adapter and tests land, and the last test keeps it honest.
AWAITING_ADAPTER: set[str] = set()


def signature_line(name: str) -> str:
    return f"def {name}{inspect.signature(HOOKS[name])}".replace("'", "")


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_every_hook_is_documented_with_its_exact_signature(name):
    assert f"### `{name}`" in DOC, f"{name} has no section in docs/plugin_hooks.md"
    assert signature_line(name) in DOC, f"docs/plugin_hooks.md has a stale signature for {name}"


def test_the_docs_describe_no_hook_that_does_not_exist():
    documented = set(re.findall(r"^### `(govbus_\w+)`", DOC, flags=re.M))
    assert documented == set(HOOKS)


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_every_hook_is_fully_typed_and_says_what_it_must_do(name):
    fn = HOOKS[name]
    sig = inspect.signature(fn)
    assert sig.return_annotation is not inspect.Signature.empty
    assert all(p.annotation is not inspect.Parameter.empty for p in sig.parameters.values())
    assert inspect.getdoc(fn), f"{name} needs a docstring: who calls it, when, what it returns"


def _test_sources() -> str:
    here = Path(__file__).name
    return "\n".join(
        p.read_text(encoding="utf-8") for p in (ROOT / "tests").rglob("*.py") if p.name != here
    )


def test_every_hook_is_exercised_by_a_test():
    sources = _test_sources()
    untested = {n for n in HOOKS if n not in sources} - AWAITING_ADAPTER
    assert not untested, f"hooks without a test: {sorted(untested)}"


def test_hooks_awaiting_an_adapter_leave_the_list_once_tested():
    sources = _test_sources()
    tested_now = {n for n in AWAITING_ADAPTER if n in sources}
    assert not tested_now, f"remove from AWAITING_ADAPTER: {sorted(tested_now)}"
    assert AWAITING_ADAPTER <= set(HOOKS)
