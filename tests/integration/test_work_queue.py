"""A department's work queue (GET /applications?state=) over the local stack: its agency's
cases waiting in a state, the earliest submitted first, paged with a signed cursor."""

import base64
import json

import pytest
import requests

from tests.integration.conftest import CITIZEN, bearer, department_token, login
from tests.integration.test_cases import (
    FOOD_LICENCE_ITEM,
    MARKET,
    POLICE,
    RENEW_DRIVING_LICENCE,
    apply,
    post,
    upload,
)


@pytest.fixture
def citizen(stack, ca):
    stack.seed()
    return login(stack, ca.issue(CITIZEN, "林小姐")).json()["access_token"]


def submitted(stack, citizen, item=FOOD_LICENCE_ITEM):
    """A case submitted with all its materials: pre-reviewed, waiting to be accepted."""
    created = apply(stack, citizen, item=item)
    for form in created["uploads"]:
        upload(form)
    answer = post(stack, citizen, f"/applications/{created['id']}/submit")
    assert answer.status_code == 200 and answer.json()["state"] == "pre_reviewed", answer.text
    return created["id"]


def queue(stack, token, **query):
    return requests.get(
        f"{stack.url}/applications", params=query, headers=bearer(token), timeout=20
    )


def test_an_agency_sees_its_waiting_cases_oldest_first_masked_and_not_another_agencys(
    stack, citizen
):
    food = [submitted(stack, citizen) for _ in range(2)]
    driving = submitted(stack, citizen, item=RENEW_DRIVING_LICENCE)
    market = department_token(stack, ["cases:review"], agency=MARKET)

    answer = queue(stack, market, state="pre_reviewed")

    assert answer.status_code == 200, answer.text
    rows = answer.json()["cases"]
    assert [r["id"] for r in rows] == food, "the earliest submitted first, only its own"
    assert answer.json()["next"] is None
    first = rows[0]
    assert first["item_code"] == FOOD_LICENCE_ITEM and first["state"] == "pre_reviewed"
    assert first["submitted_at"] and first["created_at"] and first["due"] is None
    assert first["applicant"] == CITIZEN[:4] + "*" * 10 + CITIZEN[-4:]
    assert CITIZEN not in answer.text, "the applicant's ID number never in the queue"
    police = department_token(stack, ["cases:review"], agency=POLICE)
    theirs = queue(stack, police, state="pre_reviewed").json()["cases"]
    assert [r["id"] for r in theirs] == [driving]


def test_a_case_moves_from_queue_to_queue_as_the_department_acts(stack, citizen):
    waiting, accepted = submitted(stack, citizen), submitted(stack, citizen)
    clerk = department_token(stack, ["cases:review"], agency=MARKET)
    moved = post(stack, clerk, f"/applications/{accepted}/actions", {"action": "accept"})
    assert moved.status_code == 200, moved.text

    to_accept = queue(stack, clerk, state="pre_reviewed").json()["cases"]
    in_hand = queue(stack, clerk, state="accepted").json()["cases"]

    assert [r["id"] for r in to_accept] == [waiting]
    assert [r["id"] for r in in_hand] == [accepted]
    assert in_hand[0]["due"] == moved.json()["due"], "an accepted case shows its time limit"
    withdrawn = post(stack, citizen, f"/applications/{waiting}/withdraw")
    assert withdrawn.status_code == 200, withdrawn.text
    assert queue(stack, clerk, state="pre_reviewed").json()["cases"] == []


def test_paging_walks_every_waiting_case_once_in_order(stack, citizen):
    ids = [submitted(stack, citizen) for _ in range(5)]
    clerk = department_token(stack, ["cases:review"], agency=MARKET)

    pages, cursor = [], None
    while True:
        answer = queue(stack, clerk, state="pre_reviewed", limit=2, next=cursor)
        assert answer.status_code == 200, answer.text
        pages.append([r["id"] for r in answer.json()["cases"]])
        cursor = answer.json()["next"]
        if cursor is None:
            break
        assert len(pages) < 10, "the cursor does not move on"

    assert [len(p) for p in pages] == [2, 2, 1]
    assert [i for p in pages for i in p] == ids
    assert len(queue(stack, clerk, state="pre_reviewed").json()["cases"]) == 5, "default 50"


def test_a_bad_limit_or_cursor_is_422_naming_it(stack, citizen):
    submitted(stack, citizen)
    submitted(stack, citizen)
    clerk = department_token(stack, ["cases:review"], agency=MARKET)
    first = queue(stack, clerk, state="pre_reviewed", limit=1).json()
    body, mac = first["next"].split(".")
    position = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    forged = base64.urlsafe_b64encode(
        json.dumps({**position, "case_id": "FZ20260101AAAAAAAA"}).encode()
    ).decode()

    for limit in ("0", "201", "ten", "-1", "1.5", "２"):
        refused = queue(stack, clerk, state="pre_reviewed", limit=limit)
        assert refused.status_code == 422, (limit, refused.text)
        assert refused.json()["field"] == "limit" and "1 to 200" in refused.json()["detail"]
    for cursor in ("garbage", "a.b", "%%%.%%%", f"{forged}.{mac}", first["next"] + "x"):
        refused = queue(stack, clerk, state="pre_reviewed", next=cursor)
        assert refused.status_code == 422, (cursor, refused.text)
        assert refused.json()["field"] == "next"
    # a cursor of one state's queue does not page another's
    other = queue(stack, clerk, state="accepted", next=first["next"])
    assert other.status_code == 422 and other.json()["field"] == "next"
    police = department_token(stack, ["cases:review"], agency=POLICE)
    elsewhere = queue(stack, police, state="pre_reviewed", next=first["next"])
    assert elsewhere.status_code == 422 and elsewhere.json()["field"] == "next"


def test_the_state_filter_takes_the_states_a_department_acts_on(stack):
    clerk = department_token(stack, ["cases:review"], agency=MARKET)

    unknown = queue(stack, clerk, state="lost")
    never = queue(stack, clerk, state="submitted")
    closed = queue(stack, clerk, state="closed")

    for refused in (unknown, never, closed):
        assert refused.status_code == 422 and refused.json()["field"] == "state"
        assert "pre_reviewed, accepted, in_review" in refused.json()["detail"]
    assert "state=pre_reviewed" in never.json()["detail"], "submitted says where cases wait"


def test_a_citizen_asking_for_a_queue_is_403_and_asking_for_nothing_is_422(stack, citizen):
    submitted(stack, citizen)

    refused = queue(stack, citizen, state="pre_reviewed")
    nothing = queue(stack, citizen)
    cataloguer = department_token(stack, ["catalog:write"], agency=MARKET)
    not_a_reviewer = queue(stack, cataloguer, state="pre_reviewed")

    assert refused.status_code == 403 and "?mine=true" in refused.json()["detail"]
    assert not_a_reviewer.status_code == 403 and "cases:review" in not_a_reviewer.json()["detail"]
    assert nothing.status_code == 422
    assert "?mine=true" in nothing.json()["detail"] and "?state=" in nothing.json()["detail"]
    assert len(queue(stack, citizen, mine="true").json()["cases"]) == 1
