"""The local AWS endpoint in its own process: DynamoDB's conditional writes stay atomic
under concurrent requests, a stream reader is woken by the write it waits for, and the
process ends with the stack that started it."""

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from govbus_dev.local.endpoint import AtomicMotoServer
from govbus_dev.local.pollers import STREAM_WAIT_PATH

CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@pytest.fixture(scope="module")
def endpoint():
    server = AtomicMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield server, f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def ddb(endpoint):
    return boto3.session.Session(region_name="us-east-1", **CREDENTIALS).client(
        "dynamodb", endpoint_url=endpoint[1], config=Config(max_pool_connections=32)
    )


def a_table(ddb, stream: bool = False) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    extra = (
        {"StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}}
        if stream
        else {}
    )
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        **extra,
    )
    return name


def test_concurrent_conditional_updates_take_exactly_the_free_places(ddb):
    """Thirty-two requests race for ten places of one slot: ten win, the slot is full."""
    table = a_table(ddb)
    ddb.put_item(TableName=table, Item={"pk": {"S": "slot"}, "taken": {"N": "0"}})
    start = threading.Barrier(32)
    won: list[bool] = []

    def take() -> None:
        start.wait()
        try:
            ddb.update_item(
                TableName=table,
                Key={"pk": {"S": "slot"}},
                UpdateExpression="SET taken = taken + :one",
                ConditionExpression="taken < :places",
                ExpressionAttributeValues={":one": {"N": "1"}, ":places": {"N": "10"}},
            )
            won.append(True)
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "ConditionalCheckFailedException"
            won.append(False)

    threads = [threading.Thread(target=take) for _ in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    item = ddb.get_item(TableName=table, Key={"pk": {"S": "slot"}}, ConsistentRead=True)["Item"]
    assert (won.count(True), won.count(False)) == (10, 22)
    assert item["taken"] == {"N": "10"}


def stream_wait(base: str, arn: str, after: int, timeout: float) -> tuple[bool, float]:
    query = urllib.parse.urlencode({"arn": arn, "after": after, "timeout": timeout})
    started = time.monotonic()
    with urllib.request.urlopen(f"{base}{STREAM_WAIT_PATH}?{query}", timeout=30) as answer:
        written = json.loads(answer.read())["written"]
    return written, time.monotonic() - started


def test_a_stream_wait_ends_when_the_table_is_written_not_at_its_timeout(endpoint, ddb):
    table = a_table(ddb, stream=True)
    arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    assert stream_wait(endpoint[1], arn, -1, 0.3)[0] is False  # nothing written yet

    def write_soon() -> None:
        time.sleep(0.5)
        ddb.put_item(TableName=table, Item={"pk": {"S": "a"}})

    writer = threading.Thread(target=write_soon)
    writer.start()
    written, waited = stream_wait(endpoint[1], arn, -1, 5.0)
    writer.join()
    assert written is True
    assert waited < 4.0, f"woken {waited:.2f}s after asking, the timeout was 5 s"

    streams = boto3.session.Session(region_name="us-east-1", **CREDENTIALS).client(
        "dynamodbstreams", endpoint_url=endpoint[1]
    )
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    last = int(
        streams.get_records(ShardIterator=iterator)["Records"][-1]["dynamodb"]["SequenceNumber"]
    )
    # standing at the last record, there is nothing more to wake for
    assert stream_wait(endpoint[1], arn, last, 0.3)[0] is False


def test_the_endpoint_process_ends_when_stopped():
    server = AtomicMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    process = server._process
    assert process is not None and process.poll() is None
    server.stop()
    assert process.poll() is not None


def test_a_stream_wait_with_a_timeout_that_is_not_a_number_is_refused_at_once(endpoint):
    """Seen: `/_govbus/stream-wait?timeout=nan` never answered, and left a thread spinning
    in the endpoint's process after the client gave up."""
    for timeout in ("nan", "NaN", "-nan"):
        query = urllib.parse.urlencode({"arn": "x", "after": "", "timeout": timeout})
        started = time.monotonic()
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{endpoint[1]}{STREAM_WAIT_PATH}?{query}", timeout=5)
        assert refused.value.code == 400
        assert "timeout" in json.loads(refused.value.read())["message"]
        assert time.monotonic() - started < 2


def test_the_endpoint_counts_what_the_platform_asks_of_aws_when_told_to(monkeypatch):
    """`make cost` reads DynamoDB units and EventBridge entries from the endpoint's process
    (moto runs there): a transaction's items count twice, as DynamoDB bills them."""
    monkeypatch.setenv("GOVBUS_ENDPOINT_USAGE", "1")
    server = AtomicMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        session = boto3.session.Session(region_name="us-east-1", **CREDENTIALS)
        ddb = session.client("dynamodb", endpoint_url=url)
        table = a_table(ddb)
        ddb.put_item(TableName=table, Item={"pk": {"S": "a"}})
        ddb.get_item(TableName=table, Key={"pk": {"S": "a"}})
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": {"pk": {"S": "b"}}}},
                {"Put": {"TableName": table, "Item": {"pk": {"S": "c"}}}},
            ]
        )
        entries = [{"Source": "t", "DetailType": "d", "Detail": "{}"}] * 3
        session.client("events", endpoint_url=url).put_events(Entries=entries)
        with urllib.request.urlopen(f"{url}/_govbus/usage", timeout=5) as answer:
            usage = json.loads(answer.read())
        assert usage["dynamodb_write_unit"] == 1 + 2 * 2
        assert usage["dynamodb_read_unit"] == 1
        assert usage["eventbridge_event"] == 3
    finally:
        server.stop()
