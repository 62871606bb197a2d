"""What CloudWatch would chart: the EMF lines the functions print while they work."""

from __future__ import annotations

import json
import time

import pytest

from govbus.circuit import BreakerPolicy, CircuitBreaker
from govbus.dlq import peek, resolve_queue
from tests.conftest import wait_for
from tests.emf import EmfCapture
from tests.integration.conftest import delivery_requested, post_webhook, put_event


@pytest.fixture
def emf(capsys):
    return EmfCapture(capsys)


def test_webhooks_accepted_and_refused_are_counted_per_partner_and_reason(stack, acme, emf):
    assert post_webhook(stack.url, b'{"note": "counted"}').status_code == 202
    refused = post_webhook(stack.url, b'{"note": "forged"}', secret="whsec_" + "A" * 32)
    assert refused.status_code == 401, refused.text

    accepted = wait_for(
        lambda: emf.values("WebhookAccepted", service="webhooks", partner="acme"),
        what="the WebhookAccepted metric",
    )
    assert accepted == [1.0]
    assert wait_for(
        lambda: emf.values(
            "WebhookRefused", service="webhooks", partner="acme", reason="invalid-signature"
        ),
        what="the WebhookRefused metric",
    ) == [1.0]


def test_an_unknown_partner_is_refused_into_one_bucket_not_a_metric_of_its_own(stack, emf):
    import requests

    answer = requests.post(f"{stack.url}/webhooks/nobody-{time.time_ns()}", data=b"{}", timeout=10)
    assert answer.status_code == 404
    refused = wait_for(
        lambda: emf.values("WebhookRefused", service="webhooks", reason="unknown-partner"),
        what="the refusal counted",
    )
    assert refused == [1.0]
    partners = {d.get("partner") for d in emf.documents() if "WebhookRefused" in d}
    assert partners == {"(unknown)"}


def test_a_refused_command_counts_an_attempt_a_failure_and_a_dead_letter(stack, aws, ems, emf):
    event = delivery_requested("CASE-METRICS")
    request = event.data["request"]
    bad = {
        "carrier": "ems",
        "request": {**request, "receiver": {**request["receiver"], "phone": "12345"}},
    }
    put_event(
        aws,
        stack,
        event.create("delivery.requested", bad, source=event.source, subject="CASE-METRICS"),
    )
    wait_for(lambda: peek(resolve_queue("dispatch-dlq")), what="the refusal in the DLQ")

    dead = wait_for(
        lambda: emf.values(
            "DeadLettered", service="dispatcher", queue="dispatch", event_type="delivery.requested"
        ),
        what="the DeadLettered metric",
    )
    assert dead == [1.0]
    assert emf.values(
        "DispatchAttempt", service="dispatcher", partner="ems", command="delivery.requested"
    ) == [1.0]
    assert emf.values(
        "DispatchFailure", service="dispatcher", partner="ems", reason="PartnerError"
    ) == [1.0]


def test_every_change_of_a_circuit_is_counted_with_the_state_it_moved_to(stack, emf):
    partner = f"metrics-{time.time_ns()}"
    breaker = CircuitBreaker(
        stack.resolver.refs["CircuitTable"],
        BreakerPolicy(failure_threshold=2, cool_down_seconds=0.2),
    )
    assert breaker.record_failure(partner, "PartnerTimeout: slow") == "closed"
    assert emf.values("CircuitStateChanged", partner=partner) == []
    assert breaker.record_failure(partner, "PartnerTimeout: slow") == "open"
    wait_for(lambda: time.time() > breaker.state(partner)["open_until"], what="the cool-down")
    breaker.before_call(partner)  # this caller takes the probe
    breaker.record_success(partner)

    moves = [
        d["to"]
        for d in emf.documents()
        if "CircuitStateChanged" in d and d.get("partner") == partner
    ]
    assert moves == ["open", "half_open", "closed"]
    # the line names its dimensions for CloudWatch, the namespace is the bus's
    line = next(d for d in emf.documents() if d.get("partner") == partner)
    directive = line["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "govbus"
    assert set(directive["Dimensions"][0]) == {"service", "partner", "to"}
    assert json.loads(json.dumps(line))["CircuitStateChanged"] == [1.0]
