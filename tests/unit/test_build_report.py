"""`make build`'s size budget: a function over Lambda's 262,144,000 bytes (unzipped, with
its layers) fails the build, named with its size; one missing from the build fails too."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import ROOT
from tools import build_report


def _build(tmp_path: Path, sizes: dict[str, int]) -> Path:
    build = tmp_path / "build"
    for folder, size in sizes.items():
        (build / folder).mkdir(parents=True)
        with open(build / folder / "blob", "wb") as fh:
            fh.truncate(size)  # sparse: its size counts, no disk is written
    return build


def test_a_function_over_the_limit_with_its_layer_fails_the_build(tmp_path, capsys):
    functions = build_report.functions(ROOT / "template.yaml")
    assert len(functions) == 30 and "OpenDataFunction" in functions
    layer = 86_000_000
    sizes = {"SharedLayer": layer, **{name: 1000 for name in functions}}
    sizes["OpenDataFunction"] = build_report.LIMIT_BYTES - layer + 1
    build = _build(tmp_path, sizes)
    assert build_report.main(["build_report", str(build)]) == 1
    out = capsys.readouterr()
    assert "OVER BUDGET OpenDataFunction: 262,144,001 bytes" in out.err
    assert "HealthFunction" in out.out and "HealthFunction" not in out.err


def test_at_the_limit_the_build_passes_and_a_missing_function_fails(tmp_path, capsys):
    functions = build_report.functions(ROOT / "template.yaml")
    layer = 86_000_000
    sizes = {"SharedLayer": layer, **{name: 1000 for name in functions}}
    sizes["OpenDataFunction"] = build_report.LIMIT_BYTES - layer
    assert build_report.main(["build_report", str(_build(tmp_path / "a", sizes))]) == 0
    del sizes["HealthFunction"]
    assert build_report.main(["build_report", str(_build(tmp_path / "b", sizes))]) == 1
    assert "MISSING HealthFunction: not in the build" in capsys.readouterr().err
