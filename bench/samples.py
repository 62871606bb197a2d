"""One realistic sample event per function, against a running local stack."""

from __future__ import annotations

import json
import time
import uuid

from contracts.delivery import TrackingState


def _api_v2(
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict | None = None,
    params: dict | None = None,
    route: str | None = None,
) -> dict:
    return {
        "version": "2.0",
        "routeKey": f"{method} {route or path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {k.lower(): v for k, v in (headers or {}).items()},
        "requestContext": {
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "bench",
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "timeEpoch": int(time.time() * 1000),
        },
        "pathParameters": params or {},
        "body": body.decode(),
        "isBase64Encoded": False,
    }


EMS_TRACE = {
    "op_code": "20",
    "op_time": "2026-11-27T12:00:00+08:00",
    "op_org_city": "福州市",
    "op_desc": "运输中 in transit",
}
EMS_WAYBILL = "1100000000001"


def ems_push_event(stack) -> dict:
    sim = stack.simulators["ems"]
    headers, body = sim.push_body(EMS_WAYBILL, EMS_TRACE)
    return _api_v2(
        "POST", "/webhooks/ems", body, headers, {"partner": "ems"}, route="/webhooks/{partner}"
    )


def ems_tracking_event():
    """The bus event the sample EMS push becomes (as the webhooks function publishes it)."""
    from contracts.delivery import TrackingUpdate, TrackingUpdated
    from contracts.events import Event

    update = TrackingUpdate(
        waybill_no=EMS_WAYBILL,
        case_id="CASE-SAMPLE",
        state=TrackingState.in_transit,
        occurred_at=EMS_TRACE["op_time"],
        location=EMS_TRACE["op_org_city"],
        note=EMS_TRACE["op_desc"],
    )
    return Event.create(
        "delivery.tracking_updated",
        TrackingUpdated(carrier="ems", update=update),
        source="govbus.partner.ems",
        subject=update.case_id,
    )


def _scheduled() -> dict:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "time": "2026-11-27T00:00:00Z",
        "detail": {},
    }


def _sqs(stack, queue_logical: str, event) -> dict:
    envelope = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": event.type,
        "source": event.source,
        "detail": json.loads(event.model_dump_json()),
    }
    return _sqs_body(stack, queue_logical, json.dumps(envelope))


def _sqs_body(stack, queue_logical: str, body: str) -> dict:
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "bench",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": stack.resolver.attrs[queue_logical]["Arn"],
                "awsRegion": stack.region,
            }
        ]
    }


def samples(stack) -> dict[str, dict]:
    from contracts.delivery import TrackingUpdate, TrackingUpdated
    from contracts.events import Event
    from tests.integration.conftest import delivery_requested

    case = f"CASE-BENCH-{uuid.uuid4().hex[:8]}"
    tracking = Event.create(
        "delivery.tracking_updated",
        TrackingUpdated(
            carrier="ems",
            update=TrackingUpdate(
                waybill_no="1100000000001",
                case_id=case,
                state=TrackingState.in_transit,
                occurred_at="2026-11-27T12:00:00+08:00",
            ),
        ),
        source="govbus.partner.ems",
    )
    from contracts.accounts import AccountRegistered

    registered = Event.create(
        "account.registered",
        AccountRegistered(subject_key="0" * 64, subject_kind="citizen"),
        source="govbus.auth",
    )
    public_v2 = _api_v2("POST", "/auth/challenge")
    citizen = "350102199003071234"
    subjects = _api_v2(
        "GET",
        f"/subjects/{citizen}/records",
        params={"code": citizen},
        route="/subjects/{code}/records",
    )
    subjects["queryStringParameters"] = {"purpose": "benchmark"}
    subjects["requestContext"]["authorizer"] = {
        "lambda": {"sub": citizen, "kind": "citizen", "scopes": "self", "agency": ""}
    }
    from contracts.cases import LicenceRequested
    from contracts.licences import LicenceIssued

    def with_citizen(event: dict) -> dict:
        event["requestContext"]["authorizer"] = {
            "lambda": {"sub": citizen, "kind": "citizen", "scopes": "self", "agency": ""}
        }
        return event

    mine = with_citizen(_api_v2("GET", "/applications"))
    mine["queryStringParameters"] = {"mine": "true"}
    slots = _api_v2("GET", "/appointments/slots")
    slots["queryStringParameters"] = {"hall": "gulou-hall", "day": "2026-12-01"}
    issued_elsewhere = Event.create(
        "licence.issued",
        LicenceIssued(
            licence_id="1.2.156.3005.2.X.Y.1.001.0",
            type_code="11100000000013338W003",
            issuer="11350100MB00000012",
            holder_key="0" * 64,
            case_id="CASE-NOT-HERE",
        ),
        source="govbus.licences",
    )
    wanted = Event.create(
        "licence.requested",
        LicenceRequested(
            case_id=case,
            issuer="11350100MB00000012",
            type_code="11100000000013338W003",
            holder_code=citizen,
            holder_name="林小姐",
            fields={"trade_name": "bench"},
        ),
        source="govbus.applications",
    )

    def with_department(event: dict, scopes: str) -> dict:
        event["requestContext"]["authorizer"] = {
            "lambda": {
                "sub": "bench-client",
                "kind": "department",
                "scopes": scopes,
                "agency": "11350100MB00000012",
            }
        }
        return event

    import base64

    from adapters.iot.devices import Fleet

    sensor = next(m for m in Fleet(seed=7, devices_per_domain=1).messages() if m.kind == "valid")
    telemetry = _sqs_body(
        stack,
        "TelemetryQueue",
        json.dumps({"topic": sensor.topic, "payload": base64.b64encode(sensor.payload).decode()}),
    )
    bills = with_citizen(_api_v2("GET", "/bills"))
    preferences = with_citizen(_api_v2("GET", "/notifications/preferences"))
    report_day = "2026-11-26"
    reconciliation = with_department(
        _api_v2(
            "GET",
            f"/reconciliation/{report_day}",
            params={"day": report_day},
            route="/reconciliation/{day}",
        ),
        "payments:reconcile",
    )
    subscriptions = with_department(_api_v2("GET", "/subscriptions"), "subscriptions:manage")
    # the ops console's first read: every adapter's health and circuit
    ops_adapters = _api_v2("GET", "/ops/adapters")
    ops_adapters["requestContext"]["authorizer"] = {
        "lambda": {"sub": "bench-ops", "kind": "ops", "scopes": "ops", "agency": "ops"}
    }
    return {
        "OpsFunction": ops_adapters,
        "DisclosureFunction": _api_v2("GET", "/disclosure/documents"),
        "OpenDataFunction": _api_v2("GET", "/open-data"),
        "PaymentsFunction": bills,
        "NotificationsFunction": preferences,
        "ReconcileFunction": reconciliation,
        "SubscriptionsFunction": subscriptions,
        "TelemetryFunction": telemetry,
        "DeliveriesFunction": _sqs(stack, "SubscriptionEventsQueue", tracking),
        "PublisherFunction": _scheduled(),
        "ProvinceSyncFunction": _scheduled(),
        "ProvinceAlignFunction": _scheduled(),
        "CatalogFunction": _api_v2("GET", "/catalog/report"),
        "LicencesFunction": _api_v2(
            "POST",
            "/licences/not-a-licence/verify",
            params={"id": "not-a-licence"},
            route="/licences/{id}/verify",
        ),
        "ApplicationsFunction": mine,
        "AppointmentsFunction": slots,
        "HotlineFunction": with_citizen(_api_v2("GET", "/hotline/tickets")),
        "SupervisionFunction": {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "time": "2026-11-27T00:00:00Z",
            "detail": {},
        },
        "CaseEventsFunction": _sqs(stack, "CaseEventsQueue", issued_elsewhere),
        "LicenceRequestsFunction": _sqs(stack, "LicenceRequestsQueue", wanted),
        "AuthorizerFunction": {
            **_api_v2("GET", "/accounts/me", headers={"Authorization": "Bearer not-a-token"}),
            "type": "REQUEST",
        },
        "AuthFunction": public_v2,
        "SubjectIndexFunction": _sqs(stack, "SubjectIndexQueue", registered),
        "SubjectsFunction": subjects,
        "HealthFunction": _api_v2("GET", "/health"),
        "WebhooksFunction": ems_push_event(stack),
        "EventLogFunction": _sqs(stack, "EventLogQueue", tracking),
        "DispatcherFunction": _sqs(stack, "DispatchQueue", delivery_requested(case)),
        "DeliveryFunction": _sqs(stack, "DeliveryQueue", tracking),
        "HeartbeatFunction": {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "time": "2026-11-27T00:00:00Z",
            "detail": {},
        },
    }
