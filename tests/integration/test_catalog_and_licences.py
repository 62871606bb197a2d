"""The catalogue (versions, ownership, publication, report) and the e-licence library
(identifiers, the issuer's seal, tampering, revocation), over the local gateway."""

import copy

import pytest
import requests

from contracts.identity import credit_code_check_char
from contracts.licences import check_licence_id
from tests.integration.conftest import CITIZEN, bearer, department_token

AGENCY = "11350100MB00000012"  # the fixture department's agency (see department_token)
OTHER_AGENCY = "11350100MB00000025"  # the police (公安局)
CIVIL_AFFAIRS = "11350100MB00000038"  # issues marriage certificates
COMPANY = "91350100MA2Y0AB1CB"


def item_draft(agency=AGENCY, part="XK0001", name="食品经营许可证核发", star=4):
    return {
        "name": name,
        "agency": agency,
        "agency_name": "福州市市场监督管理局",
        "item_part": part,
        "category": "licensing",
        "legal_basis": ["《中华人民共和国食品安全法》第三十五条"],
        "conditions": ["有与经营的食品品种、数量相适应的经营场所"],
        "materials": [
            {"name": "营业执照", "licence_type": "11100000000013338W001"},
            {"name": "食品安全管理制度文本", "form": "electronic"},
        ],
        "steps": [
            {"name": "受理", "days": 1},
            {"name": "审查", "days": 5},
            {"name": "决定", "days": 1},
        ],
        "statutory_days": 20,
        "promised_days": 7,
        "star_level": star,
        "guide": "申请人通过网上办事大厅提交申请",
        "result_licence_type": "11100000000013338W002",
    }


@pytest.fixture
def clerk(stack):
    return department_token(stack, ["catalog:write", "licences:issue"])


def write(stack, token, method, path, json):
    return requests.request(
        method, f"{stack.url}{path}", json=json, headers=bearer(token), timeout=10
    )


def test_versions_old_ones_readable_and_unpublished_invisible(stack, clerk):
    created = write(stack, clerk, "POST", "/catalog/items", item_draft())
    assert created.status_code == 201, created.text
    code = created.json()["code"]
    assert code == AGENCY + "XK0001" and created.json()["version"] == 1
    # a draft is invisible to the public
    assert requests.get(f"{stack.url}/catalog/items/{code}", timeout=10).status_code == 404
    assert (
        write(stack, clerk, "POST", f"/catalog/items/{code}/publish", {"version": 1}).status_code
        == 200
    )
    v1 = requests.get(f"{stack.url}/catalog/items/{code}", timeout=10)
    assert v1.status_code == 200 and v1.json()["promised_days"] == 7

    changed = write(
        stack, clerk, "PUT", f"/catalog/items/{code}", {**item_draft(), "promised_days": 5}
    )
    assert changed.status_code == 201 and changed.json()["version"] == 2
    # the change is not public until published
    assert requests.get(f"{stack.url}/catalog/items/{code}", timeout=10).json()["version"] == 1
    write(stack, clerk, "POST", f"/catalog/items/{code}/publish", {"version": 2})
    latest = requests.get(f"{stack.url}/catalog/items/{code}", timeout=10).json()
    assert latest["version"] == 2 and latest["promised_days"] == 5
    old = requests.get(f"{stack.url}/catalog/items/{code}", params={"version": 1}, timeout=10)
    assert old.status_code == 200 and old.json()["promised_days"] == 7
    assert old.json()["status"] == "superseded"
    versions = requests.get(
        f"{stack.url}/catalog/items/{code}/versions", headers=bearer(clerk), timeout=10
    ).json()["versions"]
    assert [(v["version"], v["status"]) for v in versions] == [(1, "superseded"), (2, "published")]


def test_an_editor_puts_back_what_it_read_and_if_match_keeps_edits_from_being_lost(stack, clerk):
    created = write(stack, clerk, "POST", "/catalog/items", item_draft(part="XK0077"))
    code = created.json()["code"]
    assert created.headers["ETag"]
    write(stack, clerk, "POST", f"/catalog/items/{code}/publish", {"version": 1})
    read = requests.get(f"{stack.url}/catalog/items/{code}", timeout=10)

    def put(body, etag=None):
        headers = {**bearer(clerk), **({"If-Match": etag} if etag else {})}
        return requests.put(
            f"{stack.url}/catalog/items/{code}", json=body, headers=headers, timeout=10
        )

    # the representation a read answered, changed where the editor changed it
    mine = put({**read.json(), "promised_days": 5}, read.headers["ETag"])
    assert mine.status_code == 201, mine.text
    assert mine.json()["version"] == 2 and mine.json()["promised_days"] == 5
    # a second editor who read version 1 too: refused, nothing overwritten
    theirs = put({**read.json(), "promised_days": 6}, read.headers["ETag"])
    assert theirs.status_code == 412, theirs.text
    assert theirs.headers["content-type"].startswith("application/problem+json")
    assert "latest version is 2" in theirs.json()["detail"]
    assert put({**read.json(), "promised_days": 6}, '"abc"').status_code == 412
    # the answer's ETag (or the versions listing's) is the one to send next
    versions = requests.get(
        f"{stack.url}/catalog/items/{code}/versions", headers=bearer(clerk), timeout=10
    ).json()["versions"]
    assert versions[-1]["version"] == 2 and versions[-1]["etag"] == mine.headers["ETag"]
    again = put({**mine.json(), "promised_days": 4}, mine.headers["ETag"])
    assert again.status_code == 201 and again.json()["version"] == 3
    # a body naming another item is refused; without If-Match the draft follows the latest
    other = put({**read.json(), "code": AGENCY + "XK0078"})
    assert other.status_code == 422 and other.json()["field"] == "code"
    assert put(item_draft(part="XK0077")).json()["version"] == 4


def test_publishing_with_a_stale_if_match_is_412_and_publishes_nothing(stack, clerk):
    created = write(stack, clerk, "POST", "/catalog/items", item_draft(part="XK0081"))
    assert created.status_code == 201, created.text
    code, read_etag = created.json()["code"], created.headers["ETag"]
    # another editor drafts version 2 after this one read version 1
    assert write(stack, clerk, "PUT", f"/catalog/items/{code}", item_draft(part="XK0081")).ok

    def publish(version, etag):
        return requests.post(
            f"{stack.url}/catalog/items/{code}/publish",
            json={"version": version},
            headers={**bearer(clerk), "If-Match": etag},
            timeout=10,
        )

    stale = publish(1, read_etag)
    assert stale.status_code == 412, stale.text
    assert stale.headers["content-type"].startswith("application/problem+json")
    assert "latest version is 2" in stale.json()["detail"]
    assert requests.get(f"{stack.url}/catalog/items/{code}", timeout=10).status_code == 404
    versions = requests.get(
        f"{stack.url}/catalog/items/{code}/versions", headers=bearer(clerk), timeout=10
    ).json()["versions"]
    assert [(v["version"], v["status"]) for v in versions] == [(1, "draft"), (2, "draft")]
    # the latest version's ETag vouches for that version only: not for publishing version 1
    other = publish(1, versions[-1]["etag"])
    assert other.status_code == 412, other.text
    assert "ETag of version 2" in other.json()["detail"]
    assert requests.get(f"{stack.url}/catalog/items/{code}", timeout=10).status_code == 404
    # with the ETag of the version it publishes it goes through
    fresh = publish(2, versions[-1]["etag"])
    assert fresh.status_code == 200, fresh.text
    assert requests.get(f"{stack.url}/catalog/items/{code}", timeout=10).json()["version"] == 2


@pytest.mark.parametrize("version", [True, "1"])
def test_a_publish_version_that_is_not_a_json_integer_is_422(stack, clerk, version):
    created = write(
        stack,
        clerk,
        "POST",
        "/catalog/items",
        item_draft(part="XK0083" if version is True else "XK0084"),
    )
    code = created.json()["code"]
    answer = write(stack, clerk, "POST", f"/catalog/items/{code}/publish", {"version": version})
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == "version"
    assert requests.get(f"{stack.url}/catalog/items/{code}", timeout=10).status_code == 404


def test_an_empty_if_match_is_refused_in_a_sentence_not_taken_as_absent(stack, clerk):
    created = write(stack, clerk, "POST", "/catalog/items", item_draft(part="XK0082"))
    assert created.status_code == 201, created.text
    code = created.json()["code"]
    headers = {**bearer(clerk), "If-Match": ""}
    put = requests.put(
        f"{stack.url}/catalog/items/{code}",
        json=item_draft(part="XK0082"),
        headers=headers,
        timeout=10,
    )
    published = requests.post(
        f"{stack.url}/catalog/items/{code}/publish",
        json={"version": 1},
        headers=headers,
        timeout=10,
    )
    for answer in (put, published):
        assert answer.status_code == 400, answer.text
        assert answer.json()["detail"].startswith("If-Match is empty: send the ETag")
    versions = requests.get(
        f"{stack.url}/catalog/items/{code}/versions", headers=bearer(clerk), timeout=10
    ).json()["versions"]
    assert [(v["version"], v["status"]) for v in versions] == [(1, "draft")]


def test_a_department_cannot_edit_another_agencys_item(stack, clerk):
    other = write(stack, clerk, "POST", "/catalog/items", item_draft(agency=OTHER_AGENCY))
    assert other.status_code == 403
    assert other.json()["detail"] == "a department edits only its own agency's items"
    assert (
        write(
            stack,
            clerk,
            "PUT",
            f"/catalog/items/{OTHER_AGENCY}XK0001",
            item_draft(agency=OTHER_AGENCY),
        ).status_code
        == 403
    )
    reader = department_token(stack, ["subjects:read"])
    assert write(stack, reader, "POST", "/catalog/items", item_draft()).status_code == 403


def test_bad_items_are_refused_naming_the_field(stack, clerk):
    bad = write(stack, clerk, "POST", "/catalog/items", {**item_draft(), "promised_days": 30})
    assert bad.status_code == 422 and "promised" in bad.json()["detail"]
    bad_agency = item_draft(agency=AGENCY[:-1] + "X")
    answer = write(stack, clerk, "POST", "/catalog/items", bad_agency)
    assert answer.status_code == 422 and answer.json()["field"] == "agency"


def test_public_reads_carry_an_etag_and_answer_304(stack, clerk):
    code = write(stack, clerk, "POST", "/catalog/items", item_draft()).json()["code"]
    write(stack, clerk, "POST", f"/catalog/items/{code}/publish", {"version": 1})
    first = requests.get(f"{stack.url}/catalog/items/{code}", timeout=10)
    etag = first.headers["ETag"]
    again = requests.get(
        f"{stack.url}/catalog/items/{code}", headers={"If-None-Match": etag}, timeout=10
    )
    assert again.status_code == 304 and again.content == b""
    search = requests.get(
        f"{stack.url}/catalog/items", params={"q": "食品", "min_star": 4}, timeout=10
    ).json()
    assert [i["code"] for i in search["items"]] == [code]
    assert (
        requests.get(f"{stack.url}/catalog/items", params={"min_star": 5}, timeout=10).json()[
            "count"
        ]
        == 0
    )


def test_the_report_counts_shares_per_agency(stack, clerk):
    for i, star in enumerate([2, 3, 4, 5]):
        code = write(
            stack, clerk, "POST", "/catalog/items", item_draft(part=f"XK010{i}", star=star)
        ).json()["code"]
        write(stack, clerk, "POST", f"/catalog/items/{code}/publish", {"version": 1})
    report = requests.get(f"{stack.url}/catalog/report", timeout=10).json()
    assert report["overall"] == {
        "items": 4,
        "at_least_3_star": 0.75,
        "at_least_4_star": 0.5,
        "five_star": 0.25,
    }
    assert report["agencies"][0]["agency"] == AGENCY
    assert [t["met"] for t in report["targets"]] == [False, True, False]


# --- licences -------------------------------------------------------------------------


def issue(stack, clerk, holder=COMPANY, type_code="11100000000013338W001"):
    answer = write(
        stack,
        clerk,
        "POST",
        "/licences",
        {
            "type_code": type_code,
            "holder_code": holder,
            "holder_name": "福州示例科技有限公司",
            "fields": {
                "enterprise_name": "福州示例科技有限公司",
                "legal_representative": "林某",
                "registered_capital": "100万元",
                "business_scope": "软件开发",
                "address": "福州市鼓楼区",
            },
        },
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_an_issued_licence_has_a_checked_identifier_and_verifies(stack, clerk):
    licence = issue(stack, clerk)
    assert check_licence_id(licence["id"]) == licence["id"]
    assert licence["id"].startswith(f"1.2.156.3005.2.11100000000013338W001.{AGENCY}.")
    verdict = requests.post(f"{stack.url}/licences/{licence['id']}/verify", timeout=10).json()
    assert verdict["valid"] is True, verdict
    assert verdict["checks"]["sealed_by_issuer"] is True
    assert verdict["holder"] == "9135**********B1CB"
    # one character changed in the identifier fails its check
    last = licence["id"][-1]
    wrong = licence["id"][:-1] + ("0" if last != "0" else "1")
    assert requests.post(f"{stack.url}/licences/{wrong}/verify", timeout=10).status_code == 422


def test_a_tampered_licence_fails_verification(stack, aws, clerk):
    licence = issue(stack, clerk)
    aws["dynamodb"].update_item(
        TableName="govbus-local-licences",
        Key={"id": {"S": licence["id"]}},
        UpdateExpression="SET valid_from = :d",
        ExpressionAttributeValues={":d": {"S": "2020-01-01"}},
    )
    verdict = requests.post(f"{stack.url}/licences/{licence['id']}/verify", timeout=10).json()
    assert verdict["valid"] is False and verdict["checks"]["signature"] is False
    assert "altered" in verdict["reasons"][0]


def test_a_licence_verified_while_the_ca_is_down_is_503_not_reported_altered(stack, ca, clerk):
    from contracts.adapters import Faults

    licence = issue(stack, clerk)
    ca.set_faults(Faults(down=True))
    try:
        answer = requests.post(f"{stack.url}/licences/{licence['id']}/verify", timeout=10)
    finally:
        ca.set_faults(Faults())
    assert answer.status_code == 503, answer.text
    again = requests.post(f"{stack.url}/licences/{licence['id']}/verify", timeout=10)
    assert again.json()["valid"] is True, again.text


def test_a_revoked_licence_verifies_as_revoked_and_only_the_issuer_revokes(stack, clerk):
    licence = issue(stack, clerk)
    stranger = department_token(stack, ["licences:issue"], agency=OTHER_AGENCY)
    refused = write(
        stack,
        stranger,
        "POST",
        f"/licences/{licence['id']}/revoke",
        {"reason": "not mine to revoke"},
    )
    assert refused.status_code == 403, refused.text
    assert "only the issuer" in refused.json()["detail"]
    assert (
        write(
            stack,
            clerk,
            "POST",
            f"/licences/{licence['id']}/revoke",
            {"reason": "吊销：虚假材料取得"},
        ).status_code
        == 200
    )
    verdict = requests.post(f"{stack.url}/licences/{licence['id']}/verify", timeout=10).json()
    assert verdict["valid"] is False and verdict["status"] == "revoked"
    assert "revoked" in verdict["reasons"][0]
    again = write(stack, clerk, "POST", f"/licences/{licence['id']}/revoke", {"reason": "twice"})
    assert again.status_code == 409


def test_licences_by_holder_for_the_holder_and_entitled_departments(stack, ca, clerk):
    from tests.integration.conftest import login

    issue(stack, clerk, holder=CITIZEN, type_code="11100000000013338W003")
    citizen = login(stack, ca.issue(CITIZEN, "林小姐")).json()["access_token"]
    mine = requests.get(
        f"{stack.url}/licences", params={"holder": CITIZEN}, headers=bearer(citizen), timeout=10
    )
    assert mine.status_code == 200 and len(mine.json()["licences"]) == 1
    assert mine.json()["licences"][0]["holder_name"] == "福州示例科技有限公司"
    own = requests.get(
        f"{stack.url}/licences", params={"mine": "true"}, headers=bearer(citizen), timeout=10
    )
    assert own.status_code == 200 and own.json() == mine.json(), "?mine=true, as elsewhere"
    nosy = department_token(stack, ["catalog:write"])
    assert (
        requests.get(
            f"{stack.url}/licences", params={"holder": CITIZEN}, headers=bearer(nosy), timeout=10
        ).status_code
        == 403
    )
    reader = department_token(stack, ["licences:read"])
    seen = requests.get(
        f"{stack.url}/licences", params={"holder": CITIZEN}, headers=bearer(reader), timeout=10
    )
    assert seen.status_code == 200 and len(seen.json()["licences"]) == 1


def test_a_licence_type_for_the_wrong_kind_of_holder_is_refused(stack):
    registrar = department_token(stack, ["licences:issue"], agency=CIVIL_AFFAIRS)
    answer = write(
        stack,
        registrar,
        "POST",
        "/licences",
        {"type_code": "11420503087246977F001", "holder_code": COMPANY, "holder_name": "x"},
    )
    assert answer.status_code == 422 and answer.json()["field"] == "holder_code"


def test_agency_codes_in_these_tests_are_valid():
    for code in (AGENCY, OTHER_AGENCY):
        assert code[-1] == credit_code_check_char(code[:17])
    assert copy.deepcopy(item_draft())["agency"] == AGENCY


def test_an_agency_cannot_issue_a_licence_type_another_agency_issues(stack, aws):
    """The police issuing a food business licence (the market regulator's) in its own
    name: 403 saying whose type it is, and nothing stored."""
    police = department_token(stack, ["licences:issue"], agency=OTHER_AGENCY)
    answer = write(
        stack,
        police,
        "POST",
        "/licences",
        {
            "type_code": "11100000000013338W002",
            "holder_code": "350102198512011235",
            "holder_name": "王先生",
            "fields": {"a": "b"},
        },
    )
    assert answer.status_code == 403, answer.text
    detail = answer.json()["detail"]
    assert f"agency {OTHER_AGENCY} does not issue licence type 11100000000013338W002" in detail
    assert AGENCY in detail, "the refusal names the type's issuer"
    stored = aws["dynamodb"].scan(TableName="govbus-local-licences")["Items"]
    assert [row for row in stored if row["id"]["S"].startswith("1.2.")] == []


def test_a_holder_code_with_a_wrong_check_digit_is_refused(stack, clerk):
    """350102198512011236 is 350102198512011235 mistyped: the MOD 11-2 check says so
    (it must not slip through as an all-digit credit code)."""
    answer = write(
        stack,
        clerk,
        "POST",
        "/licences",
        {
            "type_code": "11100000000013338W002",
            "holder_code": "350102198512011236",
            "holder_name": "王先生",
            "fields": {"enterprise_name": "王记"},
        },
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == "holder_code"
    detail = answer.json()["detail"]
    assert "MOD 11-2" in detail
    assert "validation error" not in detail and "[type=" not in detail, "a sentence"
