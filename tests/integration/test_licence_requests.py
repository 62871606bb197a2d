"""The e-licence of an approved case is issued only while the case is still approved: a
clerk who rejects the case (approved -> rejected) before the request is served stops it."""

import contextlib

import pytest

from tests.conftest import wait_for
from tests.integration.conftest import CITIZEN, department_token, login
from tests.integration.test_cases import MARKET, apply, case_of, post, upload


@pytest.fixture
def citizen(stack, ca):
    stack.seed()
    return login(stack, ca.issue(CITIZEN, "林小姐")).json()["access_token"]


@contextlib.contextmanager
def licence_requests_held(stack):
    """The licence requests wait in their queue, unserved, until the block ends."""
    poller = next(p for p in stack.pollers if p.function.logical_id == "LicenceRequestsFunction")
    poller.pause()
    try:
        yield
    finally:
        poller.resume()


def queue_depth(aws, stack, logical_id):
    attributes = aws["sqs"].get_queue_attributes(
        QueueUrl=stack.resolver.refs[logical_id],  # a queue's Ref is its URL
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(v) for v in attributes.values())


def request_queued(aws, stack):
    wait_for(
        lambda: queue_depth(aws, stack, "LicenceRequestsQueue") >= 1,
        what="the approval's licence request to reach its queue",
    )


def requests_served(aws, stack):
    wait_for(
        lambda: queue_depth(aws, stack, "LicenceRequestsQueue") == 0,
        what="every licence request to be served",
    )


def licences_of(aws, stack, case_id):
    rows = aws["dynamodb"].scan(TableName=stack.resolver.refs["LicencesTable"])["Items"]
    return [r["id"]["S"] for r in rows if r.get("case_id", {}).get("S") == case_id]


def approved_case(stack, citizen, clerk):
    created = apply(stack, citizen)
    upload(created["uploads"][0])
    assert post(stack, citizen, f"/applications/{created['id']}/submit").ok
    assert post(stack, clerk, f"/applications/{created['id']}/actions", {"action": "accept"}).ok
    approved = post(stack, clerk, f"/applications/{created['id']}/actions", {"action": "approve"})
    assert approved.status_code == 200, approved.text
    assert approved.json()["state"] == "approved"
    return created["id"]


def test_a_case_rejected_after_approval_gets_no_licence(stack, aws, citizen):
    clerk = department_token(stack, ["cases:review"], agency=MARKET)
    with licence_requests_held(stack):
        rejected_id = approved_case(stack, citizen, clerk)
        request_queued(aws, stack)
        rejected = post(
            stack,
            clerk,
            f"/applications/{rejected_id}/actions",
            {"action": "reject", "reason": "复核发现经营场所不符 premises failed the re-check"},
        )
        assert rejected.status_code == 200, rejected.text
        # a second case stays approved: its licence shows the requests were served
        kept_id = approved_case(stack, citizen, clerk)

    wait_for(
        lambda: case_of(stack, citizen, kept_id)["state"] == "licence_issued",
        what="the still-approved case's licence",
    )
    requests_served(aws, stack)
    assert queue_depth(aws, stack, "LicenceRequestsDLQ") == 0, "served, not dead-lettered"
    assert len(licences_of(aws, stack, kept_id)) == 1
    assert licences_of(aws, stack, rejected_id) == []
    case = case_of(stack, citizen, rejected_id)
    assert case["state"] == "closed" and case["licence_id"] is None
    assert "licence_issued" not in [e["action"] for e in case["timeline"]]


def test_a_rejection_landing_while_the_licence_is_sealed_stops_it(stack, aws, citizen, ca):
    """The state is read, then the CA seals (a partner call that takes its time), then the
    licence is written: a rejection that lands in between must still stop the licence,
    so the write itself holds only while the case is approved."""
    clerk = department_token(stack, ["cases:review"], agency=MARKET)
    with licence_requests_held(stack):
        case_id = approved_case(stack, citizen, clerk)
        request_queued(aws, stack)
        seal = ca._seal
        rejections = []

        def seal_after_a_rejection(handler, body):
            # the request was served past its state check: now the clerk rejects
            if not rejections:
                rejections.append(None)
                rejections[0] = post(
                    stack,
                    clerk,
                    f"/applications/{case_id}/actions",
                    {
                        "action": "reject",
                        "reason": "复核发现资料不实 the documents failed a re-check",
                    },
                )
            return seal(handler, body)

        ca._seal = seal_after_a_rejection
    try:
        wait_for(
            lambda: rejections and queue_depth(aws, stack, "LicenceRequestsQueue") == 0,
            what="the licence request to be served, with a rejection during its seal",
        )
    finally:
        ca._seal = seal
    assert rejections[0].status_code == 200, rejections[0].text
    assert queue_depth(aws, stack, "LicenceRequestsDLQ") == 0, "served, not dead-lettered"
    assert licences_of(aws, stack, case_id) == [], "no licence for a rejected case"
    case = case_of(stack, citizen, case_id)
    assert case["state"] in {"rejected", "closed"} and case["licence_id"] is None


def test_a_department_issues_a_cases_licence_only_for_its_approved_case_and_applicant(
    stack, aws, citizen
):
    """POST /licences naming a case: the case is real, the department's, approved, and
    the holder is its applicant; otherwise nothing is written."""
    clerk = department_token(stack, ["cases:review"], agency=MARKET)
    issuer = department_token(stack, ["licences:issue"], agency=MARKET)
    stranger = department_token(stack, ["licences:issue"], agency="11350100MB00000025")

    def issue(token, case_id, holder=CITIZEN):
        return post(
            stack,
            token,
            "/licences",
            {
                "type_code": "11100000000013338W002",
                "holder_code": holder,
                "holder_name": "林小姐",
                "case_id": case_id,
            },
        )

    with licence_requests_held(stack):
        case_id = approved_case(stack, citizen, clerk)
        missing = issue(issuer, "FZ20990101DEADBEEF")
        assert missing.status_code == 422, missing.text
        assert missing.json()["field"] == "case_id"
        foreign = issue(stranger, case_id)
        assert foreign.status_code == 403, foreign.text
        someone_else = issue(issuer, case_id, holder="11350100MB00000012")
        assert someone_else.status_code == 422, someone_else.text
        assert someone_else.json()["field"] == "holder_code"
        assert licences_of(aws, stack, case_id) == [], "no refused request wrote a licence"
        issued = issue(issuer, case_id)
        assert issued.status_code == 201, issued.text
        wait_for(
            lambda: case_of(stack, citizen, case_id)["state"] != "approved",
            what="the case to take its licence",
        )
        again = issue(issuer, case_id)
        assert again.status_code == 409, again.text
    requests_served(aws, stack)
    assert licences_of(aws, stack, case_id) == [issued.json()["id"]], "one licence, no second"


def test_a_department_licence_naming_a_case_reads_the_case_once(stack, citizen):
    """POST /licences with a case_id checks the case's agency, state and applicant from one
    read of the case item (it read the whole case, then the case item again)."""
    from contracts.adapters import CallContext
    from contracts.errors import ValidationFailed
    from contracts.licences import IssueRequest
    from govbus import licensing, settings
    from govbus.aws import client

    clerk = department_token(stack, ["cases:review"], agency=MARKET)
    with licence_requests_held(stack):
        case_id = approved_case(stack, citizen, clerk)
    env = stack.functions["LicencesFunction"].environment
    cases_table = env["CASES_TABLE"]
    reads: list[str] = []

    def note(model, params, **_kwargs) -> None:
        if params.get("TableName") == cases_table:
            reads.append(model.name)

    request = IssueRequest(
        type_code="11100000000013338W002",
        holder_code="11350100MB00000012",  # not the applicant: refused after the checks
        holder_name="某公司",
        case_id=case_id,
    )
    with settings.override(cases=cases_table, stage="dev"):
        ddb = client("dynamodb")
        ddb.meta.events.register("provide-client-params.dynamodb.*", note)
        try:
            with pytest.raises(ValidationFailed) as refused:
                licensing.issue_by_department(
                    request,
                    MARKET,
                    "dept-test",
                    CallContext(correlation_id="c-1", idempotency_key="k-1"),
                )
        finally:
            ddb.meta.events.unregister("provide-client-params.dynamodb.*", note)
    assert refused.value.field == "holder_code"
    assert reads == ["GetItem"], reads
