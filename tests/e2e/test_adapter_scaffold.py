"""A department scaffolds an adapter, installs it, and it passes the kit unchanged."""

import os
import subprocess
import sys

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
