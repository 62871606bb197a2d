"""A body that is not a JSON object, and a rule a contract's own validator states: each
gets a 422 whose detail is a sentence for a person, not pydantic's wording."""

from __future__ import annotations

import pytest
import requests

from tests.integration.conftest import CITIZEN, bearer, department_token, login
from tests.integration.test_catalog_and_licences import item_draft


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ("[]", "a list"),
        ('"text"', "a string"),
        ("5", "a number"),
        ("true", "true or false"),
        ("null", "null"),
    ],
)
def test_a_body_that_is_not_an_object_is_refused_as_such(stack, body, kind):
    """Seen: POST with [] answered "item_code: Field required" ([] or {} is {})."""
    answer = requests.post(
        f"{stack.url}/auth/token",
        data=body,
        headers={"content-type": "application/json"},
        timeout=10,
    )
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["field"] == "(body)"
    assert problem["detail"] == f"the body must be a JSON object, not {kind}"


def test_a_contract_rule_reads_as_a_sentence_without_pydantics_prefix(stack):
    clerk = department_token(stack, ["catalog:write"])
    answer = requests.post(
        f"{stack.url}/catalog/items",
        json={**item_draft(part="XK0090"), "promised_days": 30},
        headers=bearer(clerk),
        timeout=10,
    )
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert "promised" in problem["detail"]
    assert "Value error" not in answer.text, problem


def test_a_misspelt_field_is_refused_not_dropped_on_apply_submit_and_actions(stack, ca):
    """Seen: "methd" in delivery answered 201 with no delivery, "signature" (singular)
    submitted unsigned, "versoin" skipped the stale-version check."""
    from tests.integration.test_cases import FOOD_LICENCE_ITEM, MARKET, apply, post, upload

    stack.seed()
    citizen = login(stack, ca.issue(CITIZEN, "林小姐")).json()["access_token"]
    misspelt = post(
        stack,
        citizen,
        "/applications",
        {
            "item_code": FOOD_LICENCE_ITEM,
            "applicant_name": "林小姐",
            "delivery": {"methd": "ems", "name": "林小姐", "phone": "13812345678"},
        },
    )
    assert misspelt.status_code == 422, misspelt.text
    assert misspelt.json()["detail"] == "delivery.methd is not a field of this body"

    case = apply(stack, citizen)
    unsigned = post(stack, citizen, f"/applications/{case['id']}/submit", {"signature": []})
    assert unsigned.status_code == 422, unsigned.text
    assert unsigned.json()["field"] == "signature"
    assert unsigned.json()["detail"] == "signature is not a field of this body"

    upload(case["uploads"][0])
    submitted = post(stack, citizen, f"/applications/{case['id']}/submit", {"signatures": []})
    assert submitted.json()["state"] == "pre_reviewed", submitted.text

    clerk = department_token(stack, ["cases:review"], agency=MARKET)
    stale = post(
        stack, clerk, f"/applications/{case['id']}/actions", {"action": "accept", "versoin": 1}
    )
    assert stale.status_code == 422, stale.text
    assert stale.json()["detail"] == "versoin is not a field of this body"
    for version in (True, "1"):
        answer = post(
            stack,
            clerk,
            f"/applications/{case['id']}/actions",
            {"action": "accept", "version": version},
        )
        assert answer.status_code == 422, answer.text
        assert answer.json()["field"] == "version"
    seen = requests.get(
        f"{stack.url}/applications/{case['id']}", headers=bearer(citizen), timeout=10
    )
    assert seen.json()["state"] == "pre_reviewed"  # not accepted


@pytest.mark.parametrize(("grant_type", "status"), [("client_credentials", 200), ("password", 422)])
def test_a_client_may_name_the_client_credentials_grant_as_oauth_clients_do(
    stack, grant_type, status
):
    """Unknown body fields are refused, but `grant_type`, which every OAuth 2.0 client
    sends, is one /auth/token defines: client_credentials, its only grant."""
    from govbus.stores import clients

    client_id, secret = clients.create(
        "11350100MB00000012", ["cases:review"], "test", table=stack.resolver.refs["ClientsTable"]
    )
    answer = requests.post(
        f"{stack.url}/auth/token",
        json={"client_id": client_id, "client_secret": secret, "grant_type": grant_type},
        timeout=10,
    )
    assert answer.status_code == status, answer.text
    if status == 422:
        assert answer.json()["field"] == "grant_type"
