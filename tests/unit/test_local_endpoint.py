"""The local endpoint handles DynamoDB's requests one at a time, as DynamoDB applies each
request whole; other services' requests still run side by side."""

from __future__ import annotations

import threading

from govbus_dev.local.endpoint import atomic_dynamodb


def run_two_at_once(target: str) -> int:
    """The most requests the app had in hand at once when two arrive together."""
    inside = 0
    most = 0
    lock = threading.Lock()
    other_arrived = threading.Condition(lock)

    def app(environ, start_response):
        nonlocal inside, most
        with other_arrived:
            inside += 1
            most = max(most, inside)
            other_arrived.notify_all()
            # a second request inside at the same time shows up here, if it can
            other_arrived.wait_for(lambda: inside >= 2, timeout=0.5)
            inside -= 1
        start_response("200 OK", [])
        return [b"{}"]

    served = atomic_dynamodb(app)
    environ = {"HTTP_X_AMZ_TARGET": target} if target else {}
    threads = [
        threading.Thread(target=lambda: list(served(dict(environ), lambda *a: None)))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    return most


def test_dynamodb_requests_are_handled_one_at_a_time():
    assert run_two_at_once("DynamoDB_20120810.UpdateItem") == 1
    assert run_two_at_once("DynamoDBStreams_20120810.GetRecords") == 1


def test_other_services_requests_still_run_side_by_side():
    assert run_two_at_once("AWSEvents.PutEvents") == 2
    assert run_two_at_once("") == 2  # S3, SQS query protocol: no target header
