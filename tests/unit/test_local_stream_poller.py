"""An idle DynamoDB stream poller asks the emulator for little: it keeps reading with the
iterator the last GetRecords handed back, and reads less often while nothing comes."""

from __future__ import annotations

from typing import Any

from govbus_dev.local.pollers import DynamoDBStreamPoller

STREAM = "arn:aws:dynamodb:us-east-1:123456789012:table/outbox/stream/2026-11-27T00:00:00.000"


class _Streams:
    """A stream with one shard that holds a record only on the read numbered ``busy_on``."""

    def __init__(self, busy_on: set[int]) -> None:
        self.busy_on = busy_on
        self.iterators_issued = 0
        self.read_with: list[str] = []

    def describe_stream(self, StreamArn: str) -> dict[str, Any]:
        shard = {"ShardId": "shard-1", "SequenceNumberRange": {"StartingSequenceNumber": "1"}}
        return {"StreamDescription": {"Shards": [shard]}}

    def get_shard_iterator(self, **_: Any) -> dict[str, Any]:
        self.iterators_issued += 1
        return {"ShardIterator": f"fresh-{self.iterators_issued}"}

    def get_records(self, ShardIterator: str, Limit: int) -> dict[str, Any]:
        self.read_with.append(ShardIterator)
        n = len(self.read_with)
        records = []
        if n in self.busy_on:
            records = [
                {"eventID": str(n), "eventName": "INSERT", "dynamodb": {"SequenceNumber": str(n)}}
            ]
        return {"Records": records, "NextShardIterator": f"next-{n}"}


class _Session:
    def __init__(self, streams: _Streams) -> None:
        self.streams = streams

    def client(self, name: str) -> Any:
        if name == "dynamodbstreams":
            return self.streams
        if name == "dynamodb":
            return type(
                "D", (), {"describe_table": lambda _s, **_k: {"Table": {"LatestStreamArn": STREAM}}}
            )()
        return object()


class _Function:
    logical_id = "PublisherFunction"
    region = "us-east-1"

    def invoke(self, event: dict) -> dict:
        return {"batchItemFailures": []}


class _Clock:
    """Stands in for the poller's stop event: notes each wait, stops after ``rounds``."""

    def __init__(self, rounds: int) -> None:
        self.rounds = rounds
        self.waits: list[float] = []

    def is_set(self) -> bool:
        return len(self.waits) >= self.rounds

    def wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        return self.is_set()


def _run(busy_on: set[int], rounds: int) -> tuple[_Streams, _Clock]:
    streams = _Streams(busy_on)
    poller = DynamoDBStreamPoller(
        _Function(), _Session(streams), table_name="outbox", poll_interval_seconds=0.25
    )
    clock = _Clock(rounds)
    poller._stop = clock  # type: ignore[assignment]
    poller._run()
    return streams, clock


def test_an_idle_poller_reads_on_with_the_iterator_it_was_handed_and_asks_for_no_new_one():
    streams, _clock = _run(busy_on=set(), rounds=6)
    assert streams.iterators_issued == 1
    assert streams.read_with[0] == "fresh-1"
    assert streams.read_with[1:] == [f"next-{n}" for n in range(1, len(streams.read_with))]


def test_an_idle_poller_waits_longer_each_time_up_to_a_second():
    _streams, clock = _run(busy_on=set(), rounds=6)
    assert clock.waits == [0.25, 0.5, 1.0, 1.0, 1.0, 1.0]


def test_a_record_brings_the_polling_interval_back_down():
    # reads 1-3 empty, read 4 holds a record (no wait after it), then idle again
    _streams, clock = _run(busy_on={4}, rounds=5)
    assert clock.waits == [0.25, 0.5, 1.0, 0.25, 0.5]
