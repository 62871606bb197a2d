"""The one-code index (一码管理) keeps the newest word on each record: an event delivered
again after a newer one (an SQS redelivery, a DLQ redrive, a replay) or arriving late
changes nothing, so a citizen's closed case is never shown as just submitted again.

The consumer runs in this process under the subject-index function's environment; the
records are read as the citizen reads them, through ``GET /subjects/{code}/records``."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import requests

from contracts.cases import CaseTransitioned
from contracts.events import Event
from tests.integration.conftest import CITIZEN, bearer
from tests.integration.test_payments import environment
from tests.integration.test_payments_once import Context


def transitioned(case_id: str, to_state: str, at: dt.datetime, applicant_key: str) -> Event:
    event = Event.create(
        "case.transitioned",
        CaseTransitioned(
            case_id=case_id,
            item_code="11350100MB0000001X-0001",
            agency="11350100MB0000001X",
            action="close" if to_state == "closed" else "submit",
            from_state=None,
            to_state=to_state,
            applicant_key=applicant_key,
            item_name="营业执照 business licence",
        ),
        source="govbus.applications",
        subject=case_id,
    )
    return event.model_copy(update={"time": at})


def batch(*events: Event) -> dict:
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "body": json.dumps({"detail": e.model_dump(mode="json")}),
                "attributes": {"ApproximateReceiveCount": "2"},
            }
            for e in events
        ]
    }


def test_an_older_event_delivered_again_does_not_undo_a_newer_record(stack, citizen_token):
    with environment(stack.functions["SubjectIndexFunction"].environment):
        from functions.subject_index import app
        from govbus.privacy import subject_key

        key = subject_key(CITIZEN)
        case_id = f"C-{uuid.uuid4().hex[:8]}"
        submitted_at = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
        submitted = transitioned(case_id, "submitted", submitted_at, key)
        closed = transitioned(case_id, "closed", submitted_at + dt.timedelta(days=3), key)

        assert app.lambda_handler(batch(submitted), Context()) == {"batchItemFailures": []}
        assert app.lambda_handler(batch(closed), Context()) == {"batchItemFailures": []}
        # the submission's event again, after the closing one (and one arriving late)
        assert app.lambda_handler(batch(submitted), Context()) == {"batchItemFailures": []}
        late = submitted.model_copy(update={"id": str(uuid.uuid4())})
        assert app.lambda_handler(batch(late), Context()) == {"batchItemFailures": []}

    answer = requests.get(
        f"{stack.url}/subjects/{CITIZEN}/records",
        params={"purpose": "check my records"},
        headers=bearer(citizen_token),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    mine = [r for r in answer.json()["records"] if r["record_id"] == case_id]
    assert [(r["source"], r["summary"]) for r in mine] == [
        ("applications", "营业执照 business licence: closed")
    ]
    assert mine[0]["time"].startswith("2026-11-05T09:00:00")
