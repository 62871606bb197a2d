"""Run in a fresh process: the warm webhook path beside its baseline, in one process.

argv: code_dir module handler events_json_path table bus ; prints JSON with the median
seconds per call of the handler (each prepared push in turn) and of the baseline (the bare
conditional DynamoDB PutItem and PutEvents the accepted path cannot avoid), interleaved
call by call so a change of load moves both alike. The first call of each is left out
(the cold one). Both run in the same warm process, as Lambda runs a warm invocation:
the local stack's hop to its worker process is no part of the function's cost.
"""

import importlib
import json
import statistics
import sys
import time
import uuid

from bench.coldstart_child import Context


def main() -> None:
    code_dir, module, handler, events_path, table, bus = sys.argv[1:7]
    sys.path.insert(0, code_dir)
    fn = getattr(importlib.import_module(module), handler)
    with open(events_path) as fh:
        events = json.load(fh)

    import boto3

    session = boto3.session.Session()
    ddb, bridge = session.client("dynamodb"), session.client("events")

    def baseline() -> None:
        key = uuid.uuid4().hex
        ddb.put_item(
            TableName=table,
            Item={"id": {"S": key}, "status": {"S": "COMPLETED"}},
            ConditionExpression="attribute_not_exists(id)",
        )
        bridge.put_events(
            Entries=[
                {
                    "EventBusName": bus,
                    "Source": "govbus.bench",
                    "DetailType": "platform.heartbeat",
                    "Detail": json.dumps({"id": key}),
                }
            ]
        )

    ours, base = [], []
    for event in events:
        started = time.perf_counter()
        answer = fn(event, Context())
        ours.append(time.perf_counter() - started)
        if answer.get("statusCode") != 202:
            raise SystemExit(f"handler answered {answer}")
        started = time.perf_counter()
        baseline()
        base.append(time.perf_counter() - started)
    print(
        json.dumps({"ours": statistics.median(ours[1:]), "baseline": statistics.median(base[1:])})
    )


if __name__ == "__main__":
    main()
