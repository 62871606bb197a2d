"""Which events tell a person what, in which words (no stack: the pure part)."""

import pytest

from contracts.appointments import AppointmentReminder
from contracts.cases import CaseTransitioned
from contracts.events import Event
from contracts.notify import LEGALLY_REQUIRED, NotifyKind, Preferences
from govbus import notifications

AGENCY = "11350100MB00000012"


def transition(to_state, reason=None):
    return Event.create(
        "case.transitioned",
        CaseTransitioned(
            case_id="FZ-1",
            item_code=AGENCY + "XK0001",
            item_name="食品经营许可",
            agency=AGENCY,
            action="x",
            from_state="in_review",
            to_state=to_state,
            applicant_key="k" * 64,
            reason=reason,
        ),
        source="govbus.applications",
    )


@pytest.mark.parametrize(
    ("state", "kind", "words"),
    [
        ("returned_for_materials", NotifyKind.case_needs_materials, "需补正材料：缺少身份证复印件"),
        ("approved", NotifyKind.case_approved, "已审批通过"),
        ("rejected", NotifyKind.case_rejected, "未予许可，理由：缺少身份证复印件"),
        ("awaiting_payment", NotifyKind.fee_due, "缴纳费用"),
        ("licence_issued", NotifyKind.licence_ready, "电子证照已签发"),
    ],
)
def test_a_case_decision_tells_the_applicant_in_chinese(state, kind, words):
    [notice] = notifications.notices(transition(state, reason="缺少身份证复印件"))
    assert notice.kind == kind and notice.recipient_key == "k" * 64
    assert words in notice.text and "食品经营许可" in notice.text and "FZ-1" in notice.text


@pytest.mark.parametrize("state", ["submitted", "accepted", "in_review", "closed"])
def test_steps_a_person_need_not_hear_about_send_nothing(state):
    assert notifications.notices(transition(state)) == []


def test_the_reminder_names_the_day_time_and_hall():
    event = Event.create(
        "appointment.reminder",
        AppointmentReminder(
            booking_id="BK-1",
            applicant_key="k" * 64,
            hall="鼓楼区行政服务中心",
            item_code=AGENCY + "XK0001",
            day="2026-11-28",
            time="09:00",
        ),
        source="govbus.supervision",
    )
    [notice] = notifications.notices(event)
    assert notice.kind == NotifyKind.appointment_reminder
    assert "2026-11-28 09:00在鼓楼区行政服务中心" in notice.text


def test_every_kind_a_template_sends_has_one_and_required_kinds_cannot_be_opted_out():
    assert set(notifications.CASE_STATES.values()) <= set(notifications.TEMPLATES)
    assert LEGALLY_REQUIRED <= set(notifications.TEMPLATES)
    with pytest.raises(Exception, match="law requires"):
        notifications.set_preferences("k" * 64, Preferences(opted_out=[NotifyKind.case_rejected]))
