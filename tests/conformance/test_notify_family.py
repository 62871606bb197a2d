"""The notify family's contract (the city's SMS gateway and any other channel)."""

import logging

import pytest

from contracts.adapters import AdapterFamily, CallContext
from contracts.errors import NotFound, PartnerTimeout, RetryableError
from contracts.notify import NotifyKind, NotifyMessage, NotifyReceipt, NotifyStatus

FAMILY = AdapterFamily.notify
PHONE = "13912345678"


def ctx(key="evt-1:appointment_reminder", timeout=1.0):
    return CallContext(correlation_id="corr-1", idempotency_key=key, timeout_seconds=timeout)


def message(text="您已预约明天09:00在鼓楼区行政服务中心办理，请按时到达。"):
    return NotifyMessage(
        to=PHONE, text=text, kind=NotifyKind.appointment_reminder, reference="BK-1"
    )


def test_a_message_is_accepted_with_an_id_whose_receipt_can_be_read(harness):
    receipt = harness.call("govbus_notify_send", message=message(), ctx=ctx())
    assert isinstance(receipt, NotifyReceipt) and receipt.message_id
    assert receipt.status in (NotifyStatus.accepted, NotifyStatus.delivered)
    later = harness.call("govbus_notify_status", message_id=receipt.message_id, ctx=ctx())
    assert later.message_id == receipt.message_id
    assert later.status in set(NotifyStatus)


def test_the_same_idempotency_key_sends_one_message(harness):
    first = harness.call("govbus_notify_send", message=message(), ctx=ctx("evt-2:k"))
    again = harness.call("govbus_notify_send", message=message(), ctx=ctx("evt-2:k"))
    other = harness.call("govbus_notify_send", message=message(), ctx=ctx("evt-3:k"))
    assert again.message_id == first.message_id
    assert other.message_id != first.message_id


def test_an_unknown_message_id_is_not_found(harness):
    with pytest.raises(NotFound):
        harness.call("govbus_notify_status", message_id="NO-SUCH-MESSAGE", ctx=ctx())


@pytest.mark.parametrize("fault", ["error_rate", "malformed_rate"])
def test_gateway_failures_are_retryable(harness, fault):
    harness.faults(**{fault: 1.0})
    with pytest.raises(RetryableError):
        harness.call("govbus_notify_send", message=message(), ctx=ctx())


def test_a_gateway_that_does_not_answer_in_time_is_a_retryable_timeout(harness):
    harness.faults(timeout_rate=1.0)
    with pytest.raises(PartnerTimeout):
        harness.call("govbus_notify_send", message=message(), ctx=ctx(timeout=0.3))


def test_the_phone_number_is_never_logged_unmasked(harness, caplog):
    caplog.set_level(logging.DEBUG)
    harness.call("govbus_notify_send", message=message(), ctx=ctx("evt-4:k"))
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert logged, "the adapter logs its calls out and back"
    assert PHONE not in logged
