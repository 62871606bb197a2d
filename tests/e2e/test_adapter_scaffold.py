"""A department scaffolds an adapter, installs it, and it passes the kit unchanged."""

import os
import re
import subprocess
import sys

import pytest

from govbus_dev.cli import main as govbus
from tests.conftest import ROOT


def test_a_scaffolded_adapter_installs_and_passes_the_conformance_suite(tmp_path, capsys):
    assert (
        govbus(
            ["adapter", "new", "parking", "--dir", str(tmp_path), "--title", "City parking permits"]
        )
        == 0
    )
    package = tmp_path / "govbus-adapter-parking"
    assert (package / "pyproject.toml").exists()
    assert 'parking = "govbus_adapter_parking.plugin"' in (package / "pyproject.toml").read_text()

    site = tmp_path / "site"
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(site),
            str(package),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert install.returncode == 0, install.stderr

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    suite = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/conformance",
            "--adapter",
            "parking",
            "-p",
            "no:cacheprovider",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert suite.returncode == 0, suite.stdout[-3000:] + suite.stderr[-2000:]
    assert " passed" in suite.stdout and "failed" not in suite.stdout


def test_scaffolding_refuses_bad_names_and_overwriting(tmp_path, capsys):
    assert govbus(["adapter", "new", "Bad-Name", "--dir", str(tmp_path)]) == 2
    assert "lower-case letter" in capsys.readouterr().err
    assert govbus(["adapter", "new", "twice", "--dir", str(tmp_path)]) == 0
    assert govbus(["adapter", "new", "twice", "--dir", str(tmp_path)]) == 2
    assert "already exists" in capsys.readouterr().err


def _ruff(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args, "--config", str(ROOT / "pyproject.toml"), "."],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "name, title",
    [
        ("parking", None),
        ("a" * 40, 'The "longest" partner system a department could name, 市民卡 and all'),
    ],
)
def test_a_scaffolded_adapter_is_formatted_and_lint_clean(tmp_path, name, title):
    # under the project's own ruff settings, where the package lives: its own folder
    args = ["adapter", "new", name, "--dir", str(tmp_path)] + (["--title", title] if title else [])
    assert govbus(args) == 0
    package = tmp_path / f"govbus-adapter-{name}"
    checked = _ruff("check", cwd=package)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    formatted = _ruff("format", "--check", cwd=package)
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr
    if title:
        plugin = (package / f"govbus_adapter_{name}" / "plugin.py").read_text(encoding="utf-8")
        assert "市民卡" in plugin


def test_scaffolding_refuses_a_folder_inside_the_govbus_checkout(capsys):
    # `make lint` covers the checkout: an adapter package is a project of its own
    assert govbus(["adapter", "new", "parking", "--dir", str(ROOT)]) == 2
    err = capsys.readouterr().err
    assert "inside the govbus checkout" in err and "--dir" in err
    assert not (ROOT / "govbus-adapter-parking").exists()
    assert govbus(["adapter", "new", "parking", "--dir", str(ROOT / "adapters")]) == 2
    assert not (ROOT / "adapters" / "govbus-adapter-parking").exists()


def test_scaffolding_refuses_the_name_of_an_installed_adapter(tmp_path, capsys):
    assert govbus(["adapter", "new", "ems", "--dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "'ems' is already the name of an installed adapter" in err
    assert not (tmp_path / "govbus-adapter-ems").exists()


def test_the_scaffolds_readme_names_the_settings_the_host_reads(tmp_path, monkeypatch):
    from govbus.plugins import adapter_settings

    assert govbus(["adapter", "new", "city_parking", "--dir", str(tmp_path)]) == 0
    readme = (tmp_path / "govbus-adapter-city-parking" / "README.md").read_text()
    named = set(re.findall(r"`(GOVBUS_[A-Za-z_]+?)_?<FIELD>`", readme))
    example = re.findall(r"`(GOVBUS_[A-Za-z_]+_ENDPOINT)`", readme)
    assert named and example
    # the host hands the adapter exactly the variables the README tells a user to set
    for variable in [*(v + "_ENDPOINT" for v in named), *example]:
        env = {variable: "https://parking.example/", "GOVBUS_OTHER_ENDPOINT": "x"}
        assert adapter_settings("city_parking", env) == {"endpoint": "https://parking.example/"}
    config = tmp_path / "govbus-adapter-city-parking" / "govbus_adapter_city_parking" / "config.py"
    assert "GOVBUS_CITY_PARKING_" in config.read_text()
