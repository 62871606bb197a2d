"""Cases that go to the provincial hall and come back, over the local stack.

A citizen applies for a province-level item; the city department accepts it and approves
its part (初审); the case is forwarded through the dispatcher to the hall simulator and
waits ``at_province``; the province's decision (pushed, duplicated, out of order, or
only polled) moves it on once per change: approved -> the province's licence recorded
and delivery as usual; rejected -> the reason shown and the case closed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import time

import pytest
import requests

from adapters.province.simulator import HallFaults
from contracts.licences import check_licence_id
from govbus.circuit import CircuitBreaker
from govbus.dlq import peek, resolve_queue
from govbus.stores.shipments import ShipmentStore
from govbus_dev.cli import main as govbus
from govbus_dev.seed.data import PROVINCE_DRUG_WHOLESALE
from tests.conftest import wait_for
from tests.integration.conftest import CITIZEN, bearer, department_token, login, queue_drained

MARKET = "11350100MB00000012"  # 福州市市场监督管理局 in the seed data
DRUG_WHOLESALE = MARKET + "XK0006"  # province-level: 福建省药品监督管理局 decides
EMS_TO_HOME = {
    "method": "ems",
    "name": "林小姐",
    "phone": "13812345678",
    "province": "福建省",
    "city": "福州市",
    "district": "台江区",
    "street": "五一中路88号",
}


@pytest.fixture
def hall(stack):
    simulator = stack.simulators["province"]
    simulator.set_faults(HallFaults())
    simulator.pushes_enabled = True
    hang = simulator.hang_seconds
    yield simulator
    simulator.set_faults(HallFaults())
    simulator.pushes_enabled = True
    simulator.hang_seconds = hang


@pytest.fixture
def citizen(stack, ca):
    stack.seed()
    answer = login(stack, ca.issue(CITIZEN, "林小姐"))
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


@pytest.fixture
def clerk(stack, citizen):
    return department_token(stack, ["cases:review", "catalog:write"], agency=MARKET)


def post(stack, token, path, body=None):
    return requests.post(f"{stack.url}{path}", json=body or {}, headers=bearer(token), timeout=20)


def case_of(stack, token, case_id):
    answer = requests.get(f"{stack.url}/applications/{case_id}", headers=bearer(token), timeout=20)
    assert answer.status_code == 200, answer.text
    return answer.json()


def approved_by_the_city(stack, citizen, clerk, delivery=None) -> dict:
    """Apply for the province-level item, upload, submit, accept, approve the city's part."""
    created = post(
        stack,
        citizen,
        "/applications",
        {
            "item_code": DRUG_WHOLESALE,
            "applicant_name": "林小姐",
            "delivery": delivery or {"method": "collect"},
        },
    )
    assert created.status_code == 201, created.text
    case = created.json()
    assert case["level"] == "province"
    for form in case["uploads"]:
        answer = requests.post(
            form["url"],
            data={**form["fields"], "Content-Type": "application/pdf"},
            files={"file": ("material.pdf", b"%PDF-1.7 wholesale", "application/pdf")},
            timeout=20,
        )
        assert answer.status_code in (200, 204), answer.text
    submitted = post(stack, citizen, f"/applications/{case['id']}/submit")
    assert submitted.json()["state"] == "pre_reviewed", submitted.text
    accepted = post(stack, clerk, f"/applications/{case['id']}/actions", {"action": "accept"})
    assert accepted.status_code == 200, accepted.text
    approved = post(stack, clerk, f"/applications/{case['id']}/actions", {"action": "approve"})
    assert approved.status_code == 200, approved.text
    assert approved.json()["state"] == "at_province"
    return approved.json()


def received_at_the_hall(stack, citizen, case_id) -> dict:
    return wait_for(
        lambda: (c := case_of(stack, citizen, case_id))["province_case_no"] and c,
        timeout=30,
        what="the hall's receipt recorded on the case",
    )


def push(stack, headers, body) -> int:
    answer = requests.post(f"{stack.url}/webhooks/province", data=body, headers=headers, timeout=10)
    return answer.status_code


def fire(stack, logical_id: str, when: dt.datetime | None = None):
    schedule = next(s for s in stack.schedules if s.function.logical_id == logical_id)
    return schedule.fire(when)


def actions(case: dict) -> list[str]:
    return [e["action"] for e in case["timeline"]]


def test_a_province_level_case_is_forwarded_decided_there_and_delivered_each_change_once(
    stack, aws, ems, hall, citizen, clerk
):
    case = approved_by_the_city(stack, citizen, clerk, delivery=EMS_TO_HOME)
    received = received_at_the_hall(stack, citizen, case["id"])
    case_no = received["province_case_no"]
    assert received["state"] == "at_province"
    at_hall = hall.cases[case_no]
    assert at_hall["city_case_id"] == case["id"]
    assert at_hall["item_code"] == PROVINCE_DRUG_WHOLESALE  # forwarded under the province's code
    assert at_hall["materials"] == 3  # every material, as references
    # an upload's reference names the S3 version pre-review pinned: the hall fetches the
    # bytes the city checked, not whatever was posted under the key since
    pinned = {
        m["object_key"]: m["version_id"]
        for m in case_of(stack, citizen, case["id"])["materials"]
        if m.get("object_key")
    }
    assert pinned and all(pinned.values()), pinned
    assert {f"{key}?versionId={version}" for key, version in pinned.items()} <= set(
        at_hall["material_references"]
    ), at_hall["material_references"]
    assert received["province_due"], "the province's time limit runs from its receipt"

    # the hall accepts and approves, pushing every change twice and in shuffled order
    hall.set_faults(HallFaults(duplicate_pushes=True, out_of_order=True))
    assert hall.advance(case_no, "APPROVED") == [202, 202, 202, 202]
    # and an acceptance that arrives late, after the decision (a new message: not a replay)
    late_headers, late_body = hall.push_body(
        case_no, "ACCEPTED", occurred_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    )
    assert push(stack, late_headers, late_body) == 202

    licence = at_hall["licence_id"]
    assert check_licence_id(licence) == licence  # the national style, its check character holds
    issued = wait_for(
        lambda: (c := case_of(stack, citizen, case["id"]))["state"] == "licence_issued" and c,
        timeout=30,
        what="the province's approval to issue the result",
    )
    assert issued["licence_id"] == licence
    assert issued["province_status"] == "approved"

    # delivery as usual: the EMS waybill, then delivered, then closed
    store = ShipmentStore(stack.resolver.refs["ShipmentsTable"])
    waybill = wait_for(
        lambda: (s := store.get(case["id"])) and s.get("waybill_no"),
        what="the EMS waybill for the province's result",
    )
    ems.advance(waybill)
    closed = wait_for(
        lambda: (c := case_of(stack, citizen, case["id"]))["state"] == "closed" and c,
        timeout=30,
        what="the case to close on delivery",
    )
    # every province event (the late one included) has been taken off the queue
    wait_for(lambda: queue_drained(aws, stack, "CaseEventsQueue"), what="case events drained")
    closed = case_of(stack, citizen, case["id"])
    assert actions(closed) == [
        "create",
        "submit",
        "pre_review_pass",
        "accept",
        "approve",
        "province_receive",
        "province_accept",
        "province_approve",
        "licence_issued",
        "delivered",
        "close",
    ]
    approve = closed["timeline"][4]
    assert (approve["from_state"], approve["to_state"]) == ("accepted", "at_province")
    assert licence in closed["timeline"][7]["note"]
    # push and poll together: a poll now finds nothing the pushes had not brought
    assert fire(stack, "ProvinceSyncFunction")["changes"] == 0


def test_a_rejection_at_the_province_closes_the_case_with_the_reason(stack, hall, citizen, clerk):
    case = approved_by_the_city(stack, citizen, clerk)
    case_no = received_at_the_hall(stack, citizen, case["id"])["province_case_no"]
    # the hall repeats its acceptance as new messages (not replays): applied once
    for _ in range(2):
        assert push(stack, *hall.push_body(case_no, "ACCEPTED")) == 202
    wait_for(
        lambda: "province_accept" in actions(case_of(stack, citizen, case["id"])),
        what="the acceptance on the timeline",
    )
    reason = "仓储条件不符合药品经营质量管理规范 storage does not meet GSP"
    hall.decide(case_no, "REJECTED", reason)
    assert hall.advance(case_no, "REJECTED", reason) == [202, 202]

    closed = wait_for(
        lambda: (c := case_of(stack, citizen, case["id"]))["state"] == "closed" and c,
        timeout=30,
        what="the rejected case to close",
    )
    assert closed["reason"] == reason
    assert actions(closed)[-4:] == [
        "province_receive",
        "province_accept",
        "province_reject",
        "close",
    ]
    assert closed["timeline"][-2]["note"] == reason
    assert closed["licence_id"] is None


def test_a_push_for_another_hall_case_or_with_a_broken_licence_id_changes_nothing(
    stack, aws, hall, citizen, clerk
):
    case = approved_by_the_city(stack, citizen, clerk)
    case_no = received_at_the_hall(stack, citizen, case["id"])["province_case_no"]
    good = hall._licence_id(case_no)
    broken = good[:-1] + ("A" if good[-1] != "A" else "B")  # the check character does not hold
    # correctly signed, naming this city case: another hall case's approval, and this
    # case's approval with a licence id whose check character fails
    for pushed_no, licence in (("FJ209999999999", good), (case_no, broken)):
        headers, body = hall.push_body(
            pushed_no, "APPROVED", licence_id=licence, city_case_id=case["id"]
        )
        assert push(stack, headers, body) == 202  # acknowledged: the hall does not retry
        wait_for(lambda: queue_drained(aws, stack, "CaseEventsQueue"), what="case events drained")
        left = case_of(stack, citizen, case["id"])
        assert left["state"] == "at_province", pushed_no
        assert left["province_case_no"] == case_no
        assert left["province_status"] == "received"
        assert left["licence_id"] is None
        assert actions(left)[-1] == "province_receive"

    # the hall's own approval still moves the case on
    assert hall.advance(case_no, "APPROVED") == [202, 202]
    issued = wait_for(
        lambda: (c := case_of(stack, citizen, case["id"]))["state"] == "licence_issued" and c,
        timeout=30,
        what="the hall's own approval to issue the result",
    )
    assert issued["licence_id"] == hall.cases[case_no]["licence_id"] == good


def test_the_city_cannot_approve_a_province_level_case_alone_nor_forward_a_city_one(
    stack, hall, citizen, clerk
):
    case = approved_by_the_city(stack, citizen, clerk)
    again = post(stack, clerk, f"/applications/{case['id']}/actions", {"action": "approve"})
    assert again.status_code == 409
    assert "at province" in again.json()["detail"]
    forward = post(stack, clerk, f"/applications/{case['id']}/actions", {"action": "forward"})
    assert forward.status_code == 422
    assert "action is one of" in forward.json()["detail"]


def test_polling_alone_moves_a_case_when_the_hall_pushes_nothing(stack, aws, hall, citizen, clerk):
    case = approved_by_the_city(stack, citizen, clerk)
    received = received_at_the_hall(stack, citizen, case["id"])
    case_no = received["province_case_no"]
    hall.pushes_enabled = False
    assert hall.advance(case_no, "ACCEPTED") == []
    assert fire(stack, "ProvinceSyncFunction")["changes"] == 1
    wait_for(
        lambda: "province_accept" in actions(case_of(stack, citizen, case["id"])),
        what="the polled acceptance on the timeline",
    )
    assert hall.advance(case_no, "APPROVED") == []
    assert fire(stack, "ProvinceSyncFunction")["changes"] == 1
    done = wait_for(
        lambda: (c := case_of(stack, citizen, case["id"]))["state"] == "licence_issued" and c,
        what="the polled approval to issue the result",
    )
    assert done["licence_id"] == hall.cases[case_no]["licence_id"]
    assert fire(stack, "ProvinceSyncFunction")["changes"] == 0, "nothing new: nothing sent"
    assert actions(done).count("province_accept") == 1
    assert actions(done).count("province_approve") == 1


def test_supervision_watches_a_case_at_the_province_against_the_provinces_time_limit(
    stack, hall, citizen, clerk
):
    case = approved_by_the_city(stack, citizen, clerk)
    received = received_at_the_hall(stack, citizen, case["id"])
    due = dt.date.fromisoformat(received["province_due"])
    assert due > dt.date.today() + dt.timedelta(days=15)  # 15 working days at the province
    on_time = dt.datetime.combine(due, dt.time(9), tzinfo=dt.UTC)
    assert fire(stack, "SupervisionFunction", on_time)["overdue_cases"] == 0
    late = on_time + dt.timedelta(days=1)
    assert fire(stack, "SupervisionFunction", late)["overdue_cases"] == 1
    assert fire(stack, "SupervisionFunction", late)["overdue_cases"] == 0, "flagged once"
    flagged = case_of(stack, citizen, case["id"])
    assert flagged["province_overdue"] is True and flagged["state"] == "at_province"


def test_withdrawing_a_case_at_the_province_withdraws_it_there(stack, hall, citizen, clerk):
    case = approved_by_the_city(stack, citizen, clerk)
    case_no = received_at_the_hall(stack, citizen, case["id"])["province_case_no"]
    withdrawn = post(stack, citizen, f"/applications/{case['id']}/withdraw")
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["state"] == "withdrawn"  # the city does not wait for the hall
    wait_for(
        lambda: hall.cases[case_no]["status"] == "WITHDRAWN",
        timeout=30,
        what="the case withdrawn at the hall",
    )
    confirmed = wait_for(
        lambda: (c := case_of(stack, citizen, case["id"]))["province_status"] == "withdrawn" and c,
        what="the hall's confirmation recorded",
    )
    assert confirmed["state"] == "withdrawn"


def test_a_forward_that_times_out_is_retried_dead_lettered_and_a_redrive_completes_it(
    stack, aws, hall, citizen, clerk, capsys
):
    hall.hang_seconds = 7.0  # longer than the dispatcher's 5 s partner timeout
    hall.set_faults(HallFaults(timeout_rate=1.0))
    case = approved_by_the_city(stack, citizen, clerk)
    letters = wait_for(
        lambda: peek(resolve_queue("dispatch-dlq")),
        timeout=90,
        what="the forward in the DLQ",
    )
    assert len(letters) == 1
    assert letters[0].event_type == "province.forward_requested"
    assert "PartnerTimeout" in letters[0].reason or "CircuitOpen" in letters[0].reason
    assert case_of(stack, citizen, case["id"])["province_case_no"] is None
    capsys.readouterr()

    hall.set_faults(HallFaults())
    breaker = CircuitBreaker(stack.resolver.refs["CircuitTable"])
    wait_for(
        lambda: time.time() > float(breaker.state("province").get("open_until") or 0),
        what="the circuit's cool-down to pass",
    )
    assert govbus(["dlq", "redrive", "dispatch-dlq", "--stack", stack.stack_name]) == 0
    assert "redrove 1 message(s)" in capsys.readouterr().out
    received = received_at_the_hall(stack, citizen, case["id"])
    # the hall answers a repeated submission with the same case: forwarded once
    assert [n for n, c in hall.cases.items() if c["city_case_id"] == case["id"]] == [
        received["province_case_no"]
    ]


def test_align_reports_city_items_that_disagree_with_the_provinces_catalogue(
    stack, hall, citizen, clerk
):
    travel = {
        "name": "旅行社业务经营许可",
        "agency": MARKET,
        "agency_name": "福州市市场监督管理局",
        "item_part": "XK0007",
        "statutory_days": 30,  # the province says 20
        "promised_days": 20,
        "star_level": 3,
        "level": "province",
        "province_code": "11350000MB01940038000205",
    }
    created = post(stack, clerk, "/catalog/items", travel)
    assert created.status_code == 201, created.text
    published = post(
        stack, clerk, f"/catalog/items/{created.json()['code']}/publish", {"version": 1}
    )
    assert published.status_code == 200, published.text

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert govbus(["province", "align", "--stack", stack.stack_name]) == 0
    printed = out.getvalue()
    assert "compared 3 province-level item(s) with 3 item(s) of the provincial hall" in printed
    (line,) = [ln for ln in printed.splitlines() if MARKET + "XK0007" in ln]
    assert "time_limit" in line and "city 30" in line and "province 20" in line
    assert "XK0504" not in printed and "XK0006" not in printed, "the seeded items agree"
    # the command's log lines are not part of the report: they go to stderr, never between
    # its rows (the stack's functions run in this process too: theirs carry a request id)
    assert not [
        ln for ln in printed.splitlines() if ln.startswith("{") and "function_request_id" not in ln
    ], printed

    report = fire(stack, "ProvinceAlignFunction")
    assert [(d["item_code"], d["field"]) for d in report["disagreements"]] == [
        (MARKET + "XK0007", "time_limit")
    ]
