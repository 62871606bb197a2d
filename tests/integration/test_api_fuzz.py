"""schemathesis fuzzes every operation of docs/openapi.json against the running local stack.

Each operation is called with data generated from its documented parameters and body,
with a citizen's token (operations whose scopes include ``self``) or a department token
holding every scope the document names (the others). The stack holds the demo seed and a
case, a ticket, a bill and a subscription of these callers: about half the generated calls
address one of those real resources instead of a generated id, so the answers of the
happy paths are checked against their schemas too, not only the refusals. Both data that fits the document (valid) and data that breaks it (invalid: wrong types,
missing fields, out of bounds) are sent. Every answer must be no 5xx,
conform to the documented status codes and schemas, and, when it is a 4xx, be RFC 9457
problem+json (or API Gateway's own documented ``{"message"}`` for a refused token).

In `make test` each operation gets a few derandomized examples (GOVBUS_FUZZ_EXAMPLES,
default 3 valid and 1 invalid); `make fuzz` runs the long form (25 and 12 unless told
otherwise).
"""

from __future__ import annotations

import datetime as dt
import json
import os

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import ROOT
from tests.integration.conftest import CITIZEN, OTHER_CITIZEN, bearer, department_token, login
from tests.integration.test_ops_api import ops_token

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
    - {"self", "ops"}  # "ops" belongs to ops clients only: the ops token below holds it
)
# data that breaks the document exists only where there is a body to break (every path
# parameter and query parameter is a free string)
RUNS = [(path, method, GenerationMode.POSITIVE) for path, method in OPERATIONS] + [
    (path, method, GenerationMode.NEGATIVE)
    for path, method in OPERATIONS
    if "requestBody" in RAW["paths"][path][method]
]
PROBLEM = "application/problem+json"
MARKET = "11350100MB00000012"  # 福州市市场监督管理局 in the seed data (the department's agency)
FOOD_LICENCE_ITEM = MARKET + "XK0001"


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
def world(local_stack_session):
    """Tokens, and real resources of these callers for the path parameters to address."""
    from contracts.adapters import Faults

    stack = local_stack_session
    stack.reset()
    seeded = stack.seed()
    ca = stack.simulators["ca"]
    ca.set_faults(Faults())
    tokens = {}
    for name, code in (("citizen", CITIZEN), ("leaving", OTHER_CITIZEN)):
        answer = login(stack, ca.issue(code, "林小姐"))
        assert answer.status_code == 200, answer.text
        tokens[name] = answer.json()["access_token"]
    tokens["department"] = department_token(stack, ALL_SCOPES, agency=MARKET)
    tokens["ops"] = ops_token(stack)

    def create(token: str, path: str, body: dict) -> dict:
        answer = requests.post(
            f"{stack.url}{path}", json=body, headers=bearer(tokens[token]), timeout=20
        )
        assert answer.status_code == 201, answer.text
        return answer.json()

    case = create(
        "citizen",
        "/applications",
        {
            "item_code": FOOD_LICENCE_ITEM,
            "applicant_name": "林小姐",
            "delivery": {"method": "collect"},
        },
    )
    ticket = create(
        "citizen",
        "/hotline/tickets",
        {"kind": "consultation", "title": "营业时间", "details": "周末办理吗?", "agency": MARKET},
    )
    subscription = create(
        "department",
        "/subscriptions",
        {"url": "http://127.0.0.1:9/hook", "event_types": ["case.transitioned"]},
    )
    bill = create(
        "department",
        "/bills",
        {
            "payer_code": CITIZEN,
            "payer_name": "林小姐",
            "amount_fen": 1500,
            "title": "学费",
            "due": (dt.date.today() + dt.timedelta(days=30)).isoformat(),
        },
    )
    real = {
        "/payments/": bill["order_no"],
        "/applications/": case["id"],
        "/catalog/items/": FOOD_LICENCE_ITEM,
        "/disclosure/items/": FOOD_LICENCE_ITEM,
        "/licences/": seeded["licences"][0],
        "/hotline/tickets/": ticket["id"],
        "/subscriptions/": subscription["id"],
    }
    return {"tokens": tokens, "real": real}


def headers_for(method: str, path: str, tokens: dict) -> dict:
    requirement = (RAW["paths"][path][method].get("security") or [{}])[0]
    if "govbusToken" not in requirement:
        return {}
    if (method, path) == ("delete", "/accounts/me"):
        # deregistering closes the account: a citizen of its own, so the others' token lives
        return bearer(tokens["leaving"])
    scopes = requirement["govbusToken"]
    if scopes == ["ops"]:
        return bearer(tokens["ops"])
    return bearer(tokens["citizen" if not scopes or "self" in scopes else "department"])


def real_parameter(path: str, real: dict) -> tuple[str, str] | None:
    """The first path parameter of ``path`` that names one of the real resources."""
    for prefix, value in real.items():
        rest = path.removeprefix(prefix)
        if rest != path and rest.startswith("{"):
            return rest[1 : rest.index("}")], value
    return None


@pytest.mark.parametrize(
    ("path", "method", "mode"), RUNS, ids=[f"{m} {p} {g.value}" for p, m, g in RUNS]
)
def test_the_operation_answers_as_documented(local_stack_session, world, path, method, mode):
    operation = SCHEMA[path][method.upper()]
    headers = headers_for(method, path, world["tokens"])
    known = real_parameter(path, world["real"])

    @settings(
        # invalid bodies mostly meet the same validation: half as many of them
        max_examples=EXAMPLES if mode is GenerationMode.POSITIVE else max(1, EXAMPLES // 2),
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode), address_a_real_one=st.booleans())
    def fuzz(case, address_a_real_one):
        if known and address_a_real_one:
            case.path_parameters = {**(case.path_parameters or {}), known[0]: known[1]}
        case.call_and_validate(
            base_url=local_stack_session.url, headers=headers, checks=CHECKS, timeout=30
        )

    fuzz()
