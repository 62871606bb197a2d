"""A cancelled ``TransactWriteItems`` on the local endpoint leaves everything as it was.

The endpoint rolls a cancelled transaction back from copies of just the items it touched
(moto's own rollback deep-copied each whole table, once per item: 2.4 s for a 3-item
transaction at 10,000 items). Here, on a table keyed by a partition key and one keyed by
partition and sort key, both with streams: every item a cancelled transaction put
(new and over an old one), updated (in place and as a new item), deleted or only
checked is exactly as before, the untouched ones too, the cancellation reasons are
DynamoDB's, the streams hold just the records from before and go on from there.
"""

import uuid

import boto3
import pytest
from botocore.exceptions import ClientError

from govbus_dev.local.endpoint import AtomicMotoServer

CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
STREAM = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}


@pytest.fixture(scope="module")
def endpoint():
    server = AtomicMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def session():
    return boto3.session.Session(region_name="us-east-1", **CREDENTIALS)


@pytest.fixture
def ddb(endpoint, session):
    return session.client("dynamodb", endpoint_url=endpoint)


@pytest.fixture
def streams(endpoint, session):
    return session.client("dynamodbstreams", endpoint_url=endpoint)


def a_table(ddb, sort_key: bool) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    keys = [{"AttributeName": "pk", "KeyType": "HASH"}]
    attributes = [{"AttributeName": "pk", "AttributeType": "S"}]
    if sort_key:
        keys.append({"AttributeName": "sk", "KeyType": "RANGE"})
        attributes.append({"AttributeName": "sk", "AttributeType": "N"})
    ddb.create_table(
        TableName=name,
        KeySchema=keys,
        AttributeDefinitions=attributes,
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification=STREAM,
    )
    return name


def everything(ddb, table: str) -> list[dict]:
    items = ddb.scan(TableName=table, ConsistentRead=True)["Items"]
    return sorted(items, key=repr)


def records(ddb, streams, table: str) -> list[dict]:
    arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    return streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]


def seeded(ddb) -> tuple[str, str]:
    """A table by partition key and one by partition and sort key, with a few items."""
    plain, sorted_ = a_table(ddb, sort_key=False), a_table(ddb, sort_key=True)
    nested = {"M": {"count": {"N": "1"}, "tags": {"L": [{"S": "a"}]}}}
    for pk in ("put-over", "update", "delete", "check", "untouched"):
        ddb.put_item(
            TableName=plain,
            Item={"pk": {"S": pk}, "n": {"N": "1"}, "nested": nested, "state": {"S": "old"}},
        )
    for pk, sk in (("shared", 1), ("shared", 2), ("shared", 3), ("alone", 1)):
        ddb.put_item(
            TableName=sorted_,
            Item={"pk": {"S": pk}, "sk": {"N": str(sk)}, "nested": nested, "n": {"N": "1"}},
        )
    return plain, sorted_


def exists(table: str, key: dict) -> dict:
    return {"TableName": table, "Key": key, "ConditionExpression": "attribute_exists(pk)"}


def test_a_cancelled_transaction_leaves_every_touched_item_and_stream_as_before(ddb, streams):
    plain, sorted_ = seeded(ddb)
    items_before = {t: everything(ddb, t) for t in (plain, sorted_)}
    records_before = {t: records(ddb, streams, t) for t in (plain, sorted_)}
    increment = {
        "UpdateExpression": "SET n = n + :one, nested.#c = nested.#c + :one, "
        "nested.tags = list_append(nested.tags, :more), #s = :new",
        "ExpressionAttributeNames": {"#c": "count", "#s": "state"},
        "ExpressionAttributeValues": {
            ":one": {"N": "1"},
            ":more": {"L": [{"S": "b"}]},
            ":new": {"S": "new"},
        },
    }

    with pytest.raises(ClientError) as cancelled:
        ddb.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": plain,
                        "Item": {"pk": {"S": "put-over"}, "state": {"S": "new"}},
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
                {"Put": {"TableName": plain, "Item": {"pk": {"S": "put-new"}}}},
                {"Update": {**exists(plain, {"pk": {"S": "update"}}), **increment}},
                {
                    "Update": {
                        "TableName": plain,
                        "Key": {"pk": {"S": "update-new"}},
                        "UpdateExpression": "SET #s = :new",
                        "ExpressionAttributeNames": {"#s": "state"},
                        "ExpressionAttributeValues": {":new": {"S": "new"}},
                    }
                },
                {"Delete": exists(plain, {"pk": {"S": "delete"}})},
                {"Delete": exists(sorted_, {"pk": {"S": "shared"}, "sk": {"N": "1"}})},
                {
                    "Update": {
                        **exists(sorted_, {"pk": {"S": "shared"}, "sk": {"N": "2"}}),
                        **increment,
                    }
                },
                {
                    "Put": {
                        "TableName": sorted_,
                        "Item": {"pk": {"S": "fresh"}, "sk": {"N": "1"}},
                    }
                },
                {"Put": {"TableName": sorted_, "Item": {"pk": {"S": "shared"}, "sk": {"N": "9"}}}},
                {
                    "ConditionCheck": {
                        "TableName": plain,
                        "Key": {"pk": {"S": "check"}},
                        "ConditionExpression": "#s = :new",
                        "ExpressionAttributeNames": {"#s": "state"},
                        "ExpressionAttributeValues": {":new": {"S": "new"}},
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                },
            ]
        )

    error = cancelled.value.response
    assert error["Error"]["Code"] == "TransactionCanceledException"
    reasons = error["CancellationReasons"]
    assert [reason["Code"] for reason in reasons] == ["None"] * 9 + ["ConditionalCheckFailed"]
    assert reasons[-1]["Item"]["state"] == {"S": "old"}  # the checked item, as it was
    assert {t: everything(ddb, t) for t in (plain, sorted_)} == items_before
    assert {t: records(ddb, streams, t) for t in (plain, sorted_)} == records_before

    # and both go on from there: a write after is the next record, the items as written
    ddb.put_item(TableName=plain, Item={"pk": {"S": "after"}})
    ddb.update_item(TableName=sorted_, Key={"pk": {"S": "shared"}, "sk": {"N": "2"}}, **increment)
    after = records(ddb, streams, plain)
    assert after[:-1] == records_before[plain]
    assert after[-1]["dynamodb"]["Keys"] == {"pk": {"S": "after"}}
    assert int(after[-1]["dynamodb"]["SequenceNumber"]) == (
        int(after[-2]["dynamodb"]["SequenceNumber"]) + 1
    )
    updated = ddb.get_item(TableName=sorted_, Key={"pk": {"S": "shared"}, "sk": {"N": "2"}})
    assert updated["Item"]["n"] == {"N": "2"}
    assert updated["Item"]["nested"]["M"]["count"] == {"N": "2"}
    assert updated["Item"]["nested"]["M"]["tags"] == {"L": [{"S": "a"}, {"S": "b"}]}
    assert records(ddb, streams, sorted_)[:-1] == records_before[sorted_]


def test_a_transaction_refused_as_invalid_leaves_what_it_wrote_before_as_before(ddb, streams):
    """Two steps on one item: DynamoDB refuses the whole request (a ValidationException,
    no cancellation reasons), after moto had already applied the first step."""
    plain, _ = seeded(ddb)
    items_before = everything(ddb, plain)
    records_before = records(ddb, streams, plain)

    with pytest.raises(ClientError) as refused:
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": plain, "Item": {"pk": {"S": "put-over"}}}},
                {"Delete": {"TableName": plain, "Key": {"pk": {"S": "delete"}}}},
                {"Put": {"TableName": plain, "Item": {"pk": {"S": "put-new"}}}},
                {"Delete": {"TableName": plain, "Key": {"pk": {"S": "put-over"}}}},
            ]
        )

    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert everything(ddb, plain) == items_before
    assert records(ddb, streams, plain) == records_before


def test_a_transaction_that_passes_writes_every_step(ddb, streams):
    plain, sorted_ = seeded(ddb)
    ddb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": plain, "Item": {"pk": {"S": "put-new"}}}},
            {"Delete": exists(plain, {"pk": {"S": "delete"}})},
            {"Delete": exists(sorted_, {"pk": {"S": "shared"}, "sk": {"N": "1"}})},
            {"ConditionCheck": exists(plain, {"pk": {"S": "check"}})},
        ]
    )
    keys = {item["pk"]["S"] for item in everything(ddb, plain)}
    assert keys == {"put-over", "update", "check", "untouched", "put-new"}
    assert {(i["pk"]["S"], i["sk"]["N"]) for i in everything(ddb, sorted_)} == {
        ("shared", "2"),
        ("shared", "3"),
        ("alone", "1"),
    }
    assert [r["eventName"] for r in records(ddb, streams, plain)][-2:] == ["INSERT", "REMOVE"]
