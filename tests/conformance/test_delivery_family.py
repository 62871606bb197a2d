"""The delivery family's contract (EMS and any other courier)."""

import pytest

from contracts.adapters import AdapterFamily, CallContext
from contracts.delivery import Address, TrackingUpdate, Waybill, WaybillRequest
from contracts.errors import PartnerError, PartnerTimeout, RetryableError

FAMILY = AdapterFamily.delivery

HALL = Address(
    name="福州市行政服务中心",
    phone="059187000000",
    province="福建省",
    city="福州市",
    district="鼓楼区",
    street="湖东路1号",
)
HOME = Address(
    name="林小姐",
    phone="13812345678",
    province="福建省",
    city="福州市",
    district="台江区",
    street="五一中路88号",
)


def ctx(key="evt-1", timeout=1.0):
    return CallContext(correlation_id="corr-1", idempotency_key=key, timeout_seconds=timeout)


def request(case_id="CASE-C1", receiver=HOME):
    return WaybillRequest(case_id=case_id, sender=HALL, receiver=receiver)


def test_a_valid_request_creates_a_waybill(harness):
    waybill = harness.call("govbus_delivery_create_waybill", request=request(), ctx=ctx())
    assert isinstance(waybill, Waybill)
    assert waybill.case_id == "CASE-C1" and waybill.waybill_no and waybill.carrier == harness.name


def test_creating_twice_for_one_case_gives_one_waybill(harness):
    first = harness.call("govbus_delivery_create_waybill", request=request(), ctx=ctx("a"))
    again = harness.call("govbus_delivery_create_waybill", request=request(), ctx=ctx("b"))
    assert again.waybill_no == first.waybill_no


def test_tracking_a_new_waybill_returns_contract_updates(harness):
    waybill = harness.call("govbus_delivery_create_waybill", request=request(), ctx=ctx())
    updates = harness.call("govbus_delivery_track", waybill_no=waybill.waybill_no, ctx=ctx())
    assert isinstance(updates, list) and all(isinstance(u, TrackingUpdate) for u in updates)


def test_the_partners_refusal_is_a_partner_error(harness):
    bad = HOME.model_copy(update={"phone": "12345"})
    with pytest.raises(PartnerError):
        harness.call("govbus_delivery_create_waybill", request=request(receiver=bad), ctx=ctx())


@pytest.mark.parametrize("fault", ["error_rate", "malformed_rate"])
def test_partner_failures_are_retryable(harness, fault):
    harness.faults(**{fault: 1.0})
    with pytest.raises(RetryableError):
        harness.call("govbus_delivery_create_waybill", request=request(), ctx=ctx())


def test_a_partner_that_does_not_answer_in_time_is_a_retryable_timeout(harness):
    harness.faults(timeout_rate=1.0)
    with pytest.raises(PartnerTimeout):
        harness.call("govbus_delivery_create_waybill", request=request(), ctx=ctx(timeout=0.3))


def test_cancelling_before_pick_up_works_and_an_unknown_waybill_is_refused(harness):
    waybill = harness.call("govbus_delivery_create_waybill", request=request("CASE-C2"), ctx=ctx())
    cancelled = harness.call(
        "govbus_delivery_cancel_waybill", waybill_no=waybill.waybill_no, ctx=ctx()
    )
    assert cancelled.state == "cancelled"
    with pytest.raises(PartnerError):
        harness.call("govbus_delivery_cancel_waybill", waybill_no="1199999999999", ctx=ctx())
