"""A body that is not a JSON object, and a rule a contract's own validator states: each
gets a 422 whose detail is a sentence for a person, not pydantic's wording."""

from __future__ import annotations

import pytest
import requests

from tests.integration.conftest import bearer, department_token
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
