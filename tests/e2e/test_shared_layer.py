"""The shared layer carries the runtime, compiled, and none of the developer's tools.

Runs the Makefile's own build-SharedLayer target (what `sam build` calls) into a
temporary folder; ``--no-deps --no-build-isolation`` keep it offline, so the layer
holds our packages only (boto3, pydantic... are pip's business, not this test's).
It builds a copy of the project: ``pip install .`` writes ``build/`` and
``govbus.egg-info`` into the folder it builds, and in the working tree that second
distribution would be seen, half written, by every process with the tree on its path
while the other test worker runs (``make test`` runs two).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

# what a clone does not have: virtual environments, build output, caches (.gitignore)
NOT_THE_PROJECT = (
    ".git",
    ".venv",
    ".sam-venv",
    ".checkov-venv",
    "site",
    ".aws-sam",
    "build",
    "*.egg-info",
    "__pycache__",
    ".hypothesis",
    ".pytest_cache",
    ".ruff_cache",
)


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("make") is None:
        pytest.fail("make is needed to run the Makefile's build-SharedLayer target")
    artifacts = tmp_path_factory.mktemp("layer")
    project = tmp_path_factory.mktemp("project") / "govbus"
    shutil.copytree(ROOT, project, ignore=shutil.ignore_patterns(*NOT_THE_PROJECT))
    done = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "build-SharedLayer",
            f"ARTIFACTS_DIR={artifacts}",
            f"PYTHON={sys.executable}",
            "LAYER_PIP_FLAGS=--no-deps --no-build-isolation",
        ],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return artifacts / "python"


def test_the_layer_has_the_runtime_and_not_the_developers_tools(layer: Path):
    for package in ("contracts", "adapters", "govbus", "govbus/stores"):
        assert (layer / package / "__init__.py").is_file(), package
    wsdl = layer / "adapters/province/wsdl"
    assert {p.name for p in wsdl.iterdir()} >= {"hall.wsdl", "hall-push.wsdl", "hall.xsd"}, (
        "the province adapter's WSDL ships with it"
    )
    assert (layer / "govbus/settings.py").is_file()
    assert not (layer / "govbus_dev").exists(), "the developer's tools are not shipped"
    assert not (layer / "bin").exists(), "no console scripts in a layer"
    for dev_module in ("local", "cli.py", "scaffold", "seed"):
        assert not (layer / "govbus" / dev_module).exists(), dev_module
    data = layer / "botocore_data"
    assert (data / "STAMP").is_file(), "the services' botocore data ships (AWS_DATA_PATH)"
    assert (data / "endpoints.json").is_file()
    assert (data / "dynamodb/2012-08-10/service-2.json").is_file()
    entry_points = next(layer.glob("govbus-*.dist-info/entry_points.txt")).read_text()
    assert "province = adapters.province.plugin" in entry_points, "adapters found by entry point"
    total = _size(layer)
    per_package = {p: _size(layer / p) for p in ("contracts", "adapters", "govbus")}
    print(
        f"\nshared layer (our packages, no dependencies): {total / 1024:.0f} KiB; "
        + ", ".join(f"{k} {v / 1024:.0f} KiB" for k, v in per_package.items())
    )


def test_the_layer_is_compiled_so_a_cold_start_reads_bytecode(layer: Path):
    sources = [p for p in (layer / "govbus").rglob("*.py")]
    assert sources
    missing = [
        str(p.relative_to(layer))
        for p in sources
        if not (p.parent / "__pycache__" / f"{p.stem}.{sys.implementation.cache_tag}.pyc").is_file()
    ]
    assert missing == []
    # hash-based and unchecked (PEP 552 flags == 1): valid whatever the zip did to mtimes
    pyc = layer / "govbus/__pycache__" / f"settings.{sys.implementation.cache_tag}.pyc"
    flags = int.from_bytes(pyc.read_bytes()[4:8], "little")
    assert flags == 0b01, f"bytecode flags {flags:#b}: not unchecked-hash"
