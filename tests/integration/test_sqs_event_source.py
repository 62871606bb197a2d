"""The local SQS event source: partial batch failures are retried, then dead-lettered."""

import json

from tests.conftest import wait_for


def test_a_record_that_keeps_failing_reaches_the_dlq_and_the_good_ones_do_not(stack, aws):
    queue = stack.resolver.refs["EventLogQueue"]
    dlq = stack.resolver.refs["EventLogDLQ"]
    good = {
        "version": "0",
        "id": "x",
        "detail-type": "platform.heartbeat",
        "source": "govbus.test",
        "detail": {
            "source": "govbus.test",
            "type": "platform.heartbeat",
            "id": "good-1",
            "data": {"emitted_by": "test"},
        },
    }
    aws["sqs"].send_message_batch(
        QueueUrl=queue,
        Entries=[
            {"Id": "poison", "MessageBody": "this is not an event"},
            {"Id": "good", "MessageBody": json.dumps(good)},
        ],
    )

    def dead_letters():
        got = aws["sqs"].receive_message(
            QueueUrl=dlq, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
        )
        return got.get("Messages")

    messages = wait_for(dead_letters, timeout=30, what="the poison message in the DLQ")
    assert [m["Body"] for m in messages] == ["this is not an event"]
    assert int(messages[0]["Attributes"]["ApproximateReceiveCount"]) >= 1
    table = stack.resolver.refs["EventLogTable"]
    item = aws["dynamodb"].get_item(TableName=table, Key={"id": {"S": "good-1"}}).get("Item")
    assert item is not None, "the good record of the same batch was processed once"


def test_messages_received_as_a_pause_begins_are_given_back_at_once(stack, aws):
    """A poller paused during its long poll (a reset, the soak's bus outage) must not
    keep what the poll brought: hidden for the queue's VisibilityTimeout (a minute or
    more) it would look lost."""
    from govbus_dev.local.pollers import SqsPoller

    queue = stack.resolver.refs["EventLogQueue"]
    for poller in stack.pollers:
        poller.pause()  # the stack's own poller leaves the queue to this one
    try:
        aws["sqs"].send_message(QueueUrl=queue, MessageBody="held back")
        handled = []

        class PausedDuringThePoll:
            def __getattr__(self, name):
                return getattr(aws["sqs"], name)

            def receive_message(self, **kwargs):
                answer = aws["sqs"].receive_message(**kwargs)
                poller.pause()
                return answer

        function = type("Function", (), {"invoke": handled.append, "region": stack.region})()
        poller = SqsPoller(function, PausedDuringThePoll(), queue, "arn:aws:sqs:::eventlog")
        assert poller.poll_once() == 0
        assert handled == []
        again = aws["sqs"].receive_message(QueueUrl=queue, WaitTimeSeconds=2)
        assert [m["Body"] for m in again.get("Messages") or []] == ["held back"]
    finally:
        for p in stack.pollers:
            p.resume()
