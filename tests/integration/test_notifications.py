"""Notifications to people over the local stack: supervision's reminders and case
decisions become SMS messages at the city gateway's simulator; opt-outs and the
per-recipient rate limit hold; legally required notices always go."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import requests

from contracts.cases import CaseTransitioned
from contracts.events import Event
from tests.conftest import wait_for
from tests.integration.conftest import CITIZEN, bearer, login, put_event
from tests.integration.test_appointments_and_hotline import (
    ITEM,
    TOMORROW,
    fire_supervision,
    open_slot,
)

PHONE = "13912345678"


@pytest.fixture
def sms(stack):
    from contracts.adapters import Faults

    simulator = stack.simulators["sms"]
    simulator.set_faults(Faults())
    simulator.clear()
    yield simulator
    simulator.set_faults(Faults())


@pytest.fixture
def citizen(stack, ca):
    stack.seed()
    token = login(stack, ca.issue(CITIZEN, "林小姐")).json()["access_token"]
    answer = requests.post(
        f"{stack.url}/accounts",
        json={"name": "林小姐", "phone": PHONE, "address": "福州市鼓楼区"},
        headers=bearer(token),
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    return token


def book_tomorrow(stack, token):
    open_slot(stack, capacity=5)
    answer = requests.post(
        f"{stack.url}/appointments",
        headers=bearer(token),
        json={
            "hall": "gulou-hall",
            "item_code": ITEM,
            "day": TOMORROW.isoformat(),
            "time": "09:00",
        },
        timeout=10,
    )
    assert answer.status_code == 201, answer.text


def archived_of(aws, stack, type_name):
    items = aws["dynamodb"].scan(TableName=stack.resolver.refs["EventLogTable"])["Items"]
    return [json.loads(i["envelope"]["S"]) for i in items if i["type"]["S"] == type_name]


def decision(applicant_key, to_state="approved", case_id="FZ-NOTIFY-1", reason=None):
    return Event.create(
        "case.transitioned",
        CaseTransitioned(
            case_id=case_id,
            item_code=ITEM,
            item_name="食品经营许可",
            agency=ITEM[:18],
            action="approve" if to_state == "approved" else "reject",
            from_state="in_review",
            to_state=to_state,
            applicant_key=applicant_key,
            reason=reason,
        ),
        source="govbus.applications",
        subject=case_id,
    )


def outcome_of(aws, stack, event_id, kind):
    """What the notifications function decided for one message, once it has."""
    table = stack.resolver.refs["NotificationsTable"]

    def probe():
        item = (
            aws["dynamodb"]
            .get_item(TableName=table, Key={"pk": {"S": f"sent#{event_id}#{kind}"}})
            .get("Item")
        )
        return item and item["outcome"]["S"]

    return wait_for(probe, what=f"the decision on {kind}")


def texts(sms, word):
    return [m for m in sms.sent_to(PHONE) if word in m["content"]]


def test_an_appointment_tomorrow_yields_one_sms_reminder(stack, aws, sms, citizen, capfd):
    book_tomorrow(stack, citizen)
    assert fire_supervision(stack, dt.datetime.now(dt.UTC))["reminders"] == 1

    reminder = wait_for(lambda: texts(sms, "您已预约"), what="the SMS reminder")[0]
    assert TOMORROW.isoformat() in reminder["content"] and "09:00" in reminder["content"]
    assert reminder["content"].startswith("【福州政务】")
    assert reminder["category"] == "appointment_reminder"

    # the same event delivered again (SQS at least once) sends nothing new; a marker
    # message to the same person proves the duplicate was handled before we count
    envelope = wait_for(
        lambda: archived_of(aws, stack, "appointment.reminder"), what="the archived reminder"
    )[0]
    event = Event.model_validate(envelope)
    put_event(aws, stack, event)
    put_event(aws, stack, decision(event.data["applicant_key"]))
    wait_for(lambda: texts(sms, "已审批通过"), what="the marker message")
    assert len(texts(sms, "您已预约")) == 1

    logged = capfd.readouterr()
    assert PHONE not in logged.out + logged.err, "phone numbers are masked in every log"
    assert "139****5678" in logged.out + logged.err


def test_an_opted_out_citizen_gets_no_reminder_but_still_gets_required_notices(
    stack, aws, sms, citizen
):
    url = f"{stack.url}/notifications/preferences"
    refused = requests.put(
        url, json={"opted_out": ["case_rejected"]}, headers=bearer(citizen), timeout=10
    )
    assert refused.status_code == 422 and "law requires" in refused.json()["detail"]
    changed = requests.put(
        url, json={"opted_out": ["appointment_reminder"]}, headers=bearer(citizen), timeout=10
    )
    assert changed.status_code == 200, changed.text
    assert requests.get(url, headers=bearer(citizen), timeout=10).json() == {
        "opted_out": ["appointment_reminder"]
    }

    book_tomorrow(stack, citizen)
    assert fire_supervision(stack, dt.datetime.now(dt.UTC))["reminders"] == 1
    reminder = wait_for(
        lambda: archived_of(aws, stack, "appointment.reminder"), what="the reminder event"
    )[0]
    put_event(
        aws,
        stack,
        decision(reminder["data"]["applicant_key"], "rejected", reason="材料不符合法定形式"),
    )
    rejected = wait_for(lambda: texts(sms, "未予许可"), what="the refusal notice")
    assert "材料不符合法定形式" in rejected[0]["content"]
    assert outcome_of(aws, stack, reminder["id"], "appointment_reminder") == "opted_out"
    assert texts(sms, "您已预约") == [], "no reminder for a citizen who opted out"


def test_the_rate_limit_caps_messages_per_person_but_not_required_notices(stack, aws, sms, citizen):
    book_tomorrow(stack, citizen)
    fire_supervision(stack, dt.datetime.now(dt.UTC))
    wait_for(lambda: texts(sms, "您已预约"), what="the reminder")  # 1 of 5 this hour
    key = archived_of(aws, stack, "appointment.reminder")[0]["data"]["applicant_key"]
    events = [decision(key, case_id=f"FZ-RATE-{i}") for i in range(6)]
    events.append(decision(key, "rejected", case_id="FZ-RATE-X", reason="不符合条件"))
    for event in events:
        put_event(aws, stack, event)

    def decided():
        table = stack.resolver.refs["NotificationsTable"]
        rows = aws["dynamodb"].scan(TableName=table)["Items"]
        done = {
            r["pk"]["S"].split("#")[1]: r["outcome"]["S"]
            for r in rows
            if r["pk"]["S"].startswith("sent#")
        }
        return all(e.id in done for e in events) and done

    outcomes = wait_for(decided, what="a decision on every message")
    assert sorted(outcomes[e.id] for e in events[:6]) == ["accepted"] * 4 + ["rate_limited"] * 2
    assert outcomes[events[6].id] == "accepted", "a required notice goes past the limit"
    assert len(texts(sms, "已审批通过")) == 4, "five an hour: one reminder and four more"
    assert len(texts(sms, "未予许可")) == 1


def test_the_gateway_failing_is_retried_until_it_sends_once(stack, aws, sms, citizen):
    from contracts.adapters import Faults

    book_tomorrow(stack, citizen)
    sms.set_faults(Faults(error_rate=1.0))
    fire_supervision(stack, dt.datetime.now(dt.UTC))
    wait_for(lambda: archived_of(aws, stack, "appointment.reminder"), what="the reminder event")
    sms.set_faults(Faults())
    wait_for(lambda: texts(sms, "您已预约"), timeout=20, what="the reminder after the outage")
    assert len(texts(sms, "您已预约")) == 1


def test_a_hotline_answer_and_a_delivery_out_tell_the_citizen(stack, aws, sms, citizen, capfd):
    from contracts.delivery import TrackingState, TrackingUpdate, TrackingUpdated
    from tests.integration.conftest import department_token
    from tests.integration.test_cases import EMS_TO_HOME, apply

    market = ITEM[:18]
    ticket = requests.post(
        f"{stack.url}/hotline/tickets",
        headers=bearer(citizen),
        json={
            "kind": "consultation",
            "title": "食品经营许可要带什么材料",
            "details": "请告知",
            "agency": market,
        },
        timeout=10,
    )
    assert ticket.status_code == 201, ticket.text
    handler = department_token(stack, ["hotline:handle"], agency=market)
    answered = requests.post(
        f"{stack.url}/hotline/tickets/{ticket.json()['id']}/answer",
        headers=bearer(handler),
        json={"answer": "请携带营业执照和身份证"},
        timeout=10,
    )
    assert answered.status_code == 200, answered.text
    told = wait_for(lambda: texts(sms, "已有答复"), what="the SMS about the answer")
    assert ticket.json()["id"] in told[0]["content"]

    # out for delivery: the courier's message goes to the delivery address's phone, for
    # the waybill created for the case only (a signed push may name any case)
    from contracts.delivery import Waybill
    from govbus.stores.shipments import ShipmentStore

    case = apply(stack, citizen, item=ITEM, delivery=EMS_TO_HOME)
    ShipmentStore(stack.resolver.refs["ShipmentsTable"]).waybill_created(
        Waybill(case_id=case["id"], waybill_no="1100000000001", carrier="ems"),
        dt.datetime.now(dt.UTC),
    )
    events = {
        waybill_no: Event.create(
            "delivery.tracking_updated",
            TrackingUpdated(
                carrier="ems",
                update=TrackingUpdate(
                    waybill_no=waybill_no,
                    case_id=case["id"],
                    state=TrackingState.out_for_delivery,
                    occurred_at=dt.datetime.now(dt.UTC),
                ),
            ),
            source="govbus.partner.ems",
            subject=case["id"],
        )
        for waybill_no in ("1199999999999", "1100000000001")  # someone else's, its own
    }
    put_event(aws, stack, events["1199999999999"])
    seen: list[str] = []

    def judged() -> bool:
        out = capfd.readouterr()
        seen.append(out.out + out.err)
        bogus = events["1199999999999"].id
        return any(
            bogus in line and "nobody to tell" in line for line in "".join(seen).splitlines()
        )

    wait_for(judged, what="the update for another waybill judged")
    put_event(aws, stack, events["1100000000001"])
    out = wait_for(
        lambda: [m for m in sms.sent_to(EMS_TO_HOME["phone"]) if "正在派送" in m["content"]],
        what="the SMS about the delivery",
    )
    assert len(out) == 1, "the update for another waybill told no one"
    assert "1100000000001" in out[0]["content"] and case["id"] in out[0]["content"]


def test_an_update_for_a_case_govbus_does_not_hold_tells_no_one_and_is_not_retried(
    stack, aws, capfd
):
    """A courier's push for an order that is not a govbus case (signed, so accepted) used
    to fail the consumer until SQS dead-lettered it, logging tracebacks on the way."""
    from contracts.delivery import TrackingState, TrackingUpdate, TrackingUpdated

    update = TrackingUpdate(
        waybill_no="1100000000099",
        case_id="FZX-NOT-A-CASE",
        state=TrackingState.out_for_delivery,
        occurred_at=dt.datetime.now(dt.UTC),
    )
    stray = Event.create(
        "delivery.tracking_updated",
        TrackingUpdated(carrier="ems", update=update),
        source="govbus.partner.ems",
        subject="FZX-NOT-A-CASE",
    )
    put_event(aws, stack, stray)
    seen: list[str] = []

    def logged_the_stray() -> bool:
        out = capfd.readouterr()
        seen.append(out.out + out.err)
        return any(
            stray.id in line and "nobody to tell" in line for line in "".join(seen).splitlines()
        )

    wait_for(logged_the_stray, what="the stray update judged")
    logs = "".join(seen)
    assert "Traceback" not in logs and "NotFound" not in logs, "judged once, without a failure"


def test_the_same_decision_delivered_twice_at_once_sends_one_sms(stack, aws, sms, citizen):
    """Notifications takes no once_per_event claim (docs/functions.md): its sent-record,
    and the gateway's idempotency key for copies handled side by side, are its guard."""
    from govbus.privacy import subject_key
    from tests.integration.test_payments import environment

    with environment(stack.functions["NotificationsFunction"].environment):
        applicant_key = subject_key(CITIZEN)
    refusal = decision(applicant_key, "rejected", case_id="FZ-TWICE-1", reason="材料不全")
    copy = {
        "EventBusName": stack.resolver.refs["EventBus"],
        "Source": refusal.source,
        "DetailType": refusal.type,
        "Detail": refusal.model_dump_json(),
    }
    queue = stack.resolver.refs["NotificationsQueue"]

    # Given the same event published twice at once (a duplicate publish; SQS may also
    # hand one message to two invocations)
    answer = aws["events"].put_events(Entries=[copy, copy])
    assert answer["FailedEntryCount"] == 0

    # When both copies are handled (the queue holds neither, visible or in flight)
    def drained() -> bool:
        counts = aws["sqs"].get_queue_attributes(
            QueueUrl=queue,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return all(v == "0" for v in counts.values())

    wait_for(lambda: texts(sms, "未予许可"), what="the refusal notice")
    wait_for(drained, what="both copies handled")

    # Then the citizen got one SMS
    assert len(texts(sms, "未予许可")) == 1
    assert outcome_of(aws, stack, refusal.id, "case_rejected") == "accepted"
