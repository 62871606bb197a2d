"""Give a new resource the checkov suppressions its kind already carries, with reasons.

The template's suppressions are decisions per kind of resource (a table encrypted with the
AWS owned key, a queue with SQS-managed SSE, a function without reserved concurrency...),
written once, with their reasons, on a reference resource of each kind. A resource added
later gets the same block copied from its reference; run this after adding resources:

    .venv/bin/python tools/checkov_skips.py          # add missing blocks
    .venv/bin/python tools/checkov_skips.py --check  # exit 1 if any is missing
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent.parent / "template.yaml"
REFERENCES = {
    "AWS::DynamoDB::Table": "CasesTable",
    "AWS::SQS::Queue": "DispatchQueue",
    "AWS::Serverless::Function": "CaseEventsFunction",
    "AWS::SecretsManager::Secret": "EmsApiSecret",
    "AWS::CloudFront::Distribution": "ConsoleDistribution",
}
RESOURCE = re.compile(r"^  (\w+):\n    Type: (\S+)\n", re.M)


def metadata_of(text: str, name: str) -> str:
    start = text.index(f"\n  {name}:\n") + 1
    block = text[start:]
    match = re.search(r"^    Metadata:\n(?:^      .*\n|^\s*\n)*", block, re.M)
    end_of_resource = re.search(r"^  \S", block[3:], re.M)
    if not match or (end_of_resource and match.start() > end_of_resource.start() + 3):
        raise SystemExit(f"the reference {name} has no Metadata block")
    return match.group(0).rstrip("\n") + "\n"


def missing(text: str) -> list[tuple[str, str]]:
    found = []
    for match in RESOURCE.finditer(text):
        name, kind = match.groups()
        if kind not in REFERENCES:
            continue
        rest = text[match.end() :]
        nxt = re.search(r"^  \S", rest, re.M)
        body = rest[: nxt.start()] if nxt else rest
        if "checkov:" not in body:
            found.append((name, kind))
    return found


def main(argv: list[str]) -> int:
    text = TEMPLATE.read_text(encoding="utf-8")
    todo = missing(text)
    if "--check" in argv:
        for name, kind in todo:
            print(f"{name} ({kind}) has no checkov suppressions: run tools/checkov_skips.py")
        return 1 if todo else 0
    blocks = {kind: metadata_of(text, ref) for kind, ref in REFERENCES.items()}
    for name, kind in todo:
        head = f"  {name}:\n    Type: {kind}\n"
        text = text.replace(head, head + blocks[kind], 1)
        print(f"{name}: suppressions of {REFERENCES[kind]} copied")
    TEMPLATE.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
