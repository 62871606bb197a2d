"""The hall's status pushes through the local stack: gateway -> webhooks -> bus -> event log.

A SOAP push becomes one ``case.province_status`` event; a duplicate or replay publishes
nothing twice; a forged, stale or hostile push is refused and publishes nothing (the
marker event proves it).
"""

from __future__ import annotations

import datetime as _dt
import json

import pytest
import requests
from lxml import etree

from adapters.province import wire
from adapters.province.simulator import HallFaults, billion_laughs, external_entity
from govbus import plugins
from tests.conftest import wait_for
from tests.integration.conftest import archived, post_webhook
from tests.integration.test_province_hall import Province, forward


@pytest.fixture
def hall(stack):
    simulator = stack.simulators["province"]
    simulator.set_faults(HallFaults())
    yield simulator
    simulator.set_faults(HallFaults())


@pytest.fixture
def province(hall):
    try:
        yield Province(hall)
    finally:
        plugins.reconfigure_all()


def push(stack, headers: dict[str, str], body: bytes) -> requests.Response:
    return requests.post(f"{stack.url}/webhooks/province", data=body, headers=headers, timeout=10)


def province_events(aws, stack) -> list[dict]:
    envelopes = [json.loads(i["envelope"]["S"]) for i in archived(aws, stack)]
    return [e for e in envelopes if e["type"] == "case.province_status"]


def after_marker(aws, stack) -> list[dict]:
    """Publish a marker after the pushes and wait for it: moto delivers in order, so once
    the marker is archived, anything a push had published is archived too."""
    assert post_webhook(stack.url, b'{"note": "marker"}').status_code == 202
    wait_for(
        lambda: any("marker" in i["envelope"]["S"] for i in archived(aws, stack)),
        what="the marker event",
        # past a long poll begun before the stack was reset (up to 20 s)
        timeout=60,
    )
    return province_events(aws, stack)


def test_a_status_push_becomes_one_case_province_status_event(stack, aws, acme, hall):
    headers, body = hall.sample_push()
    answer = push(stack, headers, body)
    assert answer.status_code == 202, answer.text
    (event_id,) = answer.json()["event_ids"]
    (event,) = wait_for(lambda: province_events(aws, stack), what="the province event")
    assert event["id"] == event_id
    assert event["source"] == "govbus.partner.province"
    assert event["subject"] == "CASE-SAMPLE"
    assert event["data"]["province_case_no"] == "FJ000000000000"
    assert event["data"]["status"] == "accepted"


def test_a_case_decided_at_the_province_arrives_once_per_change_despite_duplicates_and_disorder(
    stack, aws, acme, hall, province
):
    receipt = province("govbus_province_forward_case", forward=forward("CASE-STACK-1"))
    hall.set_faults(HallFaults(duplicate_pushes=True, out_of_order=True))
    hall.decide(receipt.province_case_no, "REJECTED", "材料不全 materials incomplete")
    statuses = hall.advance(receipt.province_case_no, "REJECTED", "材料不全 materials incomplete")
    assert statuses == [202, 202, 202, 202]  # two changes, each pushed twice
    events = after_marker(aws, stack)
    assert sorted((e["data"]["status"], e["data"]["reason"]) for e in events) == [
        ("accepted", ""),
        ("rejected", "材料不全 materials incomplete"),
    ]
    assert {e["subject"] for e in events} == {"CASE-STACK-1"}


def test_a_replayed_push_answers_the_original_and_publishes_nothing_twice(stack, aws, acme, hall):
    headers, body = hall.sample_push()
    first = push(stack, headers, body)
    assert first.status_code == 202, first.text
    again = push(stack, headers, body)
    assert again.status_code == 202
    assert again.json()["event_ids"] == first.json()["event_ids"]
    assert len(after_marker(aws, stack)) == 1


def test_a_push_without_ws_addressing_is_named_by_its_token_nonce(stack, aws, acme, hall):
    """A hall that sends no wsa:MessageID: the push is accepted once, its retry answered
    with the same events (its id was once a base64 nonce, which no delivery id may be)."""
    headers, body = hall.push_body("FJ000000000000", "ACCEPTED", message_id=False)
    assert b"MessageID" not in body
    first = push(stack, headers, body)
    assert first.status_code == 202, first.text
    again = push(stack, headers, body)
    assert again.status_code == 202, again.text
    assert again.json()["event_ids"] == first.json()["event_ids"]
    assert len(after_marker(aws, stack)) == 1


def _forged_digest(hall, body: bytes) -> tuple[dict[str, str], bytes]:
    """Someone who can sign the bytes but not make the UsernameToken hold."""
    doc = etree.fromstring(body)
    doc.find(".//wsse:Password", wire.NSMAP).text = "AAAAAAAAAAAAAAAAAAAAAAAAAAA="
    forged = etree.tostring(doc, xml_declaration=True, encoding="utf-8")
    return {
        "Content-Type": "text/xml; charset=utf-8",
        "X-Hall-Signature": wire.push_signature(forged, hall.push_password),
    }, forged


@pytest.mark.parametrize(
    ("case", "status", "slug", "words"),
    [
        ("wrong password", 401, "invalid-signature", "does not match the body"),
        ("wrong digest", 401, "invalid-signature", "password digest does not match"),
        ("no signature", 401, "invalid-signature", "missing X-Hall-Signature"),
        ("stale", 401, "stale-timestamp", "s off; at most 300 s allowed"),
        ("xml bomb", 400, "invalid-request", "declares a DTD"),
        ("external entity", 400, "invalid-request", "declares a DTD"),
    ],
)
def test_a_refused_push_gets_problem_json_and_publishes_nothing(
    stack, aws, acme, hall, case, status, slug, words
):
    headers, body = hall.sample_push()
    if case == "wrong password":
        headers["X-Hall-Signature"] = wire.push_signature(body, "not-the-password")
    elif case == "wrong digest":
        headers, body = _forged_digest(hall, body)
    elif case == "no signature":
        del headers["X-Hall-Signature"]
    elif case == "stale":
        ten_minutes_ago = _dt.datetime.now(_dt.UTC) - _dt.timedelta(minutes=10)
        headers, body = hall.push_body("FJ000000000000", "ACCEPTED", created=ten_minutes_ago)
    else:
        # signed with the hall's own password: the signature holds, the body is hostile
        body = (
            billion_laughs()
            if case == "xml bomb"
            else external_entity(f"{hall.url}/_sim/xxe-canary")
        )
        headers["X-Hall-Signature"] = wire.push_signature(body, hall.push_password)
    answer = push(stack, headers, body)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"].endswith(slug)
    assert words in answer.json()["detail"]
    assert after_marker(aws, stack) == []
    assert hall.canary_hits == 0


@pytest.mark.parametrize(
    ("reason", "words"),
    [
        ("材料不全\u202e全不料材", "control or bidi-override"),
        ("x" * 200_000, "at most 2000 characters"),
    ],
    ids=["bidi override", "200 KB"],
)
def test_a_signed_push_whose_reason_no_one_could_read_is_422_and_publishes_nothing(
    stack, aws, acme, hall, reason, words
):
    """The same text rules as EMS's op_desc: a signature proves who sent it, not that it
    is a reason a clerk or citizen can be shown."""
    headers, body = hall.push_body("FJ000000000000", "REJECTED", reason)
    answer = push(stack, headers, body)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["field"] == "reason"
    assert words in problem["detail"]
    assert after_marker(aws, stack) == []
