"""schemathesis fuzzes every operation of docs/openapi.json against the running local stack.

Each operation is called with data generated from its documented parameters and body,
with a citizen's token (operations whose scopes include ``self``) or a department token
holding every scope the document names (the others). Every answer must be no 5xx,
conform to the documented status codes and schemas, and, when it is a 4xx, be RFC 9457
problem+json (or API Gateway's own documented ``{"message"}`` for a refused token).

In `make test` each operation gets a few derandomized examples (GOVBUS_FUZZ_EXAMPLES,
default 3); `make fuzz` runs the long form (25 each unless told otherwise).
"""

from __future__ import annotations

import json
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import ROOT
from tests.integration.conftest import CITIZEN, OTHER_CITIZEN, bearer, department_token, login

pytestmark = pytest.mark.integration

RAW = json.loads((ROOT / "docs" / "openapi.json").read_text(encoding="utf-8"))
SCHEMA = schemathesis.openapi.from_dict(RAW)
EXAMPLES = int(os.environ.get("GOVBUS_FUZZ_EXAMPLES", "3"))
OPERATIONS = sorted((path, method) for path, ops in RAW["paths"].items() for method in ops)
ALL_SCOPES = sorted(
    {
        scope
        for ops in RAW["paths"].values()
        for op in ops.values()
        for requirement in op.get("security", [])
        for scope in requirement.get("govbusToken", [])
    }
    - {"self"}
)
PROBLEM = "application/problem+json"


@schemathesis.check
def refusals_are_problem_json(ctx, response, case):
    """A 4xx is problem+json with type, title, status and detail; or API Gateway's own."""
    if not 400 <= response.status_code < 500:
        return None
    content_type = (response.headers.get("content-type") or [""])[0]
    body = json.loads(response.content or b"null")
    if content_type.startswith("application/json") and response.status_code in (401, 403):
        # API Gateway refused the token before any function ran (documented as such)
        assert set(body) == {"message"}, body
        return None
    assert content_type.startswith(PROBLEM), f"{response.status_code} as {content_type!r}"
    assert {"type", "title", "status", "detail"} <= set(body), body
    assert body["status"] == response.status_code, body
    assert body["detail"].strip(), body
    return None


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    refusals_are_problem_json,
]


@pytest.fixture(scope="module")
def tokens(local_stack_session):
    from contracts.adapters import Faults

    stack = local_stack_session
    stack.reset()
    ca = stack.simulators["ca"]
    ca.set_faults(Faults())
    citizens = {}
    for name, code in (("citizen", CITIZEN), ("leaving", OTHER_CITIZEN)):
        answer = login(stack, ca.issue(code, "林小姐"))
        assert answer.status_code == 200, answer.text
        citizens[name] = answer.json()["access_token"]
    return {**citizens, "department": department_token(stack, ALL_SCOPES)}


def headers_for(method: str, path: str, tokens: dict) -> dict:
    requirement = (RAW["paths"][path][method].get("security") or [{}])[0]
    if "govbusToken" not in requirement:
        return {}
    if (method, path) == ("delete", "/accounts/me"):
        # deregistering closes the account: a citizen of its own, so the others' token lives
        return bearer(tokens["leaving"])
    scopes = requirement["govbusToken"]
    return bearer(tokens["citizen" if not scopes or "self" in scopes else "department"])


@pytest.mark.parametrize(("path", "method"), OPERATIONS, ids=[f"{m} {p}" for p, m in OPERATIONS])
def test_the_operation_answers_as_documented(local_stack_session, tokens, path, method):
    operation = SCHEMA[path][method.upper()]
    headers = headers_for(method, path, tokens)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def fuzz(case):
        case.call_and_validate(
            base_url=local_stack_session.url, headers=headers, checks=CHECKS, timeout=30
        )

    fuzz()
