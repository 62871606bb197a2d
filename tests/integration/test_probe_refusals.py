"""What the session's last outside probe found, each refused as it should be."""

from __future__ import annotations

import pytest
import requests

from tests.integration.conftest import CITIZEN, bearer, department_token, login
from tests.integration.test_catalog_and_licences import AGENCY, item_draft, write


def test_an_item_resulting_in_a_licence_type_the_directory_lacks_is_refused(stack):
    """Seen: result_licence_type "../../x" was stored (201); an approved case of it then
    waited for a licence that could never be issued, its request dead-lettered."""
    clerk = department_token(stack, ["catalog:write"])
    for unknown in ("../../x", "JSZ", ""):
        answer = write(
            stack,
            clerk,
            "POST",
            "/catalog/items",
            {**item_draft(part="XK0091"), "result_licence_type": unknown},
        )
        assert answer.status_code == 422, (unknown, answer.text)
        assert answer.json()["field"] == "result_licence_type"
        assert "licence directory" in answer.json()["detail"]
    none = write(
        stack,
        clerk,
        "POST",
        "/catalog/items",
        {**item_draft(part="XK0091"), "result_licence_type": None},
    )
    assert none.status_code == 201, "an item may result in no e-licence at all"


def test_empty_or_null_preferences_change_nothing(stack, ca):
    stack.seed()
    token = login(stack, ca.issue(CITIZEN, "林小姐")).json()["access_token"]
    url = f"{stack.url}/notifications/preferences"
    kept = {"opted_out": ["appointment_reminder"]}
    assert requests.put(url, json=kept, headers=bearer(token), timeout=10).status_code == 200
    for body in ("null", ""):
        answer = requests.put(
            url,
            data=body,
            headers={**bearer(token), "content-type": "application/json"},
            timeout=10,
        )
        assert answer.status_code == 422, (body, answer.text)
    assert requests.get(url, headers=bearer(token), timeout=10).json() == kept


def test_a_subscription_url_with_a_line_break_is_refused(stack):
    token = department_token(stack, ["subscriptions:manage"])
    answer = requests.post(
        f"{stack.url}/subscriptions",
        json={"url": "http://127.0.0.1:9/\r\nX: y", "event_types": ["case.*"]},
        headers=bearer(token),
        timeout=10,
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == "url" and "percent-encode" in answer.json()["detail"]


def test_another_agency_learns_nothing_of_a_ticket(stack, ca):
    stack.seed()
    token = login(stack, ca.issue(CITIZEN, "林小姐")).json()["access_token"]
    ticket = requests.post(
        f"{stack.url}/hotline/tickets",
        headers=bearer(token),
        json={"kind": "consultation", "title": "咨询", "details": "请告知", "agency": AGENCY},
        timeout=10,
    ).json()
    other = department_token(stack, ["hotline:handle"], agency="11350100MB00000025")
    theirs = requests.get(
        f"{stack.url}/hotline/tickets/{ticket['id']}", headers=bearer(other), timeout=10
    )
    unknown = requests.get(
        f"{stack.url}/hotline/tickets/12345-20261127-000000", headers=bearer(other), timeout=10
    )
    assert theirs.status_code == unknown.status_code == 404


def test_a_material_index_is_ascii_digits(stack, ca):
    from tests.integration.test_cases import apply

    stack.seed()
    token = login(stack, ca.issue(CITIZEN, "林小姐")).json()["access_token"]
    case = apply(stack, token)
    for index in ("%C2%B2", "%EF%BC%91", "%D9%A1", "-1"):  # ², fullwidth 1, Arabic-Indic 1
        answer = requests.get(
            f"{stack.url}/applications/{case['id']}/materials/{index}",
            headers=bearer(token),
            timeout=10,
        )
        assert answer.status_code == 422, (index, answer.text)


def test_a_path_value_with_a_bidi_override_or_line_break_is_written_out_in_the_detail(stack):
    """Seen: /catalog/items/%E2%80%AE...%0A quoted the override and the newline back raw."""
    answer = requests.get(f"{stack.url}/catalog/items/%E2%80%AEabc%0A", timeout=10)
    assert answer.status_code == 404, answer.text
    assert answer.json()["detail"] == "no published item \\u202eABC\\u000a"
    assert "\u202e" not in answer.text and "\n" not in answer.text


def test_a_listing_answers_utf8_text_as_a_single_item_does(stack, ca):
    """Seen: a list answered \\u98df\\u54c1 where the single item answered 食品."""
    stack.seed()
    token = login(stack, ca.issue(CITIZEN, "林小姐")).json()["access_token"]
    filed = requests.post(
        f"{stack.url}/hotline/tickets",
        headers=bearer(token),
        json={
            "kind": "consultation",
            "title": "食品经营许可证怎么办",
            "details": "请问食品经营许可证需要哪些材料",
            "agency": AGENCY,
        },
        timeout=10,
    )
    assert filed.status_code == 201, filed.text
    one = requests.get(
        f"{stack.url}/hotline/tickets/{filed.json()['id']}", headers=bearer(token), timeout=10
    )
    listing = requests.get(
        f"{stack.url}/hotline/tickets?mine=true", headers=bearer(token), timeout=10
    )
    for answer in (one, listing):
        assert answer.status_code == 200, answer.text
        assert "食品经营许可证怎么办" in answer.content.decode("utf-8"), answer.text[:200]
    assert len(listing.json()["tickets"]) == 1


# --- session 6's outside probe: numbers, listings, bodies, existence ---------------------


@pytest.fixture
def clerk(stack):
    return department_token(stack, ["catalog:write", "licences:issue"])


def test_a_number_in_a_query_is_ascii_digits(stack, clerk):
    """Seen: ?version=١ (Arabic-Indic one) and ?version=１ (fullwidth) read version 1,
    ?minutes=١ a one-minute window: Python's int() reads any Unicode digit."""
    from tests.integration.test_ops_api import ops_token

    created = write(stack, clerk, "POST", "/catalog/items", item_draft(part="XK0093"))
    code = created.json()["code"]
    assert write(stack, clerk, "POST", f"/catalog/items/{code}/publish", {"version": 1}).ok
    item = f"{stack.url}/catalog/items/{code}"
    assert requests.get(item, params={"version": "1"}, timeout=10).status_code == 200
    ops = bearer(ops_token(stack))
    for one in ("\u0661", "\uff11", "\u00b9", " 1", "+1", ""):
        version = requests.get(item, params={"version": one}, timeout=10)
        assert version.status_code == 422, (one, version.text)
        assert version.json()["field"] == "version"
        assert "from 1 to" in version.json()["detail"], version.text
        star = requests.get(f"{stack.url}/catalog/items", params={"min_star": one}, timeout=10)
        assert star.status_code == 422 and star.json()["field"] == "min_star", (one, star.text)
        minutes = requests.get(
            f"{stack.url}/ops/events", params={"minutes": one}, headers=ops, timeout=10
        )
        assert minutes.status_code == 422, (one, minutes.text)
        assert minutes.json()["detail"].startswith("minutes must be a whole number from 1 to 60")


def file_ticket(stack, token, **fields):
    return requests.post(
        f"{stack.url}/hotline/tickets",
        headers=bearer(token),
        json={"kind": "consultation", "title": "咨询", "details": "请告知", "agency": AGENCY}
        | fields,
        timeout=10,
    )


def test_a_citizen_lists_their_tickets_with_mine_true_as_bills_and_cases(stack, ca):
    """Seen: ?mine=false (or no ?mine) answered the citizen's own tickets, where /bills
    and /applications answer 422 without ?mine=true."""
    stack.seed()
    token = login(stack, ca.issue(CITIZEN, "林小姐")).json()["access_token"]
    assert file_ticket(stack, token).status_code == 201
    tickets = f"{stack.url}/hotline/tickets"
    own = requests.get(tickets, params={"mine": "true"}, headers=bearer(token), timeout=10)
    assert own.status_code == 200 and len(own.json()["tickets"]) == 1, own.text
    for query in ({"mine": "false"}, {"mine": ""}, {}):
        for path in ("/hotline/tickets", "/bills", "/applications"):
            answer = requests.get(
                f"{stack.url}{path}", params=query, headers=bearer(token), timeout=10
            )
            assert answer.status_code == 422, (path, query, answer.text)
            assert answer.json()["field"] == "mine" and "?mine=true" in answer.json()["detail"]


def test_an_empty_filter_is_refused_for_every_listing(stack):
    """Seen: a department's ?status= answered its whole list (a citizen's was 422)."""
    handler = department_token(stack, ["hotline:handle"])
    biller = department_token(stack, ["bills:issue"])
    reviewer = department_token(stack, ["cases:review"])
    for path, token, field in (
        ("/hotline/tickets", handler, "status"),
        ("/bills", biller, "state"),
        ("/applications", reviewer, "state"),
    ):
        whole = requests.get(f"{stack.url}{path}", headers=bearer(token), timeout=10)
        empty = requests.get(f"{stack.url}{path}?{field}=", headers=bearer(token), timeout=10)
        if path != "/applications":  # a work queue is always one state's
            assert whole.status_code == 200, (path, whole.text)
        assert empty.status_code == 422, (path, empty.text)
        assert empty.json()["field"] == field and "must be one of" in empty.json()["detail"]


def test_a_department_without_hotline_handle_is_told_that_scope(stack):
    """Seen: 403 "requires the scope 'self'", where /bills names bills:issue."""
    clerk = department_token(stack, ["catalog:write"])
    answer = requests.get(f"{stack.url}/hotline/tickets", headers=bearer(clerk), timeout=10)
    assert answer.status_code == 403, answer.text
    assert "hotline:handle" in answer.json()["detail"]
    assert "'self'" not in answer.json()["detail"]


def test_a_ticket_of_only_whitespace_is_refused(stack, ca):
    stack.seed()
    token = login(stack, ca.issue(CITIZEN, "林小姐")).json()["access_token"]
    for field, blank in (("title", "   "), ("details", "\u3000\u3000\n\t "), ("title", " \u3000 ")):
        answer = file_ticket(stack, token, **{field: blank})
        assert answer.status_code == 422, (field, blank, answer.text)
        assert answer.json()["field"] == field and "blank" in answer.json()["detail"]
    listed = requests.get(
        f"{stack.url}/hotline/tickets?mine=true", headers=bearer(token), timeout=10
    )
    assert listed.json()["tickets"] == [], "nothing was filed"


def test_a_key_sent_twice_in_a_body_is_refused_naming_it(stack, ca):
    """Seen: {"kind":"consultation","kind":"complaint"} was filed as a complaint."""
    stack.seed()
    token = login(stack, ca.issue(CITIZEN, "林小姐")).json()["access_token"]
    body = (
        f'{{"kind":"consultation","title":"咨询","details":"请告知","agency":"{AGENCY}",'
        '"kind":"complaint"}'
    ).encode()
    answer = requests.post(
        f"{stack.url}/hotline/tickets",
        data=body,
        headers={**bearer(token), "content-type": "application/json"},
        timeout=10,
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == "kind" and "twice" in answer.json()["detail"]
    listed = requests.get(
        f"{stack.url}/hotline/tickets?mine=true", headers=bearer(token), timeout=10
    )
    assert listed.json()["tickets"] == [], "nothing was filed"


def bill(**fields):
    import datetime as dt

    due = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    return {
        "payer_code": CITIZEN,
        "payer_name": "林小姐",
        "amount_fen": 1500,
        "title": "学费",
        "due": due,
    } | fields


def test_a_bill_due_in_a_far_year_or_naming_another_agency_is_refused(stack):
    """Seen: "due":"9999-12-31" and an extra "agency" were accepted (201), the bill
    issued under the caller's agency whatever the body said."""
    import datetime as dt

    school = "11350100MB0000005E"
    biller = department_token(stack, ["bills:issue"], agency=school)
    other = department_token(stack, ["bills:issue"], agency="11350100MB00000025")
    far = write(stack, biller, "POST", "/bills", bill(due="9999-12-31"))
    assert far.status_code == 422, far.text
    assert far.json()["field"] == "due" and "365 days" in far.json()["detail"]
    next_year = (dt.date.today() + dt.timedelta(days=366)).isoformat()
    assert write(stack, biller, "POST", "/bills", bill(due=next_year)).status_code == 422
    agency = write(stack, biller, "POST", "/bills", bill(agency="11350100MB00000025"))
    assert agency.status_code == 422, agency.text
    assert agency.json()["field"] == "agency"
    for token in (biller, other):
        listed = requests.get(f"{stack.url}/bills", headers=bearer(token), timeout=10)
        assert listed.status_code == 200 and listed.json()["bills"] == [], listed.text
    in_a_year = (dt.date.today() + dt.timedelta(days=364)).isoformat()
    assert write(stack, biller, "POST", "/bills", bill(due=in_a_year)).status_code == 201


def test_a_weak_etag_never_matches_if_match(stack, clerk):
    """Seen: If-Match: W/"<etag>" drafted and published (RFC 9110: If-Match compares
    strongly)."""
    created = write(stack, clerk, "POST", "/catalog/items", item_draft(part="XK0094"))
    code, etag = created.json()["code"], created.headers["ETag"]
    weak = {**bearer(clerk), "If-Match": f"W/{etag}"}
    published = requests.post(
        f"{stack.url}/catalog/items/{code}/publish",
        json={"version": 1},
        headers=weak,
        timeout=10,
    )
    assert published.status_code == 412, published.text
    assert "weak" in published.json()["detail"]
    changed = requests.put(
        f"{stack.url}/catalog/items/{code}",
        json=item_draft(part="XK0094"),
        headers=weak,
        timeout=10,
    )
    assert changed.status_code == 412, changed.text
    versions = requests.get(
        f"{stack.url}/catalog/items/{code}/versions", headers=bearer(clerk), timeout=10
    ).json()["versions"]
    assert [(v["version"], v["status"]) for v in versions] == [(1, "draft")]


def test_another_citizens_licence_is_not_found_as_an_unknown_one_is(stack, ca, clerk):
    """Seen: 403 naming who may read it, telling the licence exists."""
    from tests.integration.conftest import OTHER_CITIZEN
    from tests.integration.test_catalog_and_licences import issue

    licence = issue(stack, clerk, holder=CITIZEN, type_code="11100000000013338W003")
    holder = login(stack, ca.issue(CITIZEN, "林小姐")).json()["access_token"]
    stranger = login(stack, ca.issue(OTHER_CITIZEN, "王先生")).json()["access_token"]
    url = f"{stack.url}/licences/{licence['id']}"
    assert requests.get(url, headers=bearer(holder), timeout=10).status_code == 200
    theirs = requests.get(url, headers=bearer(stranger), timeout=10)
    assert theirs.status_code == 404, theirs.text
    assert theirs.json()["detail"] == f"no licence {licence['id']}"


def test_another_citizens_appointment_is_not_found_and_stays_booked(stack, ca):
    from tests.integration.conftest import OTHER_CITIZEN
    from tests.integration.test_appointments_and_hotline import ITEM, TOMORROW, open_slot

    stack.seed()
    open_slot(stack, capacity=1)
    owner = login(stack, ca.issue(CITIZEN, "林小姐")).json()["access_token"]
    stranger = login(stack, ca.issue(OTHER_CITIZEN, "王先生")).json()["access_token"]
    booked = requests.post(
        f"{stack.url}/appointments",
        json={
            "hall": "gulou-hall",
            "item_code": ITEM,
            "day": TOMORROW.isoformat(),
            "time": "09:00",
        },
        headers=bearer(owner),
        timeout=10,
    )
    assert booked.status_code == 201, booked.text
    url = f"{stack.url}/appointments/{booked.json()['id']}"
    theirs = requests.delete(url, headers=bearer(stranger), timeout=10)
    assert theirs.status_code == 404, theirs.text
    assert theirs.json()["detail"] == f"no appointment {booked.json()['id']}"
    slots = requests.get(
        f"{stack.url}/appointments/slots",
        params={"hall": "gulou-hall", "day": TOMORROW.isoformat()},
        timeout=10,
    ).json()["slots"]
    assert slots[0]["free"] == 0, "still booked"


def test_another_agency_revoking_is_refused_before_its_body_is_read(stack, clerk):
    """Seen: another agency's revoke with a bad body answered 422 on the body."""
    from tests.integration.test_catalog_and_licences import OTHER_AGENCY, issue

    licence = issue(stack, clerk)
    stranger = department_token(stack, ["licences:issue"], agency=OTHER_AGENCY)
    for body in ({}, {"reason": ""}, {"reason": "x", "extra": 1}):
        answer = write(stack, stranger, "POST", f"/licences/{licence['id']}/revoke", body)
        assert answer.status_code == 403, (body, answer.text)
        assert "only the issuer" in answer.json()["detail"]
