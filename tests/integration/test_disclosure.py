"""Information disclosure (政务公开): an agency publishes a policy linked to a service
item; it is readable, searchable (Chinese included), in the agency's Atom feed and on the
item's page; superseding it keeps the old version readable by date."""

import datetime as dt
import json
from xml.etree import ElementTree as ET

import pytest
import requests

from tests.conftest import wait_for
from tests.integration.conftest import bearer, department_token

MARKET = "11350100MB00000012"  # the seeded market regulator (see test_appointments...)
OTHER_AGENCY = "11100000000013338W"
ITEM = MARKET + "XK0001"
ATOM = "{http://www.w3.org/2005/Atom}"

POLICY = {
    "agency": MARKET,
    "kind": "policy",
    "title": "关于简化食品经营许可办理材料的通知",
    "body": (
        "自施行之日起，申请食品经营许可证不再提交营业执照复印件，"
        "由审批部门通过电子证照库核验。Applicants no longer submit a copy "
        "of the business licence."
    ),
    "items": [ITEM],
    "effective_from": "2020-01-01",
}


@pytest.fixture
def publisher(stack):
    return bearer(department_token(stack, ["disclosure:publish"], agency=MARKET))


def post(stack, path, headers, body):
    return requests.post(f"{stack.url}{path}", json=body, headers=headers, timeout=10)


def publish_new(stack, headers, body) -> dict:
    created = post(stack, "/disclosure/documents", headers, body)
    assert created.status_code == 201, created.text
    doc = created.json()
    published = post(stack, f"/disclosure/documents/{doc['id']}/publish", headers, {"version": 1})
    assert published.status_code == 200, published.text
    return published.json()


def get(stack, path, **params):
    return requests.get(f"{stack.url}{path}", params=params, timeout=10)


def test_a_published_policy_is_listed_searchable_in_the_feed_and_on_the_item_page(stack, publisher):
    doc = publish_new(stack, publisher, POLICY)

    listed = get(stack, "/disclosure/documents", agency=MARKET, kind="policy")
    assert listed.status_code == 200, listed.text
    assert [d["id"] for d in listed.json()["documents"]] == [doc["id"]]

    for query in ("营业执照", "电子证照 核验", "business licence"):
        found = get(stack, "/disclosure/documents", q=query)
        assert found.status_code == 200, found.text
        assert [d["id"] for d in found.json()["documents"]] == [doc["id"]], query
    # two characters that each occur in the text, never next to each other: no match
    assert get(stack, "/disclosure/documents", q="执照复核").json()["count"] == 0

    item_page = get(stack, f"/disclosure/items/{ITEM}")
    assert [d["title"] for d in item_page.json()["documents"]] == [POLICY["title"]]

    feed = get(stack, f"/disclosure/agencies/{MARKET}/feed.atom")
    assert feed.status_code == 200
    assert feed.headers["content-type"].startswith("application/atom+xml")
    root = ET.fromstring(feed.content)
    assert root.tag == f"{ATOM}feed"
    for required in ("id", "title", "updated"):
        assert root.find(f"{ATOM}{required}") is not None, required
    entries = root.findall(f"{ATOM}entry")
    assert len(entries) == 1
    assert entries[0].find(f"{ATOM}title").text == POLICY["title"]
    assert entries[0].find(f"{ATOM}link").get("href").endswith(f"/disclosure/documents/{doc['id']}")
    dt.datetime.fromisoformat(entries[0].find(f"{ATOM}updated").text)  # RFC 3339


def test_superseding_keeps_the_old_version_readable_by_date(stack, publisher):
    doc = publish_new(stack, publisher, POLICY)
    today = dt.date.today().isoformat()
    changed = requests.put(
        f"{stack.url}/disclosure/documents/{doc['id']}",
        json={**POLICY, "body": "修订：全部材料网上提交，全程网办。", "effective_from": today},
        headers=publisher,
        timeout=10,
    )
    assert changed.status_code == 201, changed.text
    assert changed.json()["version"] == 2
    # a draft changes nothing the public sees
    assert get(stack, f"/disclosure/documents/{doc['id']}").json()["version"] == 1
    published = post(stack, f"/disclosure/documents/{doc['id']}/publish", publisher, {"version": 2})
    assert published.status_code == 200, published.text

    current = get(stack, f"/disclosure/documents/{doc['id']}").json()
    assert (current["version"], current["status"]) == (2, "published")
    then = get(stack, f"/disclosure/documents/{doc['id']}", as_of="2021-06-30").json()
    assert (then["version"], then["status"]) == (1, "superseded")
    assert "营业执照复印件" in then["body"]
    before = get(stack, f"/disclosure/documents/{doc['id']}", as_of="2019-12-31")
    assert before.status_code == 404
    # the search follows the version in force: the old wording no longer matches
    assert get(stack, "/disclosure/documents", q="营业执照").json()["count"] == 0
    assert get(stack, "/disclosure/documents", q="全程网办").json()["count"] == 1
    # the feed lists the document once, with its new version
    root = ET.fromstring(get(stack, f"/disclosure/agencies/{MARKET}/feed.atom").content)
    assert len(root.findall(f"{ATOM}entry")) == 1


def test_publishing_puts_one_disclosure_published_event_in_the_outbox(stack, publisher, aws):
    doc = publish_new(stack, publisher, POLICY)

    def events():
        rows = aws["dynamodb"].scan(TableName=stack.resolver.refs["OutboxTable"])["Items"]
        return [
            json.loads(r["envelope"]["S"])
            for r in rows
            if r["event_type"]["S"] == "disclosure.published"
        ]

    found = wait_for(events, what="disclosure.published in the outbox")
    assert len(found) == 1
    assert found[0]["data"]["document_id"] == doc["id"]
    assert found[0]["data"]["items"] == [ITEM]


def test_an_agency_cannot_publish_in_another_agencys_name(stack, publisher):
    refused = post(stack, "/disclosure/documents", publisher, {**POLICY, "agency": OTHER_AGENCY})
    assert refused.status_code == 403, refused.text
    no_scope = bearer(department_token(stack, ["catalog:write"], agency=MARKET))
    assert post(stack, "/disclosure/documents", no_scope, POLICY).status_code == 403
    assert get(stack, "/disclosure/documents").json()["count"] == 0


@pytest.mark.parametrize(
    ("field", "text"),
    [
        ("body", "经核查，申请人 350102199003071234 的材料不全。"),
        ("title", "联系人手机 13800138000"),
        ("body", "ID 11010519491231002x, misspelt check digit or not"),
    ],
)
def test_a_document_naming_a_citizen_is_refused_and_never_indexed(stack, publisher, field, text):
    refused = post(stack, "/disclosure/documents", publisher, {**POLICY, field: text})
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert "personal data" in problem["detail"] and field in refused.text
    assert "350102199003071234" not in refused.text and "13800138000" not in refused.text
    for term in ("350102199003071234", "13800138000", "11010519491231002X"):
        assert get(stack, "/disclosure/documents", q=term).json()["count"] == 0
    # an agency's own credit code is public and may stand in a document
    agency_named = post(
        stack, "/disclosure/documents", publisher, {**POLICY, "body": f"发布机关 {MARKET}"}
    )
    assert agency_named.status_code == 201, agency_named.text


def test_bad_reads_are_explained_not_crashes(stack):
    assert get(stack, "/disclosure/documents", q="照").status_code == 422
    assert get(stack, "/disclosure/documents", kind="rumour").status_code == 422
    bad_agency = get(stack, "/disclosure/documents", agency="123")
    assert bad_agency.status_code == 422
    # the reason a person reads, not the validation library's report
    assert "18 characters" in bad_agency.json()["detail"]
    assert "validation error" not in bad_agency.json()["detail"]
    assert "type=" not in bad_agency.json()["detail"]
    assert (
        get(stack, "/disclosure/documents/DSC20200101-0000000000", as_of="yesterday").status_code
        == 422
    )
    assert get(stack, "/disclosure/documents/nope").status_code == 404
    assert get(stack, "/disclosure/agencies/NOTACODE/feed.atom").status_code == 422


def test_a_title_with_markup_is_escaped_in_the_feed(stack, publisher):
    publish_new(stack, publisher, {**POLICY, "title": "<b>通知</b> & </title><x>"})
    root = ET.fromstring(get(stack, f"/disclosure/agencies/{MARKET}/feed.atom").content)
    assert root.find(f"{ATOM}entry/{ATOM}title").text == "<b>通知</b> & </title><x>"


@pytest.mark.parametrize(
    "text",
    [
        "经核查，申请人 ３５０１０２１９９００３０７１２３４ 的材料不全。",
        "申请人 ٣٥٠١٠٢١٩٩٠٠٣٠٧١٢٣٤",
        "申请人 350102 19900307 1234",
        "申请人 350102-1990-0307-1234",
        "联系人手机 １３８００１３８０００",
        "联系人手机 138-0013-8000",
        "联系人手机 138 0013 8000",
    ],
)
def test_a_citizen_named_in_fullwidth_other_digits_or_groups_is_refused_too(stack, publisher, text):
    refused = post(stack, "/disclosure/documents", publisher, {**POLICY, "body": text})
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "personal data" in refused.json()["detail"]
    # nothing of it is readable anonymously or in the feed
    for term in ("申请人", "联系人手机"):
        assert get(stack, "/disclosure/documents", q=term).json()["count"] == 0
    feed = get(stack, f"/disclosure/agencies/{MARKET}/feed.atom")
    assert "申请人" not in feed.text and "联系人" not in feed.text


_PROBE_ID = "350102199003071234"


@pytest.mark.parametrize(
    "variant",
    [
        f"abc{_PROBE_ID}def",
        "\u2060".join(_PROBE_ID),
        "\u00ad".join(_PROBE_ID),
        "".join(d + "\u0301" for d in _PROBE_ID),
        "".join(d + "\ufe0f" for d in _PROBE_ID),
        "350102\n19900307\n1234",
        "350102\r\n19900307\r\n1234",
        "".join(f"&#{ord(d)};" for d in _PROBE_ID),
        "".join(f"&#x{ord(d):x};" for d in _PROBE_ID),
        "".join(f"%{ord(d):02X}" for d in _PROBE_ID),
        "350102900307123",
        "8613812345678",
        "(138)1234-5678",
        "350102/19900307/1234",
        "350102_19900307_1234",
        f"9{_PROBE_ID}",
        f"{_PROBE_ID}56",
        "三五〇一〇二一九九〇〇三〇七一二三四",
    ],
)
def test_a_citizen_named_in_a_probed_disguise_is_refused_naming_the_field(
    stack, publisher, variant
):
    refused = post(
        stack, "/disclosure/documents", publisher, {**POLICY, "body": f"联系人 {variant} 办理"}
    )
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert "personal data" in problem["detail"] and "body" in refused.text
    assert _PROBE_ID not in refused.text and "13812345678" not in refused.text
    assert get(stack, "/disclosure/documents", q="联系人").json()["count"] == 0
