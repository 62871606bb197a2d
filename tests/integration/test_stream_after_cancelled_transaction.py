"""A cancelled transaction leaves a table's stream flowing (issue 21 item 6).

moto rolls a cancelled ``TransactWriteItems`` back by putting a copy of the table taken
before it in the table's place; the stream's shard went with the copy, so the shard
iterators a stream reader held pointed at a shard no write reached again, and every
outbox event after one lost race (twenty simultaneous accepts of one case: one 200,
nineteen 409) waited for the one-minute sweep. Here, on the runtime fixture's
OutboxTable stream (PublisherFunction records what it is handed): an event before and
after a cancelled transaction each arrives within seconds, each once, and the write the
transaction cancelled is never delivered.
"""

import time
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from govbus_dev.local.stack import LocalStack
from tests.conftest import wait_for
from tests.integration.test_stream_event_source import Outbox

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "runtime_stack"
# an event reaches the function within this on the local stack (the poller reads an
# idle stream at least once a second); the sweep that drained it before took a minute
WITHIN_SECONDS = 5.0


@pytest.fixture(scope="module")
def rollback_stack(local_stack_session):
    stack = LocalStack(
        FIXTURE,
        port=0,
        endpoint=local_stack_session.endpoint,
        stack_name="rollback",
        simulators=False,
        schedules=False,
        retry_delay_seconds=0.2,
    )
    stack.start()
    yield stack
    stack.stop()


@pytest.fixture
def outbox(rollback_stack):
    session = boto3.session.Session(region_name=rollback_stack.region)
    return Outbox(rollback_stack, session)


def delivered_within(outbox: Outbox, count: int) -> float:
    """Seconds until the function has been handed ``count`` records of this test."""
    started = time.monotonic()
    wait_for(
        lambda: outbox.delivered_at_least(count),
        timeout=WITHIN_SECONDS,
        interval=0.02,
        what=f"{count} record(s) delivered",
    )
    return time.monotonic() - started


def cancelled_transaction(outbox: Outbox) -> str:
    """A transaction that puts an outbox row, then fails a condition: cancelled whole."""
    table = outbox.table("OutboxTable")
    phantom = f"{outbox.tag}-cancelled-ok"
    with pytest.raises(ClientError) as refused:
        outbox.ddb.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": table,
                        "Item": {
                            "pk": {"S": phantom},
                            "tag": {"S": outbox.tag},
                            "behaviour": {"S": "ok"},
                        },
                    }
                },
                {
                    "ConditionCheck": {
                        "TableName": table,
                        "Key": {"pk": {"S": f"{outbox.tag}-{uuid.uuid4().hex}"}},
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]
        )
    assert refused.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert "Item" not in outbox.ddb.get_item(TableName=table, Key={"pk": {"S": phantom}})
    return phantom


def test_an_event_after_a_cancelled_transaction_arrives_within_seconds_once(outbox):
    before = outbox.write("ok")
    before_seconds = delivered_within(outbox, 1)

    phantom = cancelled_transaction(outbox)
    after = outbox.write("ok")
    after_seconds = delivered_within(outbox, 2)

    assert before_seconds < WITHIN_SECONDS and after_seconds < WITHIN_SECONDS
    time.sleep(1.5)  # anything delivered twice (or the cancelled write) would show by now
    assert outbox.delivered() == [*before, *after]
    assert phantom not in outbox.delivered()
    assert [outbox.attempts(key) for key in [*before, *after]] == [1, 1]


def test_the_stream_flows_across_many_cancelled_transactions_and_writes_between(outbox):
    """Twenty lost races, as twenty simultaneous accepts of one case make, with writes
    between them: every write arrives, in order, once."""
    written: list[str] = []
    for _ in range(20):
        cancelled_transaction(outbox)
        written += outbox.write("ok")
    delivered_within(outbox, len(written))
    time.sleep(1.5)
    assert outbox.delivered() == written
