"""DynamoDB stream event sources, served as Lambda's event source mapping serves them:
in order, in batches, retried, bisected, and sent to the OnFailure queue when retries
run out (tests/fixtures/runtime_stack: PublisherFunction on OutboxTable's stream)."""

import json
import uuid
from pathlib import Path

import boto3
import pytest

from govbus_dev.local.stack import LocalStack
from tests.conftest import wait_for

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "runtime_stack"


@pytest.fixture(scope="module")
def outbox_stack(local_stack_session):
    stack = LocalStack(
        FIXTURE,
        port=0,
        endpoint=local_stack_session.endpoint,
        stack_name="outbox",
        simulators=False,
        schedules=False,
        retry_delay_seconds=0.2,
    )
    stack.start()
    yield stack
    stack.stop()


@pytest.fixture
def outbox(outbox_stack):
    session = boto3.session.Session(region_name=outbox_stack.region)
    return Outbox(outbox_stack, session)


class Outbox:
    """Writes to the fixture's stream table; reads what the function recorded."""

    def __init__(self, stack, session):
        self.stack = stack
        self.ddb = session.client("dynamodb", endpoint_url=stack.endpoint)
        self.sqs = session.client("sqs", endpoint_url=stack.endpoint)
        self.tag = uuid.uuid4().hex[:8]
        self.written = 0

    def table(self, logical):
        return self.stack.resolver.refs[logical]

    def write(self, *behaviours):
        """One item per behaviour, in one request (so they can share a batch); their keys."""
        keys = [f"{self.tag}-{self.written + i:02d}-{b}" for i, b in enumerate(behaviours)]
        self.written += len(keys)
        for start in range(0, len(keys), 25):
            answer = self.ddb.batch_write_item(
                RequestItems={
                    self.table("OutboxTable"): [
                        {
                            "PutRequest": {
                                "Item": {
                                    "pk": {"S": key},
                                    "tag": {"S": self.tag},
                                    "behaviour": {"S": key.rsplit("-", 1)[1]},
                                }
                            }
                        }
                        for key in keys[start : start + 25]
                    ]
                }
            )
            assert not answer["UnprocessedItems"]
        return keys

    def recorded(self, kind):
        item = self.ddb.get_item(
            TableName=self.table("ReceivedTable"),
            Key={"pk": {"S": f"{kind}#{self.tag}"}},
            ConsistentRead=True,
        ).get("Item")
        return [next(iter(v.values())) for v in item["values"]["L"]] if item else []

    def delivered(self):
        return self.recorded("delivered")

    def delivered_at_least(self, count):
        delivered = self.delivered()
        return delivered if len(delivered) >= count else None

    def attempts(self, key):
        item = self.ddb.get_item(
            TableName=self.table("ReceivedTable"), Key={"pk": {"S": f"attempts#{key}"}}
        ).get("Item")
        return int(item["attempts"]["N"]) if item else 0

    def dead_letters(self):
        url = self.table("OutboxDLQ")
        got = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
        messages = got.get("Messages") or []
        for m in messages:
            self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return [json.loads(m["Body"]) for m in messages]

    def stream_records(self):
        streams = boto3.session.Session(region_name=self.stack.region).client(
            "dynamodbstreams", endpoint_url=self.stack.endpoint
        )
        arn = self.ddb.describe_table(TableName=self.table("OutboxTable"))["Table"][
            "LatestStreamArn"
        ]
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records = streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]
        return arn, shard["ShardId"], records


def test_records_are_delivered_once_in_stream_order_in_batches_of_at_most_batch_size(outbox):
    keys = outbox.write(*["ok"] * 25)
    delivered = wait_for(lambda: outbox.delivered_at_least(25))
    assert delivered == keys
    batches = [int(n) for n in outbox.recorded("batches")]
    assert sum(batches) == 25 and max(batches) <= 10


def test_a_reported_failure_is_retried_from_that_record_and_nothing_is_skipped(outbox):
    keys = outbox.write("ok", "fail_once", "ok", "ok")
    delivered = wait_for(lambda: outbox.delivered_at_least(4))
    assert delivered == keys
    assert outbox.attempts(keys[0]) == 1, "records before the failure were not sent again"
    assert outbox.attempts(keys[1]) == 2


def test_after_the_retries_the_batch_goes_to_the_on_failure_queue_and_the_shard_moves_on(
    outbox,
):
    first = outbox.write("ok", "fail_always")
    messages = wait_for(outbox.dead_letters, timeout=30, what="the OnFailure message")
    later = outbox.write("ok")
    wait_for(lambda: later[0] in outbox.delivered(), what="the record written after it")
    assert outbox.delivered() == [first[0], later[0]]
    assert outbox.attempts(first[1]) == 3, "one invocation and MaximumRetryAttempts: 2"
    arn, shard_id, records = outbox.stream_records()
    failed = next(r for r in records if r["dynamodb"]["Keys"]["pk"]["S"] == first[1])
    assert len(messages) == 1
    message = messages[0]
    function = outbox.stack.functions["PublisherFunction"]
    assert message["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert message["requestContext"]["functionArn"] == function.arn
    assert message["requestContext"]["approximateInvokeCount"] == 3
    assert message["responseContext"]["statusCode"] == 200
    info = message["DDBStreamBatchInfo"]
    assert info["shardId"] == shard_id and info["streamArn"] == arn
    assert info["startSequenceNumber"] == failed["dynamodb"]["SequenceNumber"]
    assert info["endSequenceNumber"] == failed["dynamodb"]["SequenceNumber"]
    assert info["batchSize"] == 1
    assert message["version"] == "1.0" and message["timestamp"].endswith("Z")


def test_a_function_error_bisects_the_batch_so_only_the_bad_record_is_given_up(outbox):
    keys = outbox.write("ok", "raise", "ok")
    messages = wait_for(outbox.dead_letters, timeout=30, what="the OnFailure message")
    wait_for(lambda: keys[2] in outbox.delivered(), what="the record after the bad one")
    assert outbox.delivered() == [keys[0], keys[2]]
    _, _, records = outbox.stream_records()
    bad = next(r for r in records if r["dynamodb"]["Keys"]["pk"]["S"] == keys[1])
    info = messages[0]["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1
    assert info["startSequenceNumber"] == bad["dynamodb"]["SequenceNumber"]
    assert messages[0]["responseContext"]["functionError"] == "Unhandled"
    assert outbox.attempts(keys[1]) >= 3


def test_the_function_gets_the_stream_record_format_lambda_sends(outbox):
    outbox.write("ok")
    wait_for(outbox.delivered)
    arn, _, records = outbox.stream_records()
    fn = outbox.stack.functions["PublisherFunction"]
    from govbus_dev.local.pollers import stream_record

    event = stream_record(records[-1], arn, fn.region)
    assert event["eventSource"] == "aws:dynamodb" and event["eventName"] == "INSERT"
    assert event["eventSourceARN"] == arn and event["awsRegion"] == fn.region
    body = event["dynamodb"]
    assert body["StreamViewType"] == "NEW_IMAGE"
    assert body["Keys"] == {"pk": body["NewImage"]["pk"]}
    assert {"SequenceNumber", "SizeBytes", "ApproximateCreationDateTime"} <= body.keys()
    json.dumps(event)  # what the function receives is plain JSON


def test_after_a_reset_the_poller_follows_the_tables_new_stream(outbox_stack, outbox):
    before = outbox.ddb.describe_table(TableName=outbox.table("OutboxTable"))["Table"][
        "LatestStreamArn"
    ]
    outbox_stack.reset()
    after = outbox.ddb.describe_table(TableName=outbox.table("OutboxTable"))["Table"][
        "LatestStreamArn"
    ]
    keys = outbox.write("ok", "ok")
    assert wait_for(lambda: outbox.delivered_at_least(2)) == keys
    assert outbox_stack.resolver.attrs["OutboxTable"]["StreamArn"] == after
    assert before  # the stream existed before the reset as well


def test_the_start_up_table_lists_the_stream_event_source(outbox_stack):
    rows = [line.split() for line in outbox_stack.table().splitlines()]
    assert [
        "DynamoDB",
        "stream",
        "outbox-OutboxTable",
        "PublisherFunction",
        "(batch",
        "10)",
    ] in rows


def test_after_a_pause_the_poller_reads_on_from_where_it_stood(outbox_stack, outbox):
    first = outbox.write("ok", "ok")
    assert wait_for(lambda: outbox.delivered_at_least(2)) == first
    for poller in outbox_stack.pollers:
        poller.pause()
    later = outbox.write("ok")
    for poller in outbox_stack.pollers:
        poller.resume()
    # the stream is read in order: a re-read from its start would deliver the first two
    # again before the third
    assert wait_for(lambda: outbox.delivered_at_least(3)) == [*first, *later]
    assert [outbox.attempts(key) for key in first] == [1, 1]
