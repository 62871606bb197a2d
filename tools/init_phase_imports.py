"""Put ``from govbus import init_phase`` first in every function's app.py (idempotent).

`python tools/init_phase_imports.py` - run after adding a function; a unit test
(tests/unit/test_init_phase.py) fails on an app.py that does not import it first.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINE = "from govbus import init_phase  # noqa: F401 - first: see govbus/init_phase.py"
SPLIT = "# isort: split"


def insert(source: str) -> str:
    if LINE in source:
        return source
    tree = ast.parse(source)
    after = 0  # the line (1-based) after which the import goes
    for node in tree.body:
        docstring = (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        )
        future = isinstance(node, ast.ImportFrom) and node.module == "__future__"
        if not (docstring or future):
            break
        after = node.end_lineno or after
    lines = source.splitlines(keepends=True)
    head, tail = lines[:after], lines[after:]
    while tail and not tail[0].strip():
        tail.pop(0)
    block = ["\n"] if head else []
    block += [LINE + "\n", "\n", SPLIT + "\n", "\n"]
    return "".join(head + block + tail)


def main() -> int:
    for path in sorted((ROOT / "functions").glob("*/app.py")):
        text = path.read_text()
        new = insert(text)
        if new != text:
            path.write_text(new)
            print(f"{path.relative_to(ROOT)}: init_phase imported first")
    return 0


if __name__ == "__main__":
    sys.exit(main())
