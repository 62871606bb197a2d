"""The package metadata builds without setuptools' deprecation warnings."""

from __future__ import annotations

import re
import tomllib

from tests.conftest import ROOT


def test_the_licence_is_an_spdx_expression_on_a_setuptools_that_reads_one():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    # a TOML table ({text = ...}) is deprecated; the SPDX string needs setuptools 77 (PEP 639)
    assert pyproject["project"]["license"] == "Apache-2.0"
    (setuptools,) = [r for r in pyproject["build-system"]["requires"] if r.startswith("setuptools")]
    floor = re.fullmatch(r"setuptools>=(\d+)", setuptools.replace(" ", ""))
    assert floor and int(floor.group(1)) >= 77, setuptools
