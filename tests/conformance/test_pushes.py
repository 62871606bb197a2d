"""What every adapter whose partner pushes to the bus must do."""

import time

from contracts.adapters import InboundRequest
from contracts.errors import SignatureInvalid
from contracts.events import Event, event_types

REQUIRES_HOOK = "govbus_webhook_verify"


def _push_request(harness, headers, body, received_at=None):
    return InboundRequest(
        partner=harness.name,
        headers={k.lower(): v for k, v in headers.items()},
        body=body,
        received_at=received_at or time.time(),
    )


def test_a_genuine_push_verifies_and_parses_into_registered_events(harness):
    headers, body = harness.simulator.sample_push()
    request = _push_request(harness, headers, body)
    delivery_id = harness.call(
        "govbus_webhook_verify", request=request, secrets=harness.push_secrets()
    )
    assert isinstance(delivery_id, str) and delivery_id
    events = harness.call("govbus_webhook_parse", request=request)
    assert events and all(isinstance(e, Event) for e in events)
    assert {e.type for e in events} <= set(event_types())


def test_a_tampered_or_foreign_push_is_refused(harness):
    headers, body = harness.simulator.sample_push()
    # one byte of the content changed (a JSON body's closing brace, a form's last value):
    # whatever the partner signs, an altered push must not verify
    tampered = body[:-1] + (b"0" if body[-1:] != b"0" else b"1")
    assert tampered != body
    for request, secrets in (
        (_push_request(harness, headers, tampered), harness.push_secrets()),
        (_push_request(harness, headers, body), ["not-the-partners-secret"]),
        (_push_request(harness, {}, body), harness.push_secrets()),
    ):
        try:
            harness.call("govbus_webhook_verify", request=request, secrets=secrets)
        except SignatureInvalid:
            continue
        raise AssertionError("a push that does not verify was accepted")


def test_a_duplicate_push_has_the_same_delivery_id_so_the_bus_publishes_it_once(harness):
    headers, body = harness.simulator.sample_push()
    ids = {
        harness.call(
            "govbus_webhook_verify",
            request=_push_request(harness, headers, body),
            secrets=harness.push_secrets(),
        )
        for _ in range(2)
    }
    assert len(ids) == 1
