"""The template's alarms: every function's canary names alarms that watch its `live` alias,
every dead-letter queue has a depth alarm, and the generated block is never stale."""

from __future__ import annotations

import shutil
import subprocess
import sys

from govbus_dev.local.template import load_template
from tests.conftest import ROOT

TEMPLATE = ROOT / "template.yaml"
TOOL = ROOT / "tools" / "alarms.py"


def _resources():
    return load_template(TEMPLATE)["Resources"]


def _dimensions(alarm: dict) -> list[list[dict]]:
    props = alarm["Properties"]
    if "Metrics" in props:
        return [
            m["MetricStat"]["Metric"]["Dimensions"] for m in props["Metrics"] if "MetricStat" in m
        ]
    return [props["Dimensions"]]


def test_every_canary_names_alarms_on_its_own_live_alias():
    resources = _resources()
    functions = {k: r for k, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}
    assert len(functions) > 10
    for logical, function in functions.items():
        preference = function["Properties"]["DeploymentPreference"]
        named = [ref["Ref"] for ref in preference.get("Alarms", [])]
        assert len(named) == 3, f"{logical}: its canary cannot roll back by itself"
        watched = set()
        for alarm_id in named:
            alarm = resources[alarm_id]
            assert alarm["Type"] == "AWS::CloudWatch::Alarm"
            for dims in _dimensions(alarm):
                by_name = {d["Name"]: d["Value"] for d in dims}
                assert by_name["FunctionName"] == {"Ref": logical}, alarm_id
                assert by_name["Resource"] == {"Fn::Sub": f"${{{logical}}}:live"}, alarm_id
            props = alarm["Properties"]
            watched.add(
                props.get("MetricName")
                or next(
                    m["MetricStat"]["Metric"]["MetricName"]
                    for m in props["Metrics"]
                    if "MetricStat" in m
                )
            )
        assert watched == {"Errors", "Throttles", "Duration"}, logical


def test_p99_duration_alarm_fires_before_the_timeout():
    resources = _resources()
    dispatcher = resources["DispatcherP99DurationAlarm"]["Properties"]
    assert dispatcher["ExtendedStatistic"] == "p99"
    # the dispatcher's timeout is 30 s, the global default 10 s
    assert dispatcher["Threshold"] == 24000
    assert resources["HealthP99DurationAlarm"]["Properties"]["Threshold"] == 8000


def test_every_dead_letter_queue_has_a_depth_alarm():
    resources = _resources()
    queues = [
        k
        for k, r in resources.items()
        if r["Type"] == "AWS::SQS::Queue" and (k.endswith("DLQ") or "DeadLetter" in k)
    ]
    assert {"DispatchDLQ", "BusDeadLetterQueue", "OutboxDLQ"} <= set(queues)
    for queue in queues:
        alarm = resources[f"{queue}DepthAlarm"]["Properties"]
        assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
        assert alarm["Dimensions"] == [
            {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}
        ]
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold" and alarm["Threshold"] == 0


def test_the_generated_block_is_current():
    answer = subprocess.run(
        [sys.executable, str(TOOL), "--check"], capture_output=True, text=True, check=False
    )
    assert answer.returncode == 0, answer.stderr


def test_a_hand_edit_or_a_new_function_makes_the_check_fail(tmp_path):
    stale = tmp_path / "template.yaml"
    shutil.copy(TEMPLATE, stale)
    text = stale.read_text(encoding="utf-8")
    # a function added without regenerating: its canary names no alarms
    text = text.replace(
        "\nOutputs:\n",
        "\n  ExtraFunction:\n    Type: AWS::Serverless::Function\n    Properties:\n"
        "      CodeUri: functions/extra/\n      Handler: app.lambda_handler\n"
        "      AutoPublishAlias: live\n      DeploymentPreference:\n"
        "        Type: Canary10Percent5Minutes\n\nOutputs:\n",
    )
    stale.write_text(text, encoding="utf-8")
    answer = subprocess.run(
        [sys.executable, str(TOOL), "--check", "--template", str(stale)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert answer.returncode == 1 and "stale" in answer.stderr
    subprocess.run([sys.executable, str(TOOL), "--template", str(stale)], check=True)
    fresh = load_template(stale)["Resources"]
    assert fresh["ExtraFunction"]["Properties"]["DeploymentPreference"]["Alarms"] == [
        {"Ref": "ExtraErrorRateAlarm"},
        {"Ref": "ExtraThrottlesAlarm"},
        {"Ref": "ExtraP99DurationAlarm"},
    ]
    assert fresh["ExtraThrottlesAlarm"]["Type"] == "AWS::CloudWatch::Alarm"
