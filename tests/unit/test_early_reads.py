"""Reads started beside other work (the dispatcher's circuit and credentials beside its
claim): each is made once, taken by the call it was for, and never outlives its record."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from contracts.errors import CircuitOpen
from govbus import aws
from govbus.circuit import CircuitBreaker
from tests.conftest import wait_for


class CountingLock:
    """A lock that counts the threads that have asked for it (holding or waiting)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.asked = 0

    def __enter__(self) -> None:
        self.asked += 1
        self._lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


def until(condition, what: str) -> None:
    wait_for(condition, timeout=10, what=what)


class FakeTable:
    """The circuit table's one item per partner, counting reads."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.reads = 0

    def get_item(self, TableName: str, Key: dict, ConsistentRead: bool) -> dict:
        self.reads += 1
        item = self.items.get(Key["partner"]["S"])
        return {"Item": item} if item else {}


class Breaker(CircuitBreaker):
    def __init__(self, table: FakeTable) -> None:
        super().__init__("Circuit")
        self.fake = table

    def _ddb(self) -> Any:
        return self.fake


def open_circuit(table: FakeTable, partner: str) -> None:
    table.items[partner] = {
        "partner": {"S": partner},
        "state": {"S": "open"},
        "failures": {"N": "5"},
        "open_until": {"N": "9999999999"},
        "last_error": {"S": "PartnerUnavailable: down"},
    }


def test_the_call_takes_the_read_started_beside_it():
    table = FakeTable()
    breaker = Breaker(table)
    breaker.read_beside("ems")
    assert breaker.before_call("ems")["state"] == "closed"
    assert table.reads == 1, "the early read, not a second one"
    breaker.before_call("ems")
    assert table.reads == 2, "taken once: the next call reads again"


def test_a_read_no_call_took_is_forgotten_with_its_record():
    """The command was done before (its claim said so): its early read must not stand in
    for a later command's, or a circuit opened meanwhile would be missed."""
    table = FakeTable()
    breaker = Breaker(table)
    breaker.read_beside("ems")  # reads "closed"
    breaker.forget_early_reads()
    open_circuit(table, "ems")
    with pytest.raises(CircuitOpen, match="ems is open"):
        breaker.before_call("ems")


def test_two_threads_asking_for_a_new_client_get_one_client(monkeypatch):
    made: list[str] = []
    let_it_finish = threading.Event()

    class Session:
        def create_client(self, service: str, config: Any) -> object:
            made.append(service)
            let_it_finish.wait(timeout=10)
            return object()

    lock = CountingLock()
    monkeypatch.setattr(aws, "_CLIENTS", {})
    monkeypatch.setattr(aws, "_CREATING", lock)
    monkeypatch.setattr(aws, "session", lambda: Session())
    got: list[object] = []
    threads = [threading.Thread(target=lambda: got.append(aws.client("dynamodb"))) for _ in "ab"]
    threads[0].start()
    until(lambda: made == ["dynamodb"], "the first thread making the client")
    threads[1].start()
    until(lambda: lock.asked == 2, "the second thread waiting for the first")
    let_it_finish.set()
    for thread in threads:
        thread.join(timeout=10)
    assert made == ["dynamodb"], "one client made"
    assert len(got) == 2 and got[0] is got[1]


def test_a_secret_asked_for_while_it_is_being_read_is_read_once(monkeypatch):
    reads: list[str] = []
    answer = threading.Event()

    class Secrets:
        def get_secret_value(self, SecretId: str) -> dict:
            reads.append(SecretId)
            answer.wait(timeout=10)
            return {"SecretString": '{"key": "k"}'}

    name = "govbus/dev/ems"
    lock = CountingLock()
    monkeypatch.setattr(aws, "_SECRET_CACHE", {})
    monkeypatch.setattr(aws, "_SECRET_LOCKS", {name: lock}, raising=False)
    monkeypatch.setattr(aws, "client", lambda service: Secrets())
    got: list[str] = []
    threads = [threading.Thread(target=lambda: got.append(aws.get_secret(name))) for _ in "ab"]
    threads[0].start()
    until(lambda: reads == [name], "the first read under way")
    assert not aws.secret_is_cached(name)
    threads[1].start()
    until(lambda: lock.asked == 2 or len(reads) == 2, "the second caller asking")
    answer.set()
    for thread in threads:
        thread.join(timeout=10)
    assert reads == [name], "the second caller waited for the first read"
    assert got == ['{"key": "k"}'] * 2
    assert aws.secret_is_cached(name)
