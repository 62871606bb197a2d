"""Notifications to people: events become short Chinese messages sent through a
``notify`` adapter (SMS), after opt-outs and a per-recipient rate limit.

Events carry only blind-index subject keys, never a phone number: the recipient's
phone is looked up here, server-side (the account's sealed details; for a delivery,
the case's sealed delivery address). Phone numbers are never logged unmasked.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import functools

from contracts.adapters import CallContext
from contracts.errors import NotFound, ValidationFailed
from contracts.events import Event
from contracts.masking import mask_text
from contracts.notify import LEGALLY_REQUIRED, NotifyKind, NotifyMessage, Preferences
from govbus import settings as platform_settings
from govbus.observability import logger
from govbus.plugins import call, plugin_manager
from govbus.stores import accounts, cases
from govbus.stores import notifications as store

PORTAL = "榕城政务服务网"

# the message of each kind (短信模板); fields come from the event
TEMPLATES: dict[NotifyKind, str] = {
    NotifyKind.appointment_reminder: (
        "您已预约{day} {time}在{hall}办理事项{item}，请携带身份证件按时到达。"
        "如需取消，请登录" + PORTAL + "。"
    ),
    NotifyKind.case_needs_materials: (
        "您申请的“{item}”（办件号{case_id}）需补正材料：{reason}。请登录" + PORTAL + "一次性补齐。"
    ),
    NotifyKind.case_approved: "您申请的“{item}”（办件号{case_id}）已审批通过。",
    NotifyKind.case_rejected: (
        "您申请的“{item}”（办件号{case_id}）未予许可，理由：{reason}。"
        "如有异议，可依法申请行政复议或提起行政诉讼。"
    ),
    NotifyKind.fee_due: "您申请的“{item}”（办件号{case_id}）已审批通过，请登录"
    + PORTAL
    + "缴纳费用。",
    NotifyKind.licence_ready: (
        "您申请的“{item}”（办件号{case_id}）电子证照已签发，可在" + PORTAL + "“我的证照”查看。"
    ),
    NotifyKind.delivery_out: "您的办件结果（办件号{case_id}）正在派送，EMS运单号{waybill_no}，请保持电话畅通。",
    NotifyKind.hotline_answer: "您反映的“{title}”（12345工单{ticket_id}）已有答复，请登录"
    + PORTAL
    + "查看。",
    NotifyKind.case_overdue: "您的办件（办件号{case_id}）已超过承诺办结时限，已转督办，我们将尽快处理。",
}

# a case reaching these states tells the applicant
CASE_STATES: dict[str, NotifyKind] = {
    "returned_for_materials": NotifyKind.case_needs_materials,
    "approved": NotifyKind.case_approved,
    "rejected": NotifyKind.case_rejected,
    "awaiting_payment": NotifyKind.fee_due,
    "licence_issued": NotifyKind.licence_ready,
}


@dataclasses.dataclass(frozen=True)
class Notice:
    kind: NotifyKind
    recipient_key: str
    text: str
    reference: str
    case_id: str | None = None  # a delivery goes to the case's delivery phone


@dataclasses.dataclass(frozen=True)
class NotifySettings:
    adapter: str = "sms"
    rate_limit_per_hour: int = 5
    timeout_seconds: float = 5.0


@functools.cache
def settings() -> NotifySettings:
    return NotifySettings(
        adapter=platform_settings.tuning().notify_adapter,
        rate_limit_per_hour=int(platform_settings.tuning().notify_rate_limit_per_hour or 5),
    )


def notices(event: Event) -> list[Notice]:
    """What ``event`` tells a person, if anything."""
    data = event.data
    if event.type == "appointment.reminder":
        kind = NotifyKind.appointment_reminder
        text = TEMPLATES[kind].format(
            day=data["day"], time=data["time"], hall=data["hall"], item=data["item_code"]
        )
        return [Notice(kind, data["applicant_key"], text, data["booking_id"])]
    if event.type == "case.transitioned":
        kind = CASE_STATES.get(str(data.get("to_state")))
        if kind is None:
            return []
        text = TEMPLATES[kind].format(
            item=data.get("item_name") or data["item_code"],
            case_id=data["case_id"],
            reason=data.get("reason") or "详见办件详情",
        )
        return [Notice(kind, data["applicant_key"], text, data["case_id"])]
    if event.type == "hotline.answered":
        kind = NotifyKind.hotline_answer
        text = TEMPLATES[kind].format(title=data["title"], ticket_id=data["ticket_id"])
        return [Notice(kind, data["caller_key"], text, data["ticket_id"])]
    if event.type == "case.overdue":
        kind = NotifyKind.case_overdue
        key = _applicant_of(data["case_id"], event)
        if key is None:
            return []
        return [Notice(kind, key, TEMPLATES[kind].format(case_id=data["case_id"]), data["case_id"])]
    if event.type == "delivery.tracking_updated":
        update = data.get("update") or {}
        if update.get("state") != "out_for_delivery":
            return []
        kind = NotifyKind.delivery_out
        case_id = update["case_id"]
        if not _own_waybill(case_id, update["waybill_no"], event):
            return []
        key = _applicant_of(case_id, event)
        if key is None:
            return []
        text = TEMPLATES[kind].format(case_id=case_id, waybill_no=update["waybill_no"])
        return [Notice(kind, key, text, case_id, case_id=case_id)]
    return []


def _own_waybill(case_id: str, waybill_no: str, event: Event) -> bool:
    """Whether the courier's update is about the waybill created for the case: a signed
    push may name any case, and a text about someone else's parcel would tell a citizen
    of a delivery that is not hers (as the case's own close checks; see
    ``applications.delivered``). A waybill not recorded yet is retried."""
    from govbus.stores.shipments import ShipmentStore

    if ShipmentStore(platform_settings.table("shipments")).is_own_waybill(case_id, waybill_no):
        return True
    logger.warning(
        "a courier's update for a waybill not created for that case: nobody to tell",
        extra={"event_id": event.id, "case_id": case_id},
    )
    return False


def _applicant_of(case_id: str, event: Event) -> str | None:
    """The case's applicant; None, logged, for a case govbus does not hold (a courier's
    update for an order of someone else's, say): no retry would make it appear, so the
    event tells no one instead of failing until it is dead-lettered."""
    try:
        return cases.applicant_key(case_id)
    except NotFound:
        logger.warning(
            "no case for this event: nobody to tell",
            extra={"event_id": event.id, "event_type": event.type, "case_id": case_id},
        )
        return None


def phone_for(notice: Notice) -> str | None:
    if notice.case_id:
        try:
            delivery = cases.personal(notice.case_id).get("delivery") or {}
        except NotFound:
            delivery = {}
        if delivery.get("phone"):
            return str(delivery["phone"])
    return accounts.phone_of(notice.recipient_key)


def deliver(event: Event, notice: Notice, now: _dt.datetime | None = None) -> str:
    """Send one notice once; returns what happened (for logs and tests)."""
    now = now or _dt.datetime.now(_dt.UTC)
    log = {"event_id": event.id, "kind": notice.kind.value, "reference": notice.reference}
    if store.was_sent(event.id, notice.kind):
        return "duplicate"
    required = notice.kind in LEGALLY_REQUIRED
    skipped = None
    if not required and notice.kind in store.opted_out(notice.recipient_key):
        skipped = "opted_out"
    phone = None if skipped else phone_for(notice)
    if not skipped and (not phone or not phone.startswith("1")):
        skipped = "no_phone"
    if not skipped and not required:
        if not store.take_rate(notice.recipient_key, settings().rate_limit_per_hour, now):
            skipped = "rate_limited"
    if skipped or not phone:
        # the decision is recorded too: a redelivered event is not judged again
        store.mark_sent(event.id, notice.kind, "", skipped or "no_phone")
        logger.info("notice not sent", extra={**log, "outcome": skipped})
        return skipped or "no_phone"
    message = NotifyMessage(
        to=phone, text=notice.text, kind=notice.kind, reference=notice.reference
    )
    ctx = CallContext(
        correlation_id=event.correlationid,
        # stable per message: the gateway sends a repeated request once
        idempotency_key=f"{event.id}:{notice.kind.value}",
        timeout_seconds=settings().timeout_seconds,
    )
    receipt = call(
        plugin_manager(), settings().adapter, "govbus_notify_send", message=message, ctx=ctx
    )
    store.mark_sent(event.id, notice.kind, receipt.message_id, receipt.status.value)
    logger.info(
        "notice sent",
        extra={**log, "to": mask_text(phone), "message_id": receipt.message_id},
    )
    return "sent"


def preferences(subject_key: str) -> Preferences:
    return Preferences(opted_out=sorted(store.opted_out(subject_key)))


def set_preferences(subject_key: str, wanted: Preferences) -> Preferences:
    required = sorted(k.value for k in set(wanted.opted_out) & LEGALLY_REQUIRED)
    if required:
        raise ValidationFailed(
            f"{', '.join(required)}: a notice the law requires cannot be turned off",
            field="opted_out",
        )
    store.set_opted_out(subject_key, set(wanted.opted_out))
    return preferences(subject_key)
