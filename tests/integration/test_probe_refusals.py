"""What the session's last outside probe found, each refused as it should be."""

from __future__ import annotations

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
    listing = requests.get(f"{stack.url}/hotline/tickets", headers=bearer(token), timeout=10)
    for answer in (one, listing):
        assert answer.status_code == 200, answer.text
        assert "食品经营许可证怎么办" in answer.content.decode("utf-8"), answer.text[:200]
    assert len(listing.json()["tickets"]) == 1
