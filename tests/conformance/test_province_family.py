"""The province family's contract (the provincial online hall, and any other hall)."""

import pytest

from contracts.adapters import AdapterFamily, CallContext
from contracts.catalog import agency_of
from contracts.errors import NotFound, PartnerError, PartnerTimeout, RetryableError
from contracts.identity import credit_code_check_char
from contracts.province import (
    ProvinceCaseForward,
    ProvinceCaseReceipt,
    ProvinceCaseStatus,
    ProvinceItem,
    ProvinceMaterial,
)

FAMILY = AdapterFamily.province
APPLICANT = "350102199003071234"


def ctx(key="evt-1", timeout=1.0):
    return CallContext(correlation_id="corr-1", idempotency_key=key, timeout_seconds=timeout)


def first_item(harness) -> ProvinceItem:
    items = harness.call("govbus_province_list_items", ctx=ctx())
    assert items, "the hall's catalogue is empty"
    return items[0]


def forward(harness, case_id="CASE-P1", item_code=None, materials=()):
    return ProvinceCaseForward(
        case_id=case_id,
        item_code=item_code or first_item(harness).code,
        applicant_code=APPLICANT,
        applicant_name="林小姐",
        summary="申请建筑业企业资质 (qualification application)",
        materials=list(materials),
    )


def test_the_catalogue_lists_items_with_valid_codes_and_time_limits(harness):
    items = harness.call("govbus_province_list_items", ctx=ctx())
    assert items and all(isinstance(i, ProvinceItem) for i in items)
    for item in items:
        assert agency_of(item.code), "an item code starts with its agency's credit code"
        assert item.name and item.agency and item.time_limit_days > 0


def test_forwarding_a_case_gives_the_halls_case_number(harness):
    material = ProvinceMaterial(
        name="申请表 application form", content=b"%PDF-1.4", file_name="a.pdf"
    )
    reference = ProvinceMaterial(name="营业执照 business licence", reference="licence:LIC-1")
    receipt = harness.call(
        "govbus_province_forward_case",
        forward=forward(harness, materials=[material, reference]),
        ctx=ctx(),
    )
    assert isinstance(receipt, ProvinceCaseReceipt)
    assert receipt.case_id == "CASE-P1" and receipt.province_case_no
    assert receipt.status == ProvinceCaseStatus.received


def test_forwarding_one_case_twice_gives_one_province_case(harness):
    first = harness.call("govbus_province_forward_case", forward=forward(harness), ctx=ctx("a"))
    again = harness.call("govbus_province_forward_case", forward=forward(harness), ctx=ctx("b"))
    assert again.province_case_no == first.province_case_no


def test_querying_a_forwarded_case_returns_its_status_and_an_unknown_one_is_not_found(harness):
    receipt = harness.call("govbus_province_forward_case", forward=forward(harness), ctx=ctx())
    queried = harness.call(
        "govbus_province_query_case", province_case_no=receipt.province_case_no, ctx=ctx()
    )
    assert queried.province_case_no == receipt.province_case_no
    assert queried.case_id == "CASE-P1" and queried.status in ProvinceCaseStatus
    with pytest.raises(NotFound):
        harness.call("govbus_province_query_case", province_case_no="FJ-NO-SUCH-CASE", ctx=ctx())


def test_withdrawing_an_open_case_withdraws_it(harness):
    receipt = harness.call("govbus_province_forward_case", forward=forward(harness), ctx=ctx())
    withdrawn = harness.call(
        "govbus_province_withdraw_case",
        province_case_no=receipt.province_case_no,
        reason="申请人撤回 the applicant withdrew",
        ctx=ctx(),
    )
    assert withdrawn.status == ProvinceCaseStatus.withdrawn
    queried = harness.call(
        "govbus_province_query_case", province_case_no=receipt.province_case_no, ctx=ctx()
    )
    assert queried.status == ProvinceCaseStatus.withdrawn


def test_the_halls_refusal_is_a_partner_error_with_its_code(harness):
    agency = "11350000MB9999999"
    unknown = agency + credit_code_check_char(agency) + "999999"
    with pytest.raises(PartnerError) as refused:
        harness.call(
            "govbus_province_forward_case", forward=forward(harness, item_code=unknown), ctx=ctx()
        )
    assert refused.value.code, "the hall's fault code is kept on the error"
    assert refused.value.code in str(refused.value)


@pytest.mark.parametrize("fault", ["error_rate", "malformed_rate"])
def test_hall_failures_are_retryable(harness, fault):
    item = first_item(harness)
    harness.faults(**{fault: 1.0})
    with pytest.raises(RetryableError):
        harness.call(
            "govbus_province_forward_case", forward=forward(harness, item_code=item.code), ctx=ctx()
        )


def test_a_hall_that_does_not_answer_in_time_is_a_retryable_timeout(harness):
    item = first_item(harness)
    harness.faults(timeout_rate=1.0)
    with pytest.raises(PartnerTimeout):
        harness.call(
            "govbus_province_forward_case",
            forward=forward(harness, item_code=item.code),
            ctx=ctx(timeout=0.3),
        )
