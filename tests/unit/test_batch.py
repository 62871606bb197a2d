"""Partial batch responses (govbus.batch): what SQS is told to deliver again."""

import json

import pytest

from contracts.events import Event
from govbus.batch import BatchFailed, SQSRecord, process_partial_response


def sqs_event(*bodies: str, receive_count: str = "1") -> dict:
    return {
        "Records": [
            {
                "messageId": f"m-{i}",
                "receiptHandle": f"rh-{i}",
                "body": body,
                "attributes": {"ApproximateReceiveCount": receive_count, "SentTimestamp": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
            }
            for i, body in enumerate(bodies)
        ]
    }


def bus_envelope(event: Event) -> str:
    """An event as an EventBridge rule puts it on a queue."""
    return json.dumps(
        {
            "version": "0",
            "id": "eb-1",
            "detail-type": event.type,
            "source": event.source,
            "detail": json.loads(event.model_dump_json()),
        }
    )


def test_every_record_handled_means_no_failure_reported():
    seen = []
    answer = process_partial_response(sqs_event("a", "b", "c"), lambda r: seen.append(r.body))
    assert answer == {"batchItemFailures": []}
    assert seen == ["a", "b", "c"], "each record in turn, in order"


def test_a_failing_record_is_reported_and_the_others_are_still_handled():
    seen = []

    def handle(record: SQSRecord) -> None:
        if record.body == "bad":
            raise RuntimeError("DynamoDB throttled")
        seen.append(record.body)

    answer = process_partial_response(sqs_event("a", "bad", "c"), handle)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert seen == ["a", "c"]


def test_a_batch_whose_every_record_fails_is_retried_whole():
    def handle(record: SQSRecord) -> None:
        raise ValueError(f"cannot read {record.body}")

    with pytest.raises(BatchFailed, match="all 2 records") as failed:
        process_partial_response(sqs_event("x", "y"), handle)
    assert [r.message_id for r, _ in failed.value.failures] == ["m-0", "m-1"]
    assert all(isinstance(exc, ValueError) for _, exc in failed.value.failures)


def test_an_empty_batch_reports_nothing():
    assert process_partial_response({"Records": []}, lambda r: None) == {"batchItemFailures": []}


def test_a_failed_record_is_logged_with_its_traceback_and_identifiers_masked(capsys):
    def handle(record: SQSRecord) -> None:
        if record.body == "bad":
            raise RuntimeError("no case for citizen 350102199003071234")

    process_partial_response(sqs_event("ok", "bad"), handle)
    out = capsys.readouterr().out
    line = json.loads(next(x for x in out.splitlines() if "record failed" in x))
    assert line["level"] == "WARNING"
    assert line["message_id"] == "m-1"
    assert "Traceback" in line["exception"] and "RuntimeError" in line["exception"]
    assert "350102199003071234" not in out
    assert "3501**********1234" in out


def test_a_record_reads_its_attributes_and_the_bus_event_it_carries():
    event = Event.create("platform.heartbeat", {"emitted_by": "test"}, source="govbus.test")
    got: list[SQSRecord] = []
    process_partial_response(sqs_event(bus_envelope(event), receive_count="3"), got.append)
    record = got[0]
    assert record.message_id == "m-0"
    assert record.attributes.approximate_receive_count == "3"
    assert record.attributes.sent_timestamp == "1"
    assert record.event() == event


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("not json", ValueError),
        ('{"no": "detail"}', KeyError),
        ('{"detail": {"id": 1}}', ValueError),
    ],
)
def test_a_body_that_is_no_bus_event_fails_with_a_readable_error(body, error):
    with pytest.raises(error):
        SQSRecord(message_id="m", body=body).event()


def test_a_record_that_failed_retryably_is_logged_without_a_traceback(capsys):
    from contracts.errors import PartnerTimeout

    def handle(record: SQSRecord) -> None:
        if record.body == "slow":
            raise PartnerTimeout("no answer within 5.0 s")
        if record.body == "bug":
            raise KeyError("detail")

    process_partial_response(sqs_event("slow", "bug", "ok"), handle)
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if "record failed" in x]
    assert len(lines) == 2
    expected, unexpected = lines
    assert "exception" not in expected
    assert expected["error"] == "PartnerTimeout: no answer within 5.0 s"
    assert "Traceback" in unexpected["exception"] and "KeyError" in unexpected["exception"]
