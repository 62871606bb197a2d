"""The size budget of a `sam build`: each function's unzipped size with its layers.

Lambda refuses a function whose code and layers, unzipped, exceed 250 MB
(262,144,000 bytes). After `sam build` (``make build`` runs this), every function of
template.yaml is measured as it will be deployed: its own folder
``.aws-sam/build/<Function>`` plus the built shared layer ``.aws-sam/build/SharedLayer``.
Prints one line per function, largest first; exits 1 naming each function over the
limit, or missing from the build, with its size.

    python tools/build_report.py [.aws-sam/build]

Standard library only: ``make build`` runs it with the build's interpreter, not the .venv.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMIT_BYTES = 262_144_000  # Lambda: function and all its layers, unzipped (250 MB)
LAYER = "SharedLayer"
# a resource's logical id and type, as the template writes them (two-space indentation)
RESOURCE = re.compile(r"^  (\w+):\n(?:    [^\n]*\n)*?    Type: (\S+)\n", re.M)


def functions(template: Path) -> list[str]:
    """The logical ids of the template's AWS::Serverless::Function resources."""
    text = template.read_text(encoding="utf-8")
    resources = text[text.index("\nResources:\n") :]
    return [
        name for name, kind in RESOURCE.findall(resources) if kind == "AWS::Serverless::Function"
    ]


def folder_bytes(folder: Path) -> int:
    """Bytes of the regular files under ``folder`` (what unzipping writes); 0 if absent."""
    total = 0
    for parent, _dirs, files in os.walk(folder):
        for name in files:
            path = os.path.join(parent, name)
            if not os.path.islink(path):
                total += os.stat(path).st_size
    return total


def measure(build: Path, template: Path) -> list[tuple[str, int | None, int]]:
    """(function, its own bytes or None when it is not built, with the layer)."""
    layer = folder_bytes(build / LAYER)
    rows = []
    for name in functions(template):
        own = folder_bytes(build / name) if (build / name).is_dir() else None
        rows.append((name, own, (own or 0) + layer))
    return sorted(rows, key=lambda row: -row[2])


def problems(rows: list[tuple[str, int | None, int]], limit: int = LIMIT_BYTES) -> list[str]:
    found = []
    for name, own, total in rows:
        if own is None:
            found.append(f"{name}: not in the build (no folder .aws-sam/build/{name})")
        elif total > limit:
            found.append(
                f"{name}: {total:,} bytes unzipped with its layers, over Lambda's "
                f"{limit:,} ({total / 2**20:.1f} MiB; its own code {own / 2**20:.1f} MiB)"
            )
    return found


def main(argv: list[str]) -> int:
    build = Path(argv[1]) if len(argv) > 1 else ROOT / ".aws-sam/build"
    template = ROOT / "template.yaml"
    if not (build / LAYER).is_dir():
        print(f"build_report: no {build / LAYER}: run sam build first", file=sys.stderr)
        return 1
    rows = measure(build, template)
    layer = folder_bytes(build / LAYER)
    print(f"unzipped size with layers (limit {LIMIT_BYTES:,} bytes); {LAYER} {layer:,} bytes")
    print(f"{'function':<32} {'own bytes':>14} {'with layers':>14} {'of limit':>9}")
    for name, own, total in rows:
        shown = "missing" if own is None else f"{own:,}"
        print(f"{name:<32} {shown:>14} {total:>14,} {total / LIMIT_BYTES:>8.1%}")
    found = problems(rows)
    for line in found:
        print(
            f"OVER BUDGET {line}" if "over Lambda" in line else f"MISSING {line}", file=sys.stderr
        )
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
