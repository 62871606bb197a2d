"""The docs site builds strictly (what `make docs` runs), offline, and a broken link or a
page left out of the navigation fails the build."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

MKDOCS = str(Path(sys.executable).parent / "mkdocs")
PAGES = [
    "getting_started",
    "architecture",
    "api",
    "api_reference",
    "security",
    "operations",
    "local_stack",
    "plugin_hooks",
    "writing_adapters",
    "adapters/province",
    "adapters/ca",
]


def build(project: Path, site: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [MKDOCS, "build", "--strict", "--site-dir", str(site)],
        cwd=project,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_site_builds_strictly_with_every_page(tmp_path):
    answer = build(ROOT, tmp_path / "site")
    assert answer.returncode == 0, answer.stderr
    for page in PAGES:
        assert (tmp_path / "site" / page / "index.html").exists(), page
    security = (tmp_path / "site" / "security" / "index.html").read_text(encoding="utf-8")
    assert "Signatures over raw bytes" in security
    # the API reference is rendered from docs/openapi.json, operation by operation
    reference = (tmp_path / "site" / "api_reference" / "index.html").read_text(encoding="utf-8")
    assert '/applications/<span class="route-param">{id}</span>/submit' in reference
    assert "Problem" in reference


def _copy(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    shutil.copytree(ROOT / "docs", project / "docs")
    shutil.copy(ROOT / "mkdocs.yml", project / "mkdocs.yml")
    return project


def test_a_broken_link_fails_the_build(tmp_path):
    project = _copy(tmp_path)
    page = project / "docs" / "operations.md"
    page.write_text(page.read_text(encoding="utf-8") + "\nSee [gone](no_such_page.md).\n")
    answer = build(project, tmp_path / "site")
    assert answer.returncode != 0
    assert "no_such_page.md" in answer.stderr


def test_a_page_missing_from_the_navigation_fails_the_build(tmp_path):
    project = _copy(tmp_path)
    (project / "docs" / "orphan.md").write_text("# Nobody links here\n", encoding="utf-8")
    answer = build(project, tmp_path / "site")
    assert answer.returncode != 0
    assert "orphan.md" in answer.stderr
