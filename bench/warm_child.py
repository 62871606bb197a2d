"""Run in a fresh process: the warm webhook path beside its baseline, in one process.

argv: code_dir module handler work_json_path table bus ; the work file holds the prepared
``pushes`` and the bus event one becomes (``published``). Prints JSON with the median
seconds per call of the handler (each push in turn) and of the baseline (the bare
conditional DynamoDB PutItem, and PutEvents of that event, the accepted path cannot
avoid), interleaved
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
        work = json.load(fh)
    events, published = work["pushes"], work["published"]

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
        detail = {**published["Detail"], "id": key}
        bridge.put_events(
            Entries=[
                {
                    "EventBusName": bus,
                    "Source": published["Source"],
                    "DetailType": published["DetailType"],
                    "Detail": json.dumps(detail),
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
