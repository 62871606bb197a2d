"""Identifiers never in clear where the docs promise masking: the audit purpose, the
subject-access log, a department's view of a case timeline, and the token itself."""

from __future__ import annotations

import base64
import json

import requests

from tests.integration.conftest import CITIZEN, bearer, department_token, login

MARKET = "11350100MB00000012"
FOOD_LICENCE_ITEM = MARKET + "XK0001"
MASKED = "3501**********1234"


def _scan(aws, stack, table: str) -> str:
    name = stack.resolver.refs[table]
    return json.dumps(aws["dynamodb"].scan(TableName=name)["Items"], ensure_ascii=False)


def test_a_citizens_token_does_not_carry_the_citizen_id_and_still_works(stack, ca):
    answer = login(stack, ca.issue(CITIZEN, "林小姐"))
    assert answer.status_code == 200, answer.text
    token = answer.json()["access_token"]
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert CITIZEN not in json.dumps(claims)
    assert CITIZEN not in base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
    # the authorizer opens it: the citizen is still themself
    me = requests.get(
        f"{stack.url}/subjects/{CITIZEN}/access-log", headers=bearer(token), timeout=10
    )
    assert me.status_code == 200, me.text


def test_audit_purpose_and_subject_access_log_keep_no_identifier_in_clear(
    stack, aws, citizen_token
):
    purpose = f"checking {CITIZEN} before a loan"
    own = requests.get(
        f"{stack.url}/subjects/{CITIZEN}/records",
        params={"purpose": purpose},
        headers=bearer(citizen_token),
        timeout=10,
    )
    assert own.status_code == 200, own.text
    entitled = department_token(stack, ["subjects:read"])
    seen = requests.get(
        f"{stack.url}/subjects/{CITIZEN}/records",
        params={"purpose": purpose},
        headers=bearer(entitled),
        timeout=10,
    )
    assert seen.status_code == 200, seen.text

    audit = _scan(aws, stack, "AuditTable")
    assert "subject.records" in audit
    assert CITIZEN not in audit and MASKED in audit
    access = _scan(aws, stack, "SubjectAccessTable")
    assert access.count('"records"') == 2, access
    assert CITIZEN not in access
    log = requests.get(
        f"{stack.url}/subjects/{CITIZEN}/access-log", headers=bearer(citizen_token), timeout=10
    ).json()["accesses"]
    assert len(log) == 2
    assert {a["purpose"] for a in log} == {f"checking {MASKED} before a loan"}


def test_a_departments_view_of_a_case_shows_no_applicant_id_in_the_timeline(stack, aws, ca):
    stack.seed()
    citizen = login(stack, ca.issue(CITIZEN, "林小姐")).json()["access_token"]
    applied = requests.post(
        f"{stack.url}/applications",
        json={"item_code": FOOD_LICENCE_ITEM, "applicant_name": "林小姐"},
        headers=bearer(citizen),
        timeout=20,
    )
    assert applied.status_code == 201, applied.text
    case_id = applied.json()["id"]
    reviewer = department_token(stack, ["cases:review"], agency=MARKET)
    view = requests.get(f"{stack.url}/applications/{case_id}", headers=bearer(reviewer), timeout=20)
    assert view.status_code == 200, view.text
    timeline = view.json()["timeline"]
    assert timeline, "the case has at least its creation in the timeline"
    assert CITIZEN not in json.dumps(view.json())
    assert MASKED in {entry["actor"] for entry in timeline}
    # and at rest: the case's row holds the actor masked too
    stored = _scan(aws, stack, "CasesTable")
    assert case_id in stored and CITIZEN not in stored


def test_the_outbox_keeps_no_holder_id_name_or_mobile_in_clear_and_consumers_still_get_them(
    stack, aws, ca, ems
):
    """Seen: `licence.requested` rows in the outbox table held the holder's raw ID and
    name, `delivery.requested` rows a raw mobile number, while the archive masked them."""
    from tests.conftest import wait_for
    from tests.integration.test_cases import EMS_TO_HOME, issued_licence

    stack.seed()
    citizen = login(stack, ca.issue(CITIZEN, "林小姐")).json()["access_token"]
    issued = issued_licence(stack, citizen, delivery=EMS_TO_HOME)

    # the consumers got what they need: the licence names its holder, EMS the mobile
    licences = requests.get(
        f"{stack.url}/licences", params={"mine": "true"}, headers=bearer(citizen), timeout=10
    )
    assert licences.status_code == 200, licences.text
    mine = [lic for lic in licences.json()["licences"] if lic.get("case_id") == issued["id"]]
    assert mine and mine[0]["holder_code"] == CITIZEN and mine[0]["holder_name"] == "林小姐"
    waybill = wait_for(
        lambda: [w for w in ems.waybills.values() if w["order"] == issued["id"]],
        what="the EMS waybill",
    )[0]
    assert EMS_TO_HOME["phone"] in json.dumps(waybill["receiver"], ensure_ascii=False)

    rows = aws["dynamodb"].scan(TableName=stack.resolver.refs["OutboxTable"])["Items"]
    types = {r["event_type"]["S"] for r in rows}
    assert {"licence.requested", "delivery.requested"} <= types
    raw = json.dumps(rows, ensure_ascii=False)
    for clear in (CITIZEN, "林小姐", EMS_TO_HOME["phone"], EMS_TO_HOME["street"]):
        assert clear not in raw, clear


def test_the_event_archive_keeps_no_holder_or_receiver_name_or_street_in_clear(stack, aws, ca, ems):
    """Seen: the archive masked the ID numbers and mobiles of `licence.requested` and
    `delivery.requested`, and kept the holder's and the receiver's names in clear: a name
    is personal information as an ID number is (林**)."""
    from tests.conftest import wait_for
    from tests.integration.conftest import archived
    from tests.integration.test_cases import EMS_TO_HOME, issued_licence

    stack.seed()
    citizen = login(stack, ca.issue(CITIZEN, "林小姐")).json()["access_token"]
    issued = issued_licence(stack, citizen, delivery=EMS_TO_HOME)

    def of_the_case() -> list[dict]:
        rows = [r for r in archived(aws, stack) if issued["id"] in r["envelope"]["S"]]
        kinds = {r["type"]["S"] for r in rows}
        return rows if {"licence.requested", "delivery.requested"} <= kinds else []

    rows = wait_for(of_the_case, what="the case's licence and delivery requests archived")
    raw = json.dumps(rows, ensure_ascii=False)
    for clear in (CITIZEN, "林小姐", EMS_TO_HOME["phone"], EMS_TO_HOME["street"]):
        assert clear not in raw, clear
    assert "林**" in raw
