"""What the README says a command exits with is what a user's shell sees."""

import re
import subprocess

from tests.conftest import ROOT


def test_the_readme_says_govbus_demo_exits_1_and_make_demo_fails(tmp_path):
    # a recipe whose command exits 1 makes make itself exit 2
    makefile = tmp_path / "Makefile"
    makefile.write_text("demo:\n\texit 1\n")
    done = subprocess.run(["make", "-s", "-f", str(makefile), "demo"], capture_output=True)
    assert done.returncode == 2
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    row = next(line for line in readme.splitlines() if line.startswith("| `make demo` |"))
    for claim in re.finditer(r"exits (\d)", row):
        before = row[: claim.start()]
        assert before.rstrip().endswith("`govbus demo`"), f"whose exit code? {row}"
    assert "`govbus demo` exits 1" in row and "`make demo` fails" in row
