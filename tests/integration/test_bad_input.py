"""Every bad input is refused cleanly: 400/413/415/422 problem+json naming the field, never 5xx.

The corpus goes to every HTTP route template.yaml declares, through the running local
stack, with a department token granted every scope and with a citizen's token.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest
import requests

from govbus_dev.local.template import function_specs, load_template
from tests.conftest import ROOT, wait_for
from tests.integration.conftest import (
    CITIZEN,
    _agency_code,
    archived,
    bearer,
    department_token,
    post_webhook,
)
from tests.integration.test_cases import post

PROBLEM = "application/problem+json"
AGENCY = _agency_code()
ALL_SCOPES = [
    "catalog:write",
    "cases:review",
    "cases:proxy",
    "licences:issue",
    "licences:read",
    "subjects:read",
    "appointments:manage",
    "hotline:intake",
    "hotline:handle",
]


def template_routes() -> list[tuple[str, str]]:
    template = load_template(ROOT / "template.yaml")
    routes = []
    for spec in function_specs(template, ROOT):
        for _name, props in spec.events_of("HttpApi"):
            routes.append((props["Method"].upper(), props["Path"]))
    return sorted(set(routes))


def concrete(path: str) -> str:
    item_code = AGENCY + "ITEM0001"
    return (
        path.replace("{partner}", "ems")
        .replace("{code}", item_code if path.startswith("/catalog") else CITIZEN)
        .replace("{id}", f"missing-{uuid.uuid4().hex[:8]}")
    )


CORPUS: dict[str, bytes] = {
    "truncated": b"{",
    "not json": b"not json",
    "invalid utf-8": b'{"name": "\xff\xfe\xc3\x28"}',
    "10,000 levels": b"[" * 10_000 + b"]" * 10_000,
    "10,000 levels in an object": b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
    "5,000-digit number": b'{"capacity": ' + b"9" * 5_000 + b"}",
    "huge exponent": b'{"amount": 1E+999999}',
    "lone surrogate": b'{"name": "\\ud800"}',
    "300 KB string": json.dumps({"name": "x" * 300_000}).encode(),
    "a list": b"[1, 2, 3]",
    "a string": b'"hello"',
    "null": b"null",
}


def test_the_template_declares_the_routes_the_corpus_covers():
    routes = template_routes()
    assert len(routes) >= 35
    assert ("POST", "/auth/token") in routes and ("POST", "/webhooks/{partner}") in routes


@pytest.fixture
def tokens(stack, citizen_token):
    return {
        "department": department_token(stack, ALL_SCOPES, agency=AGENCY),
        "citizen": citizen_token,
    }


def test_no_route_answers_a_malformed_body_with_a_5xx(stack, tokens):
    routes = template_routes()
    failures = []
    checked = 0
    for method, path in routes:
        url = stack.url + concrete(path)
        for who, token in tokens.items():
            for name, body in CORPUS.items():
                answer = requests.request(
                    method,
                    url,
                    data=body,
                    headers={**bearer(token), "content-type": "application/json"},
                    timeout=30,
                )
                checked += 1
                content_type = answer.headers.get("content-type", "")
                if answer.status_code >= 500:
                    failures.append(f"{method} {path} as {who}, {name}: {answer.status_code}")
                elif answer.status_code >= 400 and not content_type.startswith(PROBLEM):
                    failures.append(f"{method} {path} as {who}, {name}: {content_type}")
    assert checked == len(routes) * len(tokens) * len(CORPUS)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(
    "name, status, field",
    [
        ("truncated", 400, "(body)"),
        ("invalid utf-8", 400, "(body)"),
        ("10,000 levels", 400, "(body)"),
        ("5,000-digit number", 400, None),
        ("lone surrogate", 400, "(body)"),
        ("300 KB string", 413, None),
    ],
)
def test_the_public_token_route_says_what_is_wrong_with_the_body(stack, name, status, field):
    answer = requests.post(
        f"{stack.url}/auth/token",
        data=CORPUS[name],
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == PROBLEM
    problem = answer.json()
    assert problem["status"] == status and problem["detail"]
    if field:
        assert problem["field"] == field


def test_a_json_route_answers_a_form_body_with_415_and_reads_no_field_of_it(stack):
    form = requests.post(
        f"{stack.url}/auth/token",
        data={"client_id": "nobody", "client_secret": "x" * 32},
        timeout=30,
    )
    assert form.status_code == 415, form.text
    assert form.headers["content-type"] == PROBLEM
    assert "application/x-www-form-urlencoded" in form.json()["detail"]
    # the same credentials as JSON are read (and refused for what they are)
    as_json = requests.post(
        f"{stack.url}/auth/token",
        json={"client_id": "nobody", "client_secret": "x" * 32},
        timeout=30,
    )
    assert as_json.status_code == 401, as_json.text


# --- the catalogue: sizes and amounts bounded in the contract ------------------------


def _draft(part: str, **changes) -> dict:
    draft = {
        "name": "Bounded item",
        "agency": AGENCY,
        "agency_name": "Test agency",
        "item_part": part,
        "statutory_days": 20,
        "promised_days": 5,
        "star_level": 4,
        "materials": [{"name": "ID card"}],
        "fees": [{"name": "Fee", "amount": "10.00"}],
    }
    draft.update(changes)
    return draft


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"fees": [{"name": "Fee", "amount": 1e30}]}, "fees.0.amount"),
        ({"fees": [{"name": "Fee", "amount": "1E+30"}]}, "fees.0.amount"),
        ({"fees": [{"name": "Fee", "amount": "0.001"}]}, "fees.0.amount"),
        ({"materials": [{"name": f"m{i}"} for i in range(101)]}, "materials"),
        ({"name": "Bounded \u202eitem"}, "name"),
        ({"guide": "x" * 20_001}, "guide"),
    ],
)
def test_a_catalogue_item_out_of_bounds_is_422_naming_the_field(stack, tokens, changes, field):
    answer = post(stack, tokens["department"], "/catalog/items", _draft("BND1", **changes))
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == PROBLEM
    assert answer.json()["field"] == field


def test_a_catalogue_item_with_20000_materials_is_too_large(stack, tokens):
    materials = [{"name": f"material {i}"} for i in range(20_000)]
    answer = post(
        stack, tokens["department"], "/catalog/items", _draft("BND2", materials=materials)
    )
    assert answer.status_code == 413, answer.text
    assert answer.headers["content-type"] == PROBLEM


def test_an_ems_delivery_street_of_300_kb_is_refused(stack, citizen_token):
    def apply_with_street(street: str):
        application = {
            "item_code": AGENCY + "ITEM0001",
            "applicant_name": "林小姐",
            "delivery": {"method": "ems", "street": street},
        }
        return post(stack, citizen_token, "/applications", application)

    answer = apply_with_street("五" * 100_000)
    assert answer.status_code == 413, answer.text
    assert answer.headers["content-type"] == PROBLEM
    bounded = apply_with_street("五" * 1_000)
    assert bounded.status_code == 422, bounded.text
    assert bounded.json()["field"] == "delivery.street"


# --- appointments: a slot never shrinks below its bookings ----------------------------


def test_shrinking_a_slot_below_its_bookings_is_409_and_changes_nothing(stack, ca):
    from tests.integration.conftest import login
    from tests.integration.test_appointments_and_hotline import ITEM, TOMORROW

    stack.seed()
    manager = department_token(stack, ["appointments:manage"], agency=ITEM[:18])
    slots = {"hall": "gulou-hall", "item_code": ITEM, "day": TOMORROW.isoformat()}
    opened = post(
        stack, manager, "/appointments/slots", {**slots, "times": ["09:00"], "capacity": 3}
    )
    assert opened.status_code == 201, opened.text
    for citizen in ("350102199003071234", "11010519491231002X"):
        answer = login(stack, ca.issue(citizen, "someone"))
        assert answer.status_code == 200, answer.text
        booked = post(
            stack, answer.json()["access_token"], "/appointments", {**slots, "time": "09:00"}
        )
        assert booked.status_code == 201, booked.text

    shrink = post(
        stack, manager, "/appointments/slots", {**slots, "times": ["09:00"], "capacity": 1}
    )
    assert shrink.status_code == 409, shrink.text
    assert shrink.headers["content-type"] == PROBLEM
    assert "2 booking(s)" in shrink.json()["detail"]
    listed = requests.get(
        f"{stack.url}/appointments/slots",
        params={"hall": "gulou-hall", "day": TOMORROW.isoformat()},
        timeout=10,
    ).json()["slots"]
    assert [(s["time"], s["capacity"], s["booked"]) for s in listed] == [("09:00", 3, 2)]


def test_slots_are_not_opened_for_a_day_in_the_past(stack):
    from tests.integration.test_appointments_and_hotline import ITEM

    manager = department_token(stack, ["appointments:manage"], agency=ITEM[:18])
    answer = post(
        stack,
        manager,
        "/appointments/slots",
        {
            "hall": "gulou-hall",
            "item_code": ITEM,
            "day": "2020-01-01",
            "times": ["09:00"],
            "capacity": 3,
        },
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == "day"


# --- webhooks: ids bounded at the edge ------------------------------------------------


def _ems_push(ems, **fields) -> tuple[dict, bytes]:
    from adapters.ems import wire

    doc = {
        "push_id": uuid.uuid4().hex,
        "push_time": int(time.time()),
        "mail_no": "1100000000000",
        "logistics_order_no": "CASE-SAMPLE",
        "op_code": "10",
        "op_time": "2026-01-01T10:00:00+08:00",
    }
    doc.update(fields)
    body = json.dumps(doc).encode()
    return {
        "content-type": "application/json",
        "X-Signature": wire.sign(body, ems.push_secret),
    }, body


@pytest.mark.parametrize("push_id", ["", None, ["a"], {"a": 1}, "x" * 3_000, "a b"])
def test_a_signed_push_with_an_unusable_delivery_id_is_400_naming_it(stack, aws, ems, push_id):
    headers, body = _ems_push(ems, push_id=push_id)
    answer = requests.post(f"{stack.url}/webhooks/ems", data=body, headers=headers, timeout=10)
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == PROBLEM
    assert answer.json()["field"] == "push_id"


def test_a_signed_ems_push_breaking_the_contract_is_422_naming_emss_own_field(stack, ems):
    headers, body = _ems_push(ems, op_desc="x" * 2_001)
    answer = requests.post(f"{stack.url}/webhooks/ems", data=body, headers=headers, timeout=10)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == PROBLEM
    problem = answer.json()
    assert problem["field"] == "op_desc", problem  # what EMS sent, not the contract's `note`
    assert problem["detail"].startswith("op_desc: ")


def test_a_signed_push_nested_10000_deep_is_400(stack, acme):
    body = b'{"note": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    answer = post_webhook(stack.url, body)
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == PROBLEM


def test_an_overlong_webhook_id_is_400_not_dead_lettered(stack, acme):
    answer = post_webhook(stack.url, b'{"note": "x"}', msg_id="m" * 3_000)
    assert answer.status_code == 400, answer.text
    assert answer.json()["field"] == "delivery id"


@pytest.mark.parametrize(
    "header",
    ["c" * 3_000, "two words", "350102199003071234"],
    ids=["3000 characters", "a space", "a citizen ID"],
)
def test_an_unusable_correlation_header_is_replaced_and_the_event_is_archived(
    stack, aws, acme, header
):
    answer = post_webhook(
        stack.url, b'{"note": "bounded"}', msg_id="msg_corr", headers={"X-Correlation-Id": header}
    )
    assert answer.status_code == 202, answer.text
    items = wait_for(lambda: archived(aws, stack), what="the archived event")
    assert len(items) == 1
    assert items[0]["correlationid"]["S"] == "msg_corr"
    assert header not in items[0]["envelope"]["S"]


def test_the_event_log_masks_a_correlation_id_shaped_like_an_identity_code(stack, aws):
    from contracts.events import Event
    from tests.integration.conftest import put_event

    code = "9135" + "0100MA2Y0AB1" + "CB"
    event = Event.create(
        "platform.heartbeat", {"emitted_by": "test"}, source="govbus.test", correlation_id=code
    )
    put_event(aws, stack, event)
    items = wait_for(lambda: archived(aws, stack), what="the archived event")
    assert items[0]["correlationid"]["S"] == "9135**********B1CB"


def test_a_signed_push_whose_event_would_exceed_eventbridges_limit_is_413(stack, aws, acme):
    answer = post_webhook(stack.url, json.dumps({"note": "n" * 230_000}).encode())
    assert answer.status_code == 413, answer.text
    assert answer.headers["content-type"] == PROBLEM
    # nothing was accepted: a marker published after it is the only archived event
    marker = post_webhook(stack.url, b'{"note": "marker"}')
    assert marker.status_code == 202, marker.text
    items = wait_for(lambda: archived(aws, stack), what="the marker archived")
    assert [json.loads(i["envelope"]["S"])["data"]["note"] for i in items] == ["marker"]


@pytest.mark.parametrize(
    "field, value",
    [("client_id", "abc\u0000def"), ("client_secret", "12345678\u202e")],
    ids=["nul-in-id", "bidi-override-in-secret"],
)
def test_control_characters_in_client_credentials_are_422_naming_the_field(stack, field, value):
    body = {"client_id": "dept-abcdef", "client_secret": "a-long-secret", field: value}
    answer = requests.post(f"{stack.url}/auth/token", json=body, timeout=30)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == PROBLEM
    assert answer.json()["field"] == field


# --- free text: control and bidi-override characters are refused, not stored and echoed --


@pytest.mark.parametrize("name", ["林\u202e小姐", "林\u0000"], ids=["bidi-override", "nul"])
def test_an_applicant_name_with_a_control_character_is_422_naming_it(stack, citizen_token, name):
    answer = requests.post(
        f"{stack.url}/applications",
        json={"item_code": AGENCY + "ITEM0001", "applicant_name": name},
        headers=bearer(citizen_token),
        timeout=30,
    )
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == PROBLEM
    assert answer.json()["field"] == "applicant_name"
    assert "control or bidi-override" in answer.json()["detail"]


def test_a_subscription_description_with_a_control_character_is_422_naming_it(stack):
    token = department_token(stack, ["subscriptions:manage"], agency=AGENCY)
    answer = requests.post(
        f"{stack.url}/subscriptions",
        headers=bearer(token),
        json={
            "url": "http://127.0.0.1:9/hook",
            "event_types": ["case.*"],
            "description": "a\u0007b",
        },
        timeout=30,
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == "description"
    listed = requests.get(f"{stack.url}/subscriptions", headers=bearer(token), timeout=30)
    assert listed.status_code == 200 and listed.json()["subscriptions"] == [], "none stored"
