"""Regenerate the CloudWatch alarms block of template.yaml, and the canaries' alarm lists.

The template stays the single source of truth (nothing is generated at deploy or run
time): this script only rewrites two things inside template.yaml, in place:

* the block between ``BEGIN GENERATED ALARMS`` and ``END GENERATED ALARMS``: for every
  ``AWS::Serverless::Function``, alarms on its error rate, throttles and p99 duration
  measured on its ``live`` alias; for every dead-letter queue, an alarm on its depth;
* under each function's ``DeploymentPreference``, the ``Alarms: [...]`` line naming
  that function's three alarms, so CodeDeploy rolls a bad canary back by itself;
* the ops function's ``DEAD_LETTER_QUEUES`` variable and the resources of its SQS
  statement (lines marked ``# generated: this stack's DLQs``): exactly this stack's
  dead-letter queues, never another stack's whose name merely starts the same.

DLQ depth alarms are not in any canary's list on purpose: a DLQ still holding an old
message would block every deploy of its consumer, fix or not. They page through the
optional ``AlarmTopicArn`` parameter instead.

    python tools/alarms.py          # rewrite template.yaml
    python tools/alarms.py --check  # exit 1 when template.yaml is stale (CI, tests)
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from govbus_dev.local.template import load_template  # noqa: E402

BEGIN = "  # ---- BEGIN GENERATED ALARMS (python tools/alarms.py; do not edit by hand) ----\n"
END = "  # ---- END GENERATED ALARMS ----\n"

# An error rate above this share of invocations, in percent, over one minute.
ERROR_RATE_PERCENT = 5
# p99 duration above this share of the function's timeout.
DURATION_SHARE_OF_TIMEOUT = 0.8
PERIOD_SECONDS = 60

_ALARM_ACTIONS = """\
      AlarmActions: !If [HasAlarmTopic, [!Ref AlarmTopicArn], !Ref AWS::NoValue]
"""


def _functions(template: dict[str, Any]) -> list[tuple[str, str, int]]:
    """(logical id, short name, timeout seconds) of every function, in template order."""
    default_timeout = int(((template.get("Globals") or {}).get("Function") or {}).get("Timeout", 3))
    found = []
    for logical, res in (template.get("Resources") or {}).items():
        if res.get("Type") != "AWS::Serverless::Function":
            continue
        props = res.get("Properties") or {}
        short = Path(str(props["CodeUri"]).rstrip("/")).name.replace("_", "-")
        found.append((logical, short, int(props.get("Timeout", default_timeout))))
    return found


def dead_letter_queues(template: dict[str, Any]) -> list[str]:
    """Logical ids of the queues that are some other thing's dead-letter target."""
    resources = template.get("Resources") or {}
    targets: set[str] = set()

    def walk(node: Any, under_dead_letter: bool) -> None:
        if isinstance(node, dict):
            if under_dead_letter and "Fn::GetAtt" in node:
                targets.add(node["Fn::GetAtt"][0])
            for key, value in node.items():
                walk(
                    value,
                    under_dead_letter
                    or key
                    in {"deadLetterTargetArn", "DeadLetterConfig", "OnFailure", "Destination"},
                )
        elif isinstance(node, list):
            for value in node:
                walk(value, under_dead_letter)

    walk(resources, False)
    return [
        logical
        for logical, res in resources.items()
        if res.get("Type") == "AWS::SQS::Queue" and logical in targets
    ]


def alarm_ids(function: str) -> list[str]:
    base = function.removesuffix("Function")
    return [f"{base}ErrorRateAlarm", f"{base}ThrottlesAlarm", f"{base}P99DurationAlarm"]


def _function_alarms(logical: str, short: str, timeout: int) -> str:
    errors, throttles, duration = alarm_ids(logical)

    def dims(indent: int) -> str:
        pad = " " * indent
        return (
            f"{pad}- Name: FunctionName\n{pad}  Value: !Ref {logical}\n"
            f'{pad}- Name: Resource\n{pad}  Value: !Sub "${{{logical}}}:live"\n'
        )

    return f"""\
  {errors}:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmName: !Sub ${{AWS::StackName}}-{short}-error-rate
      AlarmDescription: >-
        {short} (live alias) failed more than {ERROR_RATE_PERCENT}% of its invocations in a
        minute; during a canary this rolls the new version back
{_ALARM_ACTIONS}      ComparisonOperator: GreaterThanThreshold
      Threshold: {ERROR_RATE_PERCENT}
      EvaluationPeriods: 1
      TreatMissingData: notBreaching
      Metrics:
        - Id: rate
          Label: error rate (%)
          Expression: IF(invocations > 0, 100 * errors / invocations, 0)
          ReturnData: true
        - Id: errors
          ReturnData: false
          MetricStat:
            Stat: Sum
            Period: {PERIOD_SECONDS}
            Metric:
              Namespace: AWS/Lambda
              MetricName: Errors
              Dimensions:
{dims(16)}\
        - Id: invocations
          ReturnData: false
          MetricStat:
            Stat: Sum
            Period: {PERIOD_SECONDS}
            Metric:
              Namespace: AWS/Lambda
              MetricName: Invocations
              Dimensions:
{dims(16)}\

  {throttles}:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmName: !Sub ${{AWS::StackName}}-{short}-throttles
      AlarmDescription: {short} (live alias) was throttled; invocations were refused
{_ALARM_ACTIONS}      Namespace: AWS/Lambda
      MetricName: Throttles
      Dimensions:
{dims(8)}\
      Statistic: Sum
      Period: {PERIOD_SECONDS}
      EvaluationPeriods: 1
      ComparisonOperator: GreaterThanThreshold
      Threshold: 0
      TreatMissingData: notBreaching

  {duration}:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmName: !Sub ${{AWS::StackName}}-{short}-p99-duration
      AlarmDescription: >-
        {short} (live alias) p99 duration above {int(DURATION_SHARE_OF_TIMEOUT * 100)}% of its
        {timeout} s timeout
{_ALARM_ACTIONS}      Namespace: AWS/Lambda
      MetricName: Duration
      Dimensions:
{dims(8)}\
      ExtendedStatistic: p99
      Period: {PERIOD_SECONDS}
      EvaluationPeriods: 1
      ComparisonOperator: GreaterThanThreshold
      Threshold: {int(timeout * 1000 * DURATION_SHARE_OF_TIMEOUT)}
      TreatMissingData: notBreaching

"""


def _dlq_alarm(queue: str) -> str:
    return f"""\
  {queue}DepthAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmName: !Sub ${{AWS::StackName}}-{queue}-depth
      AlarmDescription: >-
        {queue} holds a message: something could not be processed; `govbus dlq list`
        shows why and `govbus dlq redrive` sends it back
{_ALARM_ACTIONS}      Namespace: AWS/SQS
      MetricName: ApproximateNumberOfMessagesVisible
      Dimensions:
        - Name: QueueName
          Value: !GetAtt {queue}.QueueName
      Statistic: Maximum
      Period: {PERIOD_SECONDS}
      EvaluationPeriods: 1
      ComparisonOperator: GreaterThanThreshold
      Threshold: 0
      TreatMissingData: notBreaching

"""


def render_block(template: dict[str, Any]) -> str:
    parts = [
        BEGIN,
        "  # Per function: error rate, throttles, p99 duration on the `live` alias (the\n"
        "  # canary's alarms). Per dead-letter queue: depth > 0 (pages, never blocks a deploy).\n",
    ]
    for logical, short, timeout in _functions(template):
        parts.append(_function_alarms(logical, short, timeout))
    for queue in dead_letter_queues(template):
        parts.append(_dlq_alarm(queue))
    text = "".join(parts).rstrip("\n") + "\n"
    return text + END


def regenerate(text: str) -> str:
    template = load_template_text(text)
    # 1. the canaries name their alarms
    for logical, _short, _timeout in _functions(template):
        pattern = re.compile(
            rf"(^  {logical}:\n    Type: AWS::Serverless::Function\n(?:(?!^  \S).*\n)*?"
            r"      DeploymentPreference:\n        Type: \S+\n)(        Alarms: .*\n)?",
            re.M,
        )
        listed = ", ".join(f"!Ref {alarm}" for alarm in alarm_ids(logical))
        text, count = pattern.subn(rf"\g<1>        Alarms: [{listed}]\n", text, count=1)
        if count != 1:
            raise SystemExit(f"{logical}: no DeploymentPreference to name its alarms in")
    # 2. the ops function reaches exactly this stack's DLQs
    queues = dead_letter_queues(template)
    names = ", ".join(f"!GetAtt {q}.QueueName" for q in queues)
    arns = ", ".join(f"!GetAtt {q}.Arn" for q in queues)
    for key, value in (
        ("DEAD_LETTER_QUEUES", f'!Join [",", [{names}]]'),
        ("Resource", f"[{arns}]"),
    ):
        text, count = re.subn(
            rf"^(\s+){key}: .*  # generated: this stack's DLQs\n",
            rf"\g<1>{key}: {value}  # generated: this stack's DLQs\n",
            text,
            flags=re.M,
        )
        if count > 1:
            raise SystemExit(f"{key}: more than one line marked as this stack's DLQs")
    # 3. the alarms themselves, just before Outputs
    block = render_block(template)
    if BEGIN in text:
        start = text.index(BEGIN)
        end = text.index(END) + len(END)
        return text[:start] + block + text[end:]
    marker = "\nOutputs:\n"
    at = text.index(marker)
    return text[:at] + "\n" + block + text[at:]


def load_template_text(text: str) -> dict[str, Any]:
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".yaml", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        return load_template(fh.name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when template.yaml is stale")
    parser.add_argument("--template", type=Path, default=ROOT / "template.yaml")
    args = parser.parse_args(argv)
    current = args.template.read_text(encoding="utf-8")
    fresh = regenerate(current)
    if args.check:
        if fresh != current:
            print(
                f"{args.template} alarms are stale: run `python tools/alarms.py`",
                file=sys.stderr,
            )
            return 1
        return 0
    args.template.write_text(fresh, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
