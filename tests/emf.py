"""Read the CloudWatch embedded metric format (EMF) documents a test's stdout holds.

CloudWatch turns each stdout line that is an EMF document into metrics: a JSON object
whose ``_aws`` member names the namespace, the dimension sets and the metrics, with
every dimension and metric value a member of the object itself. :class:`EmfCapture`
keeps what it has read from ``capsys`` (the local stack's workers' output is copied to
the test process's stdout) and checks each document's shape as CloudWatch would.
"""

from __future__ import annotations

import json
from typing import Any

UNITS = {"Count", "Milliseconds", "Seconds", "Bytes", "None"}


def check_emf(doc: dict[str, Any]) -> None:
    """Fail unless ``doc`` is a well-formed EMF document (the rules CloudWatch applies)."""
    meta = doc["_aws"]
    assert isinstance(meta["Timestamp"], int) and meta["Timestamp"] > 1_600_000_000_000
    directives = meta["CloudWatchMetrics"]
    assert directives, "an EMF document names at least one metric directive"
    for directive in directives:
        assert isinstance(directive["Namespace"], str) and directive["Namespace"]
        for dimension_set in directive["Dimensions"]:
            assert 1 <= len(dimension_set) <= 30
            for key in dimension_set:
                assert isinstance(doc[key], str) and doc[key], f"dimension {key} has no value"
        for metric in directive["Metrics"]:
            assert metric.get("Unit", "None") in UNITS
            values = doc[metric["Name"]]
            values = values if isinstance(values, list) else [values]
            assert values and all(isinstance(v, int | float) for v in values)


class EmfCapture:
    def __init__(self, capsys: Any) -> None:
        self.capsys = capsys
        self.lines: list[str] = []

    def documents(self) -> list[dict[str, Any]]:
        self.lines += self.capsys.readouterr().out.splitlines()
        found = []
        for line in self.lines:
            line = line.strip()
            if not line.startswith("{") or '"_aws"' not in line:
                continue
            doc = json.loads(line)
            check_emf(doc)
            found.append(doc)
        return found

    def values(self, name: str, namespace: str = "govbus", **dimensions: str) -> list[float]:
        """Every value of metric ``name`` whose declared dimensions include ``dimensions``."""
        values: list[float] = []
        for doc in self.documents():
            for directive in doc["_aws"]["CloudWatchMetrics"]:
                if directive["Namespace"] != namespace:
                    continue
                if name not in {m["Name"] for m in directive["Metrics"]}:
                    continue
                declared = {k for dimension_set in directive["Dimensions"] for k in dimension_set}
                if all(k in declared and doc.get(k) == v for k, v in dimensions.items()):
                    raw = doc[name]
                    values += raw if isinstance(raw, list) else [raw]
        return values
