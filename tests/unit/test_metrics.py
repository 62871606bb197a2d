"""Metrics in CloudWatch's embedded metric format (EMF), from every function."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from govbus import observability
from govbus.observability import count, metrics
from tests.conftest import ROOT
from tests.emf import EmfCapture

FUNCTIONS = sorted(p.parent.name for p in (ROOT / "functions").glob("*/app.py"))


def decorators_of_the_handler(name: str) -> list[str]:
    tree = ast.parse((ROOT / "functions" / name / "app.py").read_text())
    handler = next(
        n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "lambda_handler"
    )
    return [ast.unparse(d) for d in handler.decorator_list]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_every_lambda_handler_flushes_its_metrics(name):
    assert "metrics.log_metrics" in decorators_of_the_handler(name), (
        f"functions/{name}/app.py: decorate lambda_handler with @metrics.log_metrics"
    )


def test_a_count_is_one_emf_line_with_the_service_and_its_own_dimensions(capsys):
    count("WebhookRefused", {"partner": "ems", "reason": "invalid-signature"})

    emf = EmfCapture(capsys)
    (doc,) = emf.documents()
    directive = doc["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "govbus"
    assert directive["Dimensions"] == [["service", "partner", "reason"]]
    assert directive["Metrics"] == [{"Name": "WebhookRefused", "Unit": "Count"}]
    assert doc["service"] == observability.SERVICE
    assert (doc["partner"], doc["reason"], doc["WebhookRefused"]) == (
        "ems",
        "invalid-signature",
        [1.0],
    )


def test_a_dimension_value_is_bounded_and_never_empty(capsys):
    count("DispatchFailure", {"partner": "p" * 500, "reason": ""})

    (doc,) = EmfCapture(capsys).documents()
    assert len(doc["partner"]) == observability.MAX_DIMENSION_LENGTH
    assert doc["reason"] == "-"


def test_a_metric_that_cannot_be_written_does_not_fail_the_work(capsys):
    count("Broken", {"partner": "ems"}, value="not a number")  # type: ignore[arg-type]
    out = capsys.readouterr().out
    assert "metric not written" in out
    assert '"Broken":[' not in out


def test_the_handler_flushes_what_the_invocation_added_as_one_document(capsys):
    @metrics.log_metrics
    def handler(event, context):
        metrics.add_metric(name="OutboxPublished", unit="Count", value=3)
        return {"ok": True}

    assert handler({}, None) == {"ok": True}
    (doc,) = EmfCapture(capsys).documents()
    assert doc["OutboxPublished"] == [3.0]
    assert doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]]


def test_an_invocation_that_counted_nothing_prints_no_metric_and_no_warning():
    # a fresh interpreter: pytest's own warning capture would hide what Lambda logs
    probe = (
        "from govbus.observability import metrics\n"
        "handler = metrics.log_metrics(lambda event, context: None)\n"
        "handler({}, None)\n"
        "handler({}, None)\n"
    )
    done = subprocess.run(
        [sys.executable, "-W", "always", "-c", probe],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "POWERTOOLS_SERVICE_NAME": "t"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert '"_aws"' not in done.stdout
    assert "No application metrics" not in done.stderr
