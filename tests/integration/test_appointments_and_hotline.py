"""Appointments without overbooking, 12345 tickets with deadlines and escalation, and the
supervision run that flags overdue cases and reminds tomorrow's appointments."""

import datetime as dt
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from contracts.identity import citizen_id_check_char
from govbus import settings
from govbus.stores import appointments
from tests.conftest import wait_for
from tests.integration.conftest import CITIZEN, bearer, department_token, login

MARKET = "11350100MB00000012"
ITEM = MARKET + "XK0001"
TOMORROW = dt.date.today() + dt.timedelta(days=1)


def citizen_ids(n):
    for i in range(n):
        first17 = f"35010219900307{100 + i:03d}"
        yield first17 + citizen_id_check_char(first17)


@pytest.fixture
def seeded(stack):
    return stack.seed()


def open_slot(stack, capacity=10, day=TOMORROW):
    manager = department_token(stack, ["appointments:manage"], agency=MARKET)
    answer = requests.post(
        f"{stack.url}/appointments/slots",
        headers=bearer(manager),
        json={
            "hall": "gulou-hall",
            "item_code": ITEM,
            "day": day.isoformat(),
            "times": ["09:00"],
            "capacity": capacity,
        },
        timeout=10,
    )
    assert answer.status_code == 201, answer.text


def test_fifty_parallel_bookings_for_ten_places_exactly_ten_succeed(stack, ca, seeded):
    open_slot(stack, capacity=10)
    tokens = [
        login(stack, ca.issue(code, "市民")).json()["access_token"] for code in citizen_ids(50)
    ]
    booking = {
        "hall": "gulou-hall",
        "item_code": ITEM,
        "day": TOMORROW.isoformat(),
        "time": "09:00",
    }

    def book(token):
        return requests.post(
            f"{stack.url}/appointments", json=booking, headers=bearer(token), timeout=30
        ).status_code

    with ThreadPoolExecutor(max_workers=25) as pool:
        statuses = list(pool.map(book, tokens))
    assert statuses.count(201) == 10 and statuses.count(409) == 40, statuses
    slots = requests.get(
        f"{stack.url}/appointments/slots",
        params={"hall": "gulou-hall", "day": TOMORROW.isoformat()},
        timeout=10,
    ).json()["slots"]
    assert slots[0]["booked"] == 10 and slots[0]["free"] == 0


def test_the_store_itself_never_overbooks_under_a_real_race(stack, seeded):
    """Fifty threads straight at DynamoDB, all released at once by a barrier."""
    open_slot(stack, capacity=10)
    env = stack.functions["AppointmentsFunction"].environment
    barrier = threading.Barrier(50)
    outcomes = []

    def book(i):
        barrier.wait()
        try:
            appointments.book(f"key-{i}", f"code-{i}", "gulou-hall", ITEM, TOMORROW, "09:00")
            outcomes.append("booked")
        except Exception as exc:  # Conflict: fully booked
            outcomes.append(type(exc).__name__)

    # the store reads its table names from the settings: point this process at the function's
    tables = {
        "appointments_slots": env["SLOTS_TABLE"],
        "appointments_bookings": env["BOOKINGS_TABLE"],
    }
    with settings.override(**tables):
        threads = [threading.Thread(target=book, args=(i,)) for i in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert outcomes.count("booked") == 10 and outcomes.count("Conflict") == 40


def test_booking_twice_is_refused_and_cancelling_frees_the_place(stack, ca, seeded):
    open_slot(stack, capacity=1)
    token = login(stack, ca.issue(CITIZEN, "林小姐")).json()["access_token"]
    body = {"hall": "gulou-hall", "item_code": ITEM, "day": TOMORROW.isoformat(), "time": "09:00"}
    first = requests.post(f"{stack.url}/appointments", json=body, headers=bearer(token), timeout=10)
    assert first.status_code == 201
    again = requests.post(f"{stack.url}/appointments", json=body, headers=bearer(token), timeout=10)
    assert again.status_code == 409
    gone = requests.delete(
        f"{stack.url}/appointments/{first.json()['id']}", headers=bearer(token), timeout=10
    )
    assert gone.status_code == 200 and gone.json()["status"] == "cancelled"
    slots = requests.get(
        f"{stack.url}/appointments/slots",
        params={"hall": "gulou-hall", "day": TOMORROW.isoformat()},
        timeout=10,
    ).json()["slots"]
    assert slots[0]["free"] == 1


def fire_supervision(stack, when: dt.datetime):
    schedule = next(s for s in stack.schedules if s.function.logical_id == "SupervisionFunction")
    return schedule.fire(when)


def test_an_overdue_ticket_escalates_and_the_caller_sees_the_handling(stack, ca, seeded):
    token = login(stack, ca.issue(CITIZEN, "林小姐")).json()["access_token"]
    filed = requests.post(
        f"{stack.url}/hotline/tickets",
        headers=bearer(token),
        json={
            "kind": "complaint",
            "category": "delay",
            "title": "办件超期未办结",
            "details": "食品经营许可证申请超过承诺时限仍未审批",
            "agency": MARKET,
        },
        timeout=10,
    )
    assert filed.status_code == 201, filed.text
    ticket = filed.json()
    deadline = dt.date.fromisoformat(ticket["deadline"])
    assert deadline > dt.date.today()
    # the day after the deadline the supervision run escalates it, once
    late = dt.datetime.combine(deadline + dt.timedelta(days=1), dt.time(9), tzinfo=dt.UTC)
    assert fire_supervision(stack, late)["escalated_tickets"] == 1
    assert fire_supervision(stack, late)["escalated_tickets"] == 0
    mine = requests.get(
        f"{stack.url}/hotline/tickets/{ticket['id']}", headers=bearer(token), timeout=10
    ).json()
    assert mine["status"] == "escalated" and "效能办" in mine["escalated_to"]
    assert [h["by"] for h in mine["handling"]] == ["12345", "supervision"]
    # the agency still answers; the caller sees the answer
    handler = department_token(stack, ["hotline:handle"], agency=MARKET)
    answered = requests.post(
        f"{stack.url}/hotline/tickets/{ticket['id']}/answer",
        headers=bearer(handler),
        json={"answer": "已督促审批，今日办结"},
        timeout=10,
    )
    assert answered.status_code == 200
    seen = requests.get(
        f"{stack.url}/hotline/tickets?mine=true", headers=bearer(token), timeout=10
    ).json()["tickets"][0]
    assert seen["status"] == "answered" and seen["answer"] == "已督促审批，今日办结"


@pytest.mark.parametrize(
    ("agency", "holds"),
    [
        ("11350100MB0000008P", None),  # a valid check character, no such department here
        ("11350100MB0000009T", ["cases:review"]),  # on the platform, but no one answers 12345
    ],
    ids=["no department", "no hotline handler"],
)
def test_a_ticket_for_an_agency_no_one_on_the_platform_can_answer_is_422(
    stack, ca, seeded, agency, holds
):
    if holds:
        department_token(stack, holds, agency=agency)
    token = login(stack, ca.issue(CITIZEN, "林小姐")).json()["access_token"]
    filed = requests.post(
        f"{stack.url}/hotline/tickets",
        headers=bearer(token),
        json={"kind": "consultation", "title": "咨询", "details": "请告知", "agency": agency},
        timeout=10,
    )
    assert filed.status_code == 422, filed.text
    problem = filed.json()
    assert problem["field"] == "agency"
    assert f"agency {agency}: no department of that code is on the platform" in problem["detail"]
    mine = requests.get(
        f"{stack.url}/hotline/tickets", headers=bearer(token), params={"mine": "true"}, timeout=10
    )
    assert mine.status_code == 200 and mine.json()["tickets"] == []


def test_an_answer_in_time_is_not_escalated_and_only_the_assigned_agency_answers(stack, ca, seeded):
    token = login(stack, ca.issue(CITIZEN, "林小姐")).json()["access_token"]
    ticket = requests.post(
        f"{stack.url}/hotline/tickets",
        headers=bearer(token),
        json={
            "kind": "consultation",
            "title": "咨询",
            "details": "个体户如何办理食品经营许可？",
            "agency": MARKET,
        },
        timeout=10,
    ).json()
    other = department_token(stack, ["hotline:handle"], agency="11350100MB00000025")
    assert (
        requests.post(
            f"{stack.url}/hotline/tickets/{ticket['id']}/answer",
            headers=bearer(other),
            json={"answer": "不归我们管"},
            timeout=10,
        ).status_code
        == 404  # another agency learns nothing of the ticket
    )
    mine = department_token(stack, ["hotline:handle"], agency=MARKET)
    requests.post(
        f"{stack.url}/hotline/tickets/{ticket['id']}/answer",
        headers=bearer(mine),
        json={"answer": "可网上申请，全程网办"},
        timeout=10,
    )
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    assert fire_supervision(stack, later)["escalated_tickets"] == 0


def test_supervision_flags_overdue_cases_and_reminds_tomorrows_appointments(stack, aws, ca, seeded):
    token = login(stack, ca.issue(CITIZEN, "林小姐")).json()["access_token"]
    created = requests.post(
        f"{stack.url}/applications",
        headers=bearer(token),
        json={"item_code": ITEM, "applicant_name": "林小姐"},
        timeout=10,
    ).json()
    form = created["uploads"][0]
    requests.post(
        form["url"],
        data={**form["fields"], "Content-Type": "application/pdf"},
        files={"file": ("a.pdf", b"%PDF", "application/pdf")},
        timeout=10,
    )
    requests.post(
        f"{stack.url}/applications/{created['id']}/submit", headers=bearer(token), timeout=10
    )
    clerk = department_token(stack, ["cases:review"], agency=MARKET)
    due = requests.post(
        f"{stack.url}/applications/{created['id']}/actions",
        headers=bearer(clerk),
        json={"action": "accept"},
        timeout=10,
    ).json()["due"]
    open_slot(stack, capacity=5)
    requests.post(
        f"{stack.url}/appointments",
        headers=bearer(token),
        json={
            "hall": "gulou-hall",
            "item_code": ITEM,
            "day": TOMORROW.isoformat(),
            "time": "09:00",
        },
        timeout=10,
    )

    today = fire_supervision(stack, dt.datetime.now(dt.UTC))
    assert today == {"overdue_cases": 0, "escalated_tickets": 0, "reminders": 1}
    late = dt.datetime.combine(
        dt.date.fromisoformat(due) + dt.timedelta(days=1), dt.time(9), tzinfo=dt.UTC
    )
    assert fire_supervision(stack, late)["overdue_cases"] == 1
    case = requests.get(
        f"{stack.url}/applications/{created['id']}", headers=bearer(token), timeout=10
    ).json()
    assert case["overdue"] is True

    def archived_types():
        items = aws["dynamodb"].scan(TableName="govbus-local-eventlog")["Items"]
        return {json.loads(i["envelope"]["S"])["type"] for i in items}

    wait_for(
        lambda: {"case.overdue", "appointment.reminder"} <= archived_types(),
        what="the overdue and reminder events on the bus",
    )


def test_a_department_lists_the_tickets_assigned_to_it_and_hears_of_each_new_one(
    stack, aws, ca, seeded
):
    """12345 派单: the assigned agency sees its tickets (nearest deadline first) and gets
    a hotline.filed event for each; another agency sees none of them."""
    token = login(stack, ca.issue(CITIZEN, "林小姐")).json()["access_token"]
    filed = []
    for kind, title in (("complaint", "窗口态度差"), ("consultation", "营业执照怎么办")):
        answer = requests.post(
            f"{stack.url}/hotline/tickets",
            headers=bearer(token),
            json={"kind": kind, "title": title, "details": "请处理", "agency": MARKET},
            timeout=10,
        )
        assert answer.status_code == 201, answer.text
        filed.append(answer.json())
    handler = department_token(stack, ["hotline:handle"], agency=MARKET)

    def listing(headers, **query):
        return requests.get(
            f"{stack.url}/hotline/tickets", headers=headers, params=query, timeout=10
        )

    mine = listing(bearer(handler)).json()["tickets"]
    ids = [t["id"] for t in mine]
    assert {t["id"] for t in filed} <= set(ids)
    assert all(t["agency"] == MARKET for t in mine)
    deadlines = [t["deadline"] for t in mine]
    assert deadlines == sorted(deadlines), "the nearest deadline first"

    requests.post(
        f"{stack.url}/hotline/tickets/{filed[1]['id']}/answer",
        headers=bearer(handler),
        json={"answer": "可网上申请"},
        timeout=10,
    )
    still_open = {t["id"] for t in listing(bearer(handler), status="open").json()["tickets"]}
    assert filed[0]["id"] in still_open and filed[1]["id"] not in still_open
    refused = listing(bearer(handler), status="lost")
    assert refused.status_code == 422 and "open, answered" in refused.json()["detail"]

    police = department_token(stack, ["hotline:handle"], agency="11350100MB00000025")
    theirs = {t["id"] for t in listing(bearer(police)).json()["tickets"]}
    assert not theirs & {t["id"] for t in filed}, "another agency sees none of them"
    assert listing(bearer(token), mine="true", status="open").status_code == 422, "own list"

    def filed_events():
        rows = aws["dynamodb"].scan(TableName=stack.resolver.refs["EventLogTable"])["Items"]
        return {
            json.loads(r["envelope"]["S"])["data"]["ticket_id"]: json.loads(r["envelope"]["S"])
            for r in rows
            if r["type"]["S"] == "hotline.filed"
        }

    events = wait_for(
        lambda: (got := filed_events()) and all(t["id"] in got for t in filed) and got,
        what="a hotline.filed event per ticket",
    )
    first = events[filed[0]["id"]]["data"]
    assert first["kind"] == "complaint" and first["title"] == "窗口态度差"
    assert first["deadline"] == filed[0]["deadline"]
    assert CITIZEN not in json.dumps(events), "the caller is not in the event"
