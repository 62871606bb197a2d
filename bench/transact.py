"""dynamodb.transact_10000: one 3-item ``TransactWriteItems`` on the local endpoint (a put,
an update, a condition check) at 10,000 items in its table, as a ratio to the same at 100
items; committed and cancelled (the condition check fails) in turn, medians of
BENCH_REPEAT each. A ratio near 1: the cost does not grow with the table (moto's own
rollback deep-copied each table a transaction names, once per item: 30 ms at 100 items,
2.4 s at 10,000).

``python -m bench.transact`` prints the lines; ``python -m bench transact`` too.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import uuid

SIZES = (100, 10_000)
REPEAT = int(os.environ.get("BENCH_REPEAT", 7))


def _table(ddb, rows: int) -> str:
    name = f"bench-{uuid.uuid4().hex[:8]}"
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    for start in range(0, rows, 25):
        batch = [
            {"PutRequest": {"Item": {"pk": {"S": f"row-{i}"}, "n": {"N": "0"}}}}
            for i in range(start, min(start + 25, rows))
        ]
        ddb.batch_write_item(RequestItems={name: batch})
    return name


def _transaction(table: str, i: int, cancelled: bool) -> list[dict]:
    return [
        {"Put": {"TableName": table, "Item": {"pk": {"S": f"new-{i}-{cancelled}"}}}},
        {
            "Update": {
                "TableName": table,
                "Key": {"pk": {"S": f"row-{i}"}},
                "UpdateExpression": "SET n = n + :one",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            }
        },
        {
            "ConditionCheck": {
                "TableName": table,
                "Key": {"pk": {"S": "row-0"}},
                "ConditionExpression": "attribute_not_exists(pk)"
                if cancelled
                else "attribute_exists(pk)",
            }
        },
    ]


def measure(repeat: int = REPEAT) -> dict[tuple[int, bool], float]:
    """Median seconds of one transaction, per (items in the table, cancelled)."""
    import boto3
    from botocore.exceptions import ClientError

    from govbus_dev.local.endpoint import AtomicMotoServer

    server = AtomicMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        ddb = boto3.session.Session(
            region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
        ).client("dynamodb", endpoint_url=f"http://{host}:{port}")
        tables = {rows: _table(ddb, rows) for rows in SIZES}
        samples: dict[tuple[int, bool], list[float]] = {}
        for i in range(1, repeat + 2):  # the first round warms up, uncounted
            for rows in SIZES:  # in turn, so load on the machine falls on both alike
                for cancelled in (False, True):
                    started = time.perf_counter()
                    try:
                        ddb.transact_write_items(
                            TransactItems=_transaction(tables[rows], i, cancelled)
                        )
                    except ClientError as error:
                        code = error.response["Error"]["Code"]
                        assert cancelled and code == "TransactionCanceledException", code
                    if i > 1:
                        seconds = time.perf_counter() - started
                        samples.setdefault((rows, cancelled), []).append(seconds)
        return {key: statistics.median(values) for key, values in samples.items()}
    finally:
        server.stop()


def lines(repeat: int = REPEAT) -> list[str]:
    medians = measure(repeat)
    small, large = SIZES
    out = []
    for cancelled, what in ((False, "committed"), (True, "cancelled")):
        ours, baseline = medians[(large, cancelled)], medians[(small, cancelled)]
        out.append(
            f"dynamodb.transact_{large}_{what} ratio={ours / baseline:.2f} (ours "
            f"{ours * 1000:.1f} ms at {large:,} items / baseline {baseline * 1000:.1f} ms "
            f"at {small:,} items; a 3-item transaction on the local endpoint)"
        )
    return out


if __name__ == "__main__":
    for line in lines():
        print(line, flush=True)
    sys.exit(0)
