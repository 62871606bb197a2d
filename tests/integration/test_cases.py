"""The citizen's journey over the local stack: apply with a reused licence and one upload,
pre-review, the department's decision, the e-licence, EMS delivery, the timeline."""

import datetime as dt
import threading

import pytest
import requests

from contracts.cases import Actor, Step, advance
from contracts.errors import Conflict
from govbus import settings
from govbus.stores import cases
from govbus.stores.shipments import ShipmentStore
from tests.conftest import wait_for
from tests.integration.conftest import CITIZEN, bearer, department_token, login, queue_drained

MARKET = "11350100MB00000012"  # 福州市市场监督管理局 in the seed data
POLICE = "11350100MB00000025"
FOOD_LICENCE_ITEM = MARKET + "XK0001"  # needs 营业执照 (reusable) and one upload
RENEW_DRIVING_LICENCE = POLICE + "XK0105"  # a 10 yuan fee, no e-licence
EMS_TO_HOME = {
    "method": "ems",
    "name": "林小姐",
    "phone": "13812345678",
    "province": "福建省",
    "city": "福州市",
    "district": "台江区",
    "street": "五一中路88号",
}


@pytest.fixture
def seeded(stack):
    return stack.seed()


@pytest.fixture
def citizen(stack, ca, seeded):
    return login(stack, ca.issue(CITIZEN, "林小姐")).json()["access_token"]


def post(stack, token, path, body=None):
    return requests.post(f"{stack.url}{path}", json=body or {}, headers=bearer(token), timeout=20)


def apply(stack, citizen, item=FOOD_LICENCE_ITEM, delivery=None):
    answer = post(
        stack,
        citizen,
        "/applications",
        {
            "item_code": item,
            "applicant_name": "林小姐",
            "delivery": delivery or {"method": "collect"},
        },
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def upload(form, content=b"%PDF-1.7 food safety rules", content_type="application/pdf"):
    answer = requests.post(
        form["url"],
        data={**form["fields"], "Content-Type": content_type},
        files={"file": ("material.pdf", content, content_type)},
        timeout=20,
    )
    assert answer.status_code in (200, 204), answer.text


def case_of(stack, token, case_id):
    return requests.get(
        f"{stack.url}/applications/{case_id}", headers=bearer(token), timeout=20
    ).json()


def issued_licence(stack, citizen, delivery=None) -> dict:
    """A case of the food licence item applied for, approved and its e-licence issued."""
    created = apply(stack, citizen, delivery=delivery)
    upload(created["uploads"][0])
    submitted = post(stack, citizen, f"/applications/{created['id']}/submit").json()
    assert submitted["state"] == "pre_reviewed", submitted.get("reason")
    clerk = department_token(stack, ["cases:review"], agency=MARKET)
    for action in ("accept", "approve"):
        answer = post(stack, clerk, f"/applications/{created['id']}/actions", {"action": action})
        assert answer.status_code == 200, answer.text
    return wait_for(
        lambda: (c := case_of(stack, citizen, created["id"]))["state"] == "licence_issued" and c,
        what="the e-licence to be issued",
    )


def ems_delivered(stack, ems, case_id: str, waybill_no: str) -> requests.Response:
    """EMS, genuinely signed, says it delivered ``waybill_no`` for ``case_id``."""
    from contracts.delivery import TrackingState

    trace = ems._trace_for(waybill_no, TrackingState.delivered)
    headers, body = ems.push_body(waybill_no, trace, order=case_id)
    return requests.post(f"{stack.url}/webhooks/ems", data=body, headers=headers, timeout=10)


def test_an_ems_delivered_push_does_not_close_a_case_collected_at_the_hall(
    stack, aws, ems, citizen
):
    issued = issued_licence(stack, citizen)  # the applicant collects it at the hall
    answer = ems_delivered(stack, ems, issued["id"], "1199999999999")
    assert answer.status_code == 202, answer.text  # EMS's push is taken: it stops retrying
    wait_for(lambda: queue_drained(aws, stack, "CaseEventsQueue"), what="the push's event handled")
    after = case_of(stack, citizen, issued["id"])
    assert after["state"] == "licence_issued"
    assert [e["action"] for e in after["timeline"]][-1] == "licence_issued"


def test_an_ems_delivered_push_for_another_waybill_leaves_the_case_and_its_shipment(
    stack, aws, ems, citizen
):
    issued = issued_licence(stack, citizen, delivery=EMS_TO_HOME)
    store = ShipmentStore(stack.resolver.refs["ShipmentsTable"])
    waybill = wait_for(
        lambda: (s := store.get(issued["id"])) and s.get("waybill_no"),
        what="the EMS waybill for the case",
    )
    assert ems_delivered(stack, ems, issued["id"], "1199999999999").status_code == 202
    wait_for(lambda: queue_drained(aws, stack, "CaseEventsQueue"), what="the push's event handled")
    assert case_of(stack, citizen, issued["id"])["state"] == "licence_issued"
    shipment = store.get(issued["id"])
    assert shipment["waybill_no"] == waybill and shipment["state"] == "created"

    # its own waybill delivered does close it
    assert ems_delivered(stack, ems, issued["id"], waybill).status_code == 202
    wait_for(
        lambda: case_of(stack, citizen, issued["id"])["state"] == "closed",
        what="the case to close on its own waybill's delivery",
    )


def test_apply_reuse_prereview_approve_licence_delivery_timeline(stack, aws, ems, citizen):
    created = apply(stack, citizen, delivery=EMS_TO_HOME)
    assert created["state"] == "draft"
    assert created["reused"] == ["营业执照"], "the licence the citizen holds is not asked for"
    assert created["still_needed"] == ["食品安全管理制度"] and len(created["uploads"]) == 1
    reused = next(m for m in created["materials"] if m["status"] == "reused")
    assert reused["licence_id"].startswith("1.2.156.3005.2.11100000000013338W003.")

    upload(created["uploads"][0])
    submitted = post(stack, citizen, f"/applications/{created['id']}/submit").json()
    assert submitted["state"] == "pre_reviewed", submitted.get("reason")

    clerk = department_token(stack, ["cases:review"], agency=MARKET)
    accepted = post(stack, clerk, f"/applications/{created['id']}/actions", {"action": "accept"})
    assert accepted.status_code == 200 and accepted.json()["due"]
    approved = post(stack, clerk, f"/applications/{created['id']}/actions", {"action": "approve"})
    assert approved.status_code == 200, approved.text

    issued = wait_for(
        lambda: (c := case_of(stack, citizen, created["id"]))["state"] == "licence_issued" and c,
        what="the e-licence to be issued",
    )
    assert issued["licence_id"].startswith("1.2.156.3005.2.11100000000013338W002." + MARKET)
    verdict = requests.post(
        f"{stack.url}/licences/{issued['licence_id']}/verify", timeout=10
    ).json()
    assert verdict["valid"] is True

    # delivery.requested reached the delivery function: a shipment, then EMS delivers
    store = ShipmentStore(stack.resolver.refs["ShipmentsTable"])
    waybill = wait_for(
        lambda: (s := store.get(created["id"])) and s.get("waybill_no"),
        what="the EMS waybill for the case",
    )
    ems.advance(waybill)
    closed = wait_for(
        lambda: (c := case_of(stack, citizen, created["id"]))["state"] == "closed" and c,
        what="the case to close on delivery",
    )
    steps = [e["action"] for e in closed["timeline"]]
    assert steps == [
        "create",
        "submit",
        "pre_review_pass",
        "accept",
        "approve",
        "licence_issued",
        "delivered",
        "close",
    ]
    assert all(e["actor"] and e["at"] for e in closed["timeline"])

    mine = requests.get(
        f"{stack.url}/applications", params={"mine": "true"}, headers=bearer(citizen), timeout=10
    ).json()["cases"]
    assert [c["id"] for c in mine] == [created["id"]]
    rated = post(
        stack,
        citizen,
        f"/applications/{created['id']}/evaluation",
        {"score": 5, "text": "全程网办，很方便"},
    )
    assert rated.status_code == 200 and rated.json()["evaluation"]["score"] == 5
    assert (
        post(stack, citizen, f"/applications/{created['id']}/evaluation", {"score": 1}).status_code
        == 409
    )


def test_a_missing_material_returns_the_case_with_the_reason(stack, citizen):
    created = apply(stack, citizen)
    returned = post(stack, citizen, f"/applications/{created['id']}/submit").json()
    assert returned["state"] == "returned_for_materials"
    assert "食品安全管理制度" in returned["reason"] and "not been uploaded" in returned["reason"]
    # the citizen uploads it and submits again
    upload(created["uploads"][0])
    assert (
        post(stack, citizen, f"/applications/{created['id']}/submit").json()["state"]
        == "pre_reviewed"
    )


def test_a_wrong_type_of_upload_is_returned_with_the_reason(stack, citizen):
    created = apply(stack, citizen)
    upload(created["uploads"][0], b"MZ...", "application/x-msdownload")
    returned = post(stack, citizen, f"/applications/{created['id']}/submit").json()
    assert returned["state"] == "returned_for_materials" and "PDF" in returned["reason"]


@pytest.mark.parametrize(
    ("content", "form_type", "kind"),
    [
        (b"<html><script>alert(1)</script></html>", "application/pdf", "a PDF"),
        (b"%PDF-1.7 a PDF posted with the PNG form", "image/png", "a PNG image"),
    ],
    ids=["html labelled pdf", "pdf labelled png"],
)
def test_an_upload_whose_content_is_not_its_declared_type_is_returned_with_the_reason(
    stack, citizen, content, form_type, kind
):
    """Seen: pre-review passed an HTML page uploaded with the PDF form as "every material
    present and of the right type": the type was only the uploader's word."""
    created = apply(stack, citizen)
    form = created["uploads"][0]
    posted = requests.post(
        form["url"],
        data=form["fields_by_type"][form_type],
        files={"file": ("material", content, form_type)},
        timeout=20,
    )
    assert posted.status_code in (200, 201, 204), posted.text
    returned = post(stack, citizen, f"/applications/{created['id']}/submit").json()
    assert returned["state"] == "returned_for_materials", returned
    assert f"was uploaded as {kind} but its content is not {kind}" in returned["reason"]


def test_approve_and_reject_at_once_exactly_one_wins(stack, citizen):
    created = apply(stack, citizen)
    upload(created["uploads"][0])
    post(stack, citizen, f"/applications/{created['id']}/submit")
    first = department_token(stack, ["cases:review"], agency=MARKET)
    second = department_token(stack, ["cases:review"], agency=MARKET)
    post(stack, first, f"/applications/{created['id']}/actions", {"action": "accept"})
    version = case_of(stack, citizen, created["id"])["version"]
    answers = {}

    def act(name, token, body):
        answers[name] = post(
            stack, token, f"/applications/{created['id']}/actions", {**body, "version": version}
        )

    threads = [
        threading.Thread(target=act, args=("approve", first, {"action": "approve"})),
        threading.Thread(
            target=act, args=("reject", second, {"action": "reject", "reason": "材料不实"})
        ),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(a.status_code for a in answers.values())
    assert statuses == [200, 409], {k: v.text for k, v in answers.items()}
    loser = next(a for a in answers.values() if a.status_code == 409).json()
    assert "changed" in loser["detail"]


def test_concurrent_transitions_on_the_store_cannot_both_win(stack, citizen):
    """The same race without the gateway: two writers read one version and both write."""
    created = apply(stack, citizen)
    upload(created["uploads"][0])
    post(stack, citizen, f"/applications/{created['id']}/submit")
    env = stack.functions["ApplicationsFunction"].environment
    barrier = threading.Barrier(2)
    outcomes = []

    def take(case, action, note):
        barrier.wait()
        try:
            step = Step(
                action=action, actor=f"clerk-{action}", actor_kind=Actor.department, note=note
            )
            moved, entries = advance(case, [step], dt.datetime.now(dt.UTC))
            cases.save(case, moved, entries, [])
            outcomes.append("won")
        except Conflict:
            outcomes.append("409")

    # the store reads its tables from the settings: point this process at the function's
    with settings.override(cases=env["CASES_TABLE"], outbox=env["OUTBOX_TABLE"], stage="dev"):
        case = cases.get(created["id"])
        threads = [
            threading.Thread(target=take, args=(case, "accept", "")),
            threading.Thread(target=take, args=(case, "request_materials", "请补充材料")),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        timeline = cases.get(created["id"]).timeline
    assert sorted(outcomes) == ["409", "won"]
    assert len([e for e in timeline if e.actor.startswith("clerk-")]) == 1


def test_a_fee_is_never_skipped_and_an_offline_payment_must_match(stack, citizen):
    created = apply(stack, citizen, item=RENEW_DRIVING_LICENCE)
    for form in created["uploads"]:
        upload(form)
    assert (
        post(stack, citizen, f"/applications/{created['id']}/submit").json()["state"]
        == "pre_reviewed"
    )
    clerk = department_token(stack, ["cases:review"], agency=POLICE)
    post(stack, clerk, f"/applications/{created['id']}/actions", {"action": "accept"})
    waiting = post(
        stack, clerk, f"/applications/{created['id']}/actions", {"action": "approve"}
    ).json()
    assert waiting["state"] == "awaiting_payment" and waiting["fee"] == "10.00"
    wrong = post(
        stack,
        clerk,
        f"/applications/{created['id']}/actions",
        {"action": "record_payment", "amount": "5.00"},
    )
    assert wrong.status_code == 422 and wrong.json()["field"] == "amount"
    paid = post(
        stack,
        clerk,
        f"/applications/{created['id']}/actions",
        {"action": "record_payment", "amount": "10.00"},
    ).json()
    assert paid["state"] == "licence_issued" and paid["paid"] is True
    done = post(
        stack, clerk, f"/applications/{created['id']}/actions", {"action": "collect"}
    ).json()
    assert done["state"] == "closed"
    assert [e["action"] for e in done["timeline"]][-6:] == [
        "approve",
        "await_payment",
        "record_payment",
        "licence_issued",
        "collect",
        "close",
    ]


def test_another_agency_cannot_act_and_a_citizen_cannot_see_others_cases(stack, ca, citizen):
    created = apply(stack, citizen)
    outsider = department_token(stack, ["cases:review"], agency=POLICE)
    refused = post(stack, outsider, f"/applications/{created['id']}/actions", {"action": "accept"})
    assert refused.status_code == 404
    assert refused.json()["detail"] == f"no case {created['id']}"
    # who may not act learns nothing, not even the case's state through a stale version
    stale = post(
        stack,
        outsider,
        f"/applications/{created['id']}/actions",
        {"action": "accept", "version": 99},
    )
    assert stale.status_code == 404, stale.text
    assert "draft" not in stale.text
    # a client of the right agency, but not granted case review, sees nothing either
    cataloguer = department_token(stack, ["catalog:write"], agency=MARKET)
    assert (
        requests.get(
            f"{stack.url}/applications/{created['id']}", headers=bearer(cataloguer), timeout=10
        ).status_code
        == 404
    )
    reviewer = department_token(stack, ["cases:review"], agency=MARKET)
    assert (
        requests.get(
            f"{stack.url}/applications/{created['id']}", headers=bearer(reviewer), timeout=10
        ).status_code
        == 200
    )
    other = login(stack, ca.issue("11010519491231002X", "王先生")).json()["access_token"]
    assert (
        requests.get(
            f"{stack.url}/applications/{created['id']}", headers=bearer(other), timeout=10
        ).status_code
        == 404
    )


def test_a_proxy_applies_for_a_citizen_and_the_channel_is_recorded(stack, citizen):
    proxy = department_token(stack, ["cases:proxy"], agency=MARKET)
    answer = post(
        stack,
        proxy,
        "/applications",
        {
            "item_code": FOOD_LICENCE_ITEM,
            "applicant_name": "林小姐",
            "channel": "community",
            "on_behalf_of": CITIZEN,
        },
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["channel"] == "community" and body["acting_for"] is True
    assert body["reused"] == ["营业执照"], "the citizen's licence is reused for the proxy too"
    mine = requests.get(
        f"{stack.url}/applications", params={"mine": "true"}, headers=bearer(citizen), timeout=10
    ).json()["cases"]
    assert body["id"] in [c["id"] for c in mine]


def test_an_electronically_signed_material_is_verified_not_refused(stack, ca, citizen):
    import base64

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    issued = ca.issue(CITIZEN, "林小姐")
    document = "%PDF-1.7 食品安全管理制度（电子签名版）".encode()
    created = apply(stack, citizen)
    upload(created["uploads"][0], document)
    signature = issued.private_key.sign(document, ec.ECDSA(hashes.SHA256()))
    signed = {
        "index": created["uploads"][0]["index"],
        "certificate_pem": issued.chain_pem,
        "signature": base64.b64encode(signature).decode(),
    }
    done = post(
        stack, citizen, f"/applications/{created['id']}/submit", {"signatures": [signed]}
    ).json()
    assert done["state"] == "pre_reviewed", done.get("reason")
    material = next(m for m in done["materials"] if m["signed"])
    assert material["signature_verified"] is True and material["signer"] == "3501**********1234"


def test_a_signature_that_does_not_match_the_upload_returns_the_case(stack, ca, citizen):
    import base64

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    issued = ca.issue(CITIZEN, "林小姐")
    created = apply(stack, citizen)
    upload(created["uploads"][0], b"%PDF the uploaded version")
    signature = issued.private_key.sign(b"%PDF another version", ec.ECDSA(hashes.SHA256()))
    done = post(
        stack,
        citizen,
        f"/applications/{created['id']}/submit",
        {
            "signatures": [
                {
                    "index": created["uploads"][0]["index"],
                    "certificate_pem": issued.chain_pem,
                    "signature": base64.b64encode(signature).decode(),
                }
            ]
        },
    ).json()
    assert done["state"] == "returned_for_materials"
    assert "electronic signature" in done["reason"]


def _signed(issued, index, document):
    import base64

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    signature = issued.private_key.sign(document, ec.ECDSA(hashes.SHA256()))
    return {
        "index": index,
        "certificate_pem": issued.chain_pem,
        "signature": base64.b64encode(signature).decode(),
    }


def test_a_signature_index_must_be_a_json_integer_not_a_boolean_or_a_string(stack, ca, citizen):
    """Seen: "index": true and "index": "1" were read as the material 1."""
    issued = ca.issue(CITIZEN, "林小姐")
    document = "%PDF-1.7 食品安全管理制度（电子签名版）".encode()
    created = apply(stack, citizen)
    index = created["uploads"][0]["index"]
    upload(created["uploads"][0], document)
    for loose in (str(index), bool(index), float(index), [index]):
        refused = post(
            stack,
            citizen,
            f"/applications/{created['id']}/submit",
            {"signatures": [{**_signed(issued, index, document), "index": loose}]},
        )
        assert refused.status_code == 422, (loose, refused.text)
        assert refused.json()["field"] == "signatures.0.index", refused.text
        assert "integer" in refused.json()["detail"]
    case = requests.get(
        f"{stack.url}/applications/{created['id']}", headers=bearer(citizen), timeout=10
    ).json()
    assert case["state"] == created["state"], "a refused submission changes nothing"
    # the same signature with the integer goes through
    done = post(
        stack,
        citizen,
        f"/applications/{created['id']}/submit",
        {"signatures": [_signed(issued, index, document)]},
    )
    assert done.status_code == 200 and done.json()["state"] == "pre_reviewed", done.text


def test_a_material_signed_with_someone_elses_certificate_fails_pre_review(stack, ca, citizen):
    """Citizen A's material signed with citizen B's (valid) certificate: the signature
    verifies, but B is not the applicant, so it proves nothing of A's: returned."""
    someone_else = ca.issue("11010519491231002X", "王先生")
    document = "%PDF-1.7 食品安全管理制度（电子签名版）".encode()
    created = apply(stack, citizen)
    upload(created["uploads"][0], document)
    done = post(
        stack,
        citizen,
        f"/applications/{created['id']}/submit",
        {"signatures": [_signed(someone_else, created["uploads"][0]["index"], document)]},
    )
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "returned_for_materials"
    assert "not the applicant's" in done.json()["reason"]
    assert "1101**********002X" in done.json()["reason"], "the reason names the signer, masked"
    material = next(m for m in done.json()["materials"] if m["signed"])
    assert material["signature_verified"] is False


def test_a_signed_material_while_the_ca_is_down_is_503_and_the_case_is_not_returned(
    stack, ca, citizen
):
    """The CA cannot be asked: the citizen retries later; the case is not returned for a
    signature that may well be good."""
    from contracts.adapters import Faults

    issued = ca.issue(CITIZEN, "林小姐")
    document = b"%PDF food safety rules"
    created = apply(stack, citizen)
    upload(created["uploads"][0], document)
    ca.set_faults(Faults(down=True))
    try:
        answer = post(
            stack,
            citizen,
            f"/applications/{created['id']}/submit",
            {"signatures": [_signed(issued, created["uploads"][0]["index"], document)]},
        )
    finally:
        ca.set_faults(Faults())
    assert answer.status_code == 503, answer.text
    assert case_of(stack, citizen, created["id"])["state"] == "draft"


@pytest.mark.parametrize("which", ["no such material", "a reused e-licence", "twice"])
def test_a_signature_for_a_material_that_cannot_be_signed_is_422_naming_it(
    stack, ca, citizen, which
):
    issued = ca.issue(CITIZEN, "林小姐")
    document = b"%PDF food safety rules"
    created = apply(stack, citizen)
    upload(created["uploads"][0], document)
    reused = next(i for i, m in enumerate(created["materials"]) if m["status"] == "reused")
    own = created["uploads"][0]["index"]
    indexes, words = {
        "no such material": ([99], "no material 99"),
        "a reused e-licence": ([reused], f"material {reused} ("),
        "twice": ([own, own], f"material {own} is signed twice"),
    }[which]
    answer = post(
        stack,
        citizen,
        f"/applications/{created['id']}/submit",
        {"signatures": [_signed(issued, i, document) for i in indexes]},
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == "signatures" and words in answer.json()["detail"]
    assert case_of(stack, citizen, created["id"])["state"] == "draft", "nothing was submitted"


def test_each_transition_of_a_case_is_counted_from_and_to_its_states(stack, citizen, capsys):
    from tests.emf import EmfCapture

    emf = EmfCapture(capsys)
    created = apply(stack, citizen)
    returned = post(stack, citizen, f"/applications/{created['id']}/submit").json()
    assert returned["state"] == "returned_for_materials"

    moved = wait_for(
        lambda: emf.values("CaseTransition", service="applications", to="returned_for_materials"),
        what="the transition's metric",
    )
    assert moved == [1.0]
    moves = [(d["from"], d["to"]) for d in emf.documents() if "CaseTransition" in d]
    assert moves == [
        ("(new)", created["state"]),
        (created["state"], "submitted"),
        ("submitted", "returned_for_materials"),
    ]


def test_the_reviewer_reads_the_uploaded_material_and_no_one_else_does(stack, aws, citizen):
    """Seen: a department reviewing a case saw only object keys, with no way to read the
    files it reviews."""
    created = apply(stack, citizen)
    upload(created["uploads"][0], content=b"%PDF-1.7 the rules as uploaded")
    index = created["uploads"][0]["index"]
    post(stack, citizen, f"/applications/{created['id']}/submit")

    def material(token, which=index):
        return requests.get(
            f"{stack.url}/applications/{created['id']}/materials/{which}",
            headers=bearer(token),
            timeout=20,
        )

    clerk = department_token(stack, ["cases:review"], agency=MARKET)
    link = material(clerk)
    assert link.status_code == 200, link.text
    assert link.json()["name"] == "食品安全管理制度" and link.json()["expires_in"] == 300
    assert requests.get(link.json()["url"], timeout=20).content == b"%PDF-1.7 the rules as uploaded"
    assert material(citizen).status_code == 200, "the applicant reads their own"
    police = department_token(stack, ["cases:review"], agency=POLICE)
    assert material(police).status_code == 404, "another agency learns nothing"
    reused = next(i for i, m in enumerate(created["materials"]) if m["status"] == "reused")
    answer = material(clerk, reused)
    assert answer.status_code == 404 and "reused" in answer.json()["detail"]
    assert material(clerk, 99).status_code == 404
    assert material(clerk, "x").status_code == 422

    audit = aws["dynamodb"].scan(TableName=stack.resolver.refs["AuditTable"])["Items"]
    reads = [a for a in audit if a.get("action", {}).get("S") == "case.material_read"]
    assert any(created["id"] in str(a) for a in reads), "the reviewer's read is audited"


def test_a_withdrawn_cases_materials_are_no_longer_handed_to_its_reviewers(stack, citizen):
    # Given a case submitted with an uploaded material, then withdrawn by the applicant
    created = apply(stack, citizen)
    upload(created["uploads"][0], content=b"%PDF-1.7 withdrawn with the case")
    index = created["uploads"][0]["index"]
    submitted = post(stack, citizen, f"/applications/{created['id']}/submit")
    assert submitted.status_code == 200, submitted.text
    withdrawn = post(stack, citizen, f"/applications/{created['id']}/withdraw")
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["state"] == "withdrawn"

    def material(token):
        return requests.get(
            f"{stack.url}/applications/{created['id']}/materials/{index}",
            headers=bearer(token),
            timeout=20,
        )

    # When the implementing agency's reviewer asks for it: refused, saying why
    refused = material(department_token(stack, ["cases:review"], agency=MARKET))
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "withdrawn" in refused.json()["detail"] and "url" not in refused.json()

    # Then the applicant still reads her own
    own = material(citizen)
    assert own.status_code == 200, own.text
    assert (
        requests.get(own.json()["url"], timeout=20).content == b"%PDF-1.7 withdrawn with the case"
    )


def test_an_applicant_acting_on_their_own_case_is_told_who_acts_and_what_they_may_do(
    stack, citizen
):
    """Seen: a citizen sending `accept` on her own case got 404 "no case" for a case she
    had just read."""
    created = apply(stack, citizen)
    answer = post(stack, citizen, f"/applications/{created['id']}/actions", {"action": "accept"})
    assert answer.status_code == 403, answer.text
    assert "withdraw" in answer.json()["detail"]
    listing = requests.get(
        f"{stack.url}/applications",
        headers=bearer(department_token(stack, ["cases:review"], agency=MARKET)),
        timeout=20,
    )
    # a department asking for no list is told of its work queue
    assert listing.status_code == 422 and "?state=" in listing.json()["detail"]


def _material(stack, token, case_id, index):
    return requests.get(
        f"{stack.url}/applications/{case_id}/materials/{index}", headers=bearer(token), timeout=20
    )


def _swap(form, content, content_type):
    """Post other bytes with a form already used: real S3 refuses a type the form does not
    name; moto does not check POST policies (docs/local_stack.md), so this one is stored."""
    return requests.post(
        form["url"],
        data={**form["fields"], "Content-Type": content_type},
        files={"file": ("material", content, content_type)},
        timeout=20,
    )


def test_a_material_replaced_after_submit_is_still_read_as_pre_review_checked_it(
    stack, ca, citizen, boto_session
):
    """Seen: after a signed PDF passed pre-review, posting other bytes with the same form
    made the reviewer's link serve them (even text/html, inline), still 'verified'."""
    import base64
    import hashlib

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    # Given a case submitted with a PDF signed by its applicant, pre-reviewed
    issued = ca.issue(CITIZEN, "林小姐")
    document = b"%PDF-1.7 the applicant's signed rules"
    created = apply(stack, citizen)
    form = created["uploads"][0]
    upload(form, document)
    signature = issued.private_key.sign(document, ec.ECDSA(hashes.SHA256()))
    signed = {
        "index": form["index"],
        "certificate_pem": issued.chain_pem,
        "signature": base64.b64encode(signature).decode(),
    }
    done = post(stack, citizen, f"/applications/{created['id']}/submit", {"signatures": [signed]})
    assert done.status_code == 200 and done.json()["state"] == "pre_reviewed", done.text
    clerk = department_token(stack, ["cases:review"], agency=MARKET)
    digest = hashlib.sha256(document).hexdigest()

    def reviewer_reads():
        link = _material(stack, clerk, created["id"], form["index"])
        assert link.status_code == 200, link.text
        got = requests.get(link.json()["url"], timeout=20)
        assert got.status_code == 200, got.text
        return link.json(), got

    link, got = reviewer_reads()
    assert got.content == document and link["signature_verified"] is True

    # When the applicant posts other bytes, as HTML, with the same form
    _swap(form, b"<html><script>alert(document.domain)</script>SWAPPED</html>", "text/html")

    # Then the reviewer still reads the bytes pre-review checked, as an attachment of PDF
    link, got = reviewer_reads()
    assert got.content == document, "the link serves what was signed, not the swap"
    assert link["sha256"] == digest == hashlib.sha256(got.content).hexdigest()
    assert link["pinned"] is True and link["version_id"]
    # the pinned version is kept: tagged submitted, out of reach of the drafts' expiry
    s3 = boto_session.client("s3", endpoint_url=stack.endpoint)
    tags = s3.get_object_tagging(
        Bucket=stack.resolver.refs["MaterialsBucket"],
        Key=link["object_key"],
        VersionId=link["version_id"],
    )["TagSet"]
    assert tags == [{"Key": "govbus-material", "Value": "submitted"}]
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["content-disposition"].startswith("attachment")
    assert link["signature_verified"] is True

    # And after the case is accepted a further swap changes nothing either
    accepted = post(stack, clerk, f"/applications/{created['id']}/actions", {"action": "accept"})
    assert accepted.status_code == 200, accepted.text
    _swap(form, b"%PDF-1.7 swapped AFTER acceptance", "application/pdf")
    link, got = reviewer_reads()
    assert got.content == document and link["sha256"] == digest
    own = _material(stack, citizen, created["id"], form["index"])
    assert own.status_code == 200 and own.json()["sha256"] == digest, own.text
    assert requests.get(own.json()["url"], timeout=20).content == document


def test_upload_forms_name_one_exact_type_and_none_are_handed_out_once_submitted(stack, citizen):
    import base64
    import json

    # Given a draft case: its forms each sign one allowed Content-Type exactly
    created = apply(stack, citizen)
    form = created["uploads"][0]
    assert (
        sorted(form["fields_by_type"]) == sorted(form["content_types"])
        and len(form["content_types"]) == 4
    )
    for content_type, fields in form["fields_by_type"].items():
        policy = json.loads(base64.b64decode(fields["policy"]))
        assert {"Content-Type": content_type} in policy["conditions"], policy
        assert fields["Content-Type"] == content_type
        assert not [c for c in policy["conditions"] if "starts-with" in c], policy

    # When the applicant asks for fresh forms while it is a draft: she gets them
    fresh = post(stack, citizen, f"/applications/{created['id']}/uploads")
    assert fresh.status_code == 200, fresh.text
    assert [f["index"] for f in fresh.json()["uploads"]] == [form["index"]]

    # Then once the case is submitted and pre-reviewed, no form is handed out: 409, why
    upload(form)
    submitted = post(stack, citizen, f"/applications/{created['id']}/submit")
    assert submitted.json()["state"] == "pre_reviewed", submitted.text
    refused = post(stack, citizen, f"/applications/{created['id']}/uploads")
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "pre reviewed" in refused.json()["detail"] and "frozen" in refused.json()["detail"]
    assert "uploads" not in refused.json()

    # And a draft withdrawn before it was ever submitted is told that, not "submitted"
    draft = apply(stack, citizen)
    assert post(stack, citizen, f"/applications/{draft['id']}/withdraw").status_code == 200
    withdrawn = post(stack, citizen, f"/applications/{draft['id']}/uploads")
    assert withdrawn.status_code == 409, withdrawn.text
    assert "withdrawn and takes no more materials" in withdrawn.json()["detail"]


def test_the_applicant_reads_her_upload_before_submitting_as_an_attachment(stack, citizen):
    """Seen: after uploading, before submitting, the applicant was told the material 'has
    not been uploaded yet'; and index 99999 was 'a number from 0' though 4 digits is the
    bound."""
    # Given a draft case whose material is uploaded as HTML (pre-review would refuse it)
    created = apply(stack, citizen)
    index = created["uploads"][0]["index"]
    _swap(created["uploads"][0], b"<script>alert(1)</script>", "text/html")

    # When the applicant reads it: her latest upload, never served as HTML
    own = _material(stack, citizen, created["id"], index)
    assert own.status_code == 200, own.text
    assert own.json()["pinned"] is False and own.json()["signature_verified"] is False
    got = requests.get(own.json()["url"], timeout=20)
    assert got.content == b"<script>alert(1)</script>"
    assert got.headers["content-type"] == "application/octet-stream"
    assert got.headers["content-disposition"].startswith("attachment")

    # Then the reviewer reads nothing of a case not yet submitted, and is told so
    clerk = department_token(stack, ["cases:review"], agency=MARKET)
    early = _material(stack, clerk, created["id"], index)
    assert early.status_code == 404 and "submits" in early.json()["detail"], early.text

    # And an index beyond the bound is told the bound
    far = _material(stack, citizen, created["id"], "99999")
    assert far.status_code == 422, far.text
    assert "at most 4 digits" in far.json()["detail"], far.text
    assert "0 to 1" in far.json()["detail"], far.text
