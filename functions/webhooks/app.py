"""POST /webhooks/{partner}: a partner's push becomes events on the bus, exactly once.

verify (the partner's adapter, over the raw bytes) -> parse (into contract events)
-> one conditional write of the delivery's receipt (govbus.pushes) -> PutEvents -> 202
with the event ids. The same delivery id with the same body is published again under
the same event ids (every consumer takes an event id once) and answered the same 202;
the same id with another body is 409. Nothing is published for a refused request.
"""

from govbus import init_phase  # noqa: F401 - first: see govbus/init_phase.py

# isort: split

import base64
import hashlib
import json
import time
import uuid

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from pydantic import BaseModel

from contracts.adapters import InboundRequest
from contracts.constrained import MAX_JSON_DEPTH, delivery_id, json_depth, valid_correlation_id
from contracts.errors import (
    AdapterNotFound,
    InvalidRequest,
    PartnerUnavailable,
    PayloadTooLarge,
    SignatureInvalid,
    Unauthenticated,
)
from contracts.events import Event
from contracts.masking import mask_text
from contracts.signatures import active_secrets
from govbus import audit, pushes, settings
from govbus.aws import forget_secret, get_secret_json, secret_is_cached, stage
from govbus.http import documented, install_problem_handlers, problem
from govbus.observability import count, logger, metrics, tracer
from govbus.plugins import adapter_info, call, implements, plugin_manager
from govbus.routing import HttpResolver, Response

MAX_BODY_BYTES = settings.tuning().webhook_max_body_bytes
# event ids of a push are derived from it (uuid5 in this namespace), not drawn at random
PUSH_EVENT_IDS = uuid.UUID("5d1f0b1e-2c41-4c8e-9a57-7b1f4f3e9c20")
# an EventBridge entry is at most 256 KB, its own envelope included
MAX_EVENT_BYTES = 200 * 1024

app = HttpResolver()
install_problem_handlers(app)


class Accepted(BaseModel):
    partner: str
    delivery_id: str
    event_ids: list[str]


def raw_body() -> bytes:
    event = app.current_event
    body = event.get("body") or ""
    raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body has {len(raw)} bytes; at most {MAX_BODY_BYTES} allowed")
    return raw


def partner_secrets(partner: str) -> list[str]:
    """Every active push secret of the partner; 503 when ops has not stored one yet."""
    name = f"govbus/{stage()}/webhooks/{partner}"
    try:
        secrets = active_secrets(get_secret_json(name))
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        secrets = []
    if not secrets:
        raise PartnerUnavailable(
            f"no push secret is configured for {partner}; ask operations to store one as {name}"
        )
    return secrets


REFRESH_SECONDS = 10.0
"""At most one early re-read of a partner's secret per this long (forged pushes cannot
make every request a Secrets Manager call)."""
_refreshed_at: dict[str, float] = {}


def verified(pm, partner: str, request: InboundRequest) -> object:
    """The adapter's delivery id for a push that verifies under the partner's secrets.

    The secrets are cached for five minutes; a push signed with a secret rotated since
    (the partner was given it and ``drop-previous`` run) does not verify under the cached
    ones: read them again, once, before refusing it."""

    def verify() -> object:
        return call(
            pm, partner, "govbus_webhook_verify", request=request, secrets=partner_secrets(partner)
        )

    name = f"govbus/{stage()}/webhooks/{partner}"
    cached = secret_is_cached(name)
    try:
        return verify()
    except SignatureInvalid:
        now = time.monotonic()
        if not cached or now - _refreshed_at.get(partner, -REFRESH_SECONDS) < REFRESH_SECONDS:
            raise
        _refreshed_at[partner] = now
        forget_secret(name)
        return verify()


def checked_delivery_id(value: object) -> str:
    """The adapter's delivery id, bounded: it becomes part of the idempotency key."""
    return delivery_id(value)


def correlation_id(header: str | None, delivery: str) -> str:
    """The caller's X-Correlation-Id if it is a safe id; the delivery id (or a new id) if not.

    The header is not covered by the signature, so it is never trusted into a key as is.
    """
    if valid_correlation_id(header) and mask_text(header) == header:
        return header
    # not an id we may store (too long, odd characters, or someone's identity code)
    return delivery if mask_text(delivery) == delivery else str(uuid.uuid4())


def push_event_id(partner: str, delivery: str, body_sha256: str, index: int) -> str:
    """The id of a push's ``index``-th event: the same for every delivery of the push.

    Every delivery of the push puts its events on the bus again (a retry after a PutEvents
    failure or an answer never received, two deliveries at once): under the same ids,
    every consumer's once-per-event-id check holds and the event log archives the push
    once (govbus.pushes).
    """
    return str(uuid.uuid5(PUSH_EVENT_IDS, f"{partner}\n{delivery}\n{body_sha256}\n{index}"))


def parse_events(pm, partner: str, request: InboundRequest) -> list[Event]:
    """The adapter's events, with the body's JSON depth bounded before any parser runs."""
    if request.headers.get("content-type", "").split(";")[0].strip().endswith("json"):
        depth = json_depth(request.body.decode("utf-8", "replace"))
        if depth > MAX_JSON_DEPTH:
            raise InvalidRequest(
                f"the body nests {depth} levels deep; at most {MAX_JSON_DEPTH} allowed",
                field="(body)",
            )
    try:
        events = call(pm, partner, "govbus_webhook_parse", request=request)
    except RecursionError:  # an adapter's own parser met a body nested too deep
        raise InvalidRequest("the body nests too deep to read", field="(body)") from None
    if not events:
        raise InvalidRequest("the body holds no event this bus understands")
    for event in events:
        size = len(event.model_dump_json().encode())
        if size > MAX_EVENT_BYTES:  # EventBridge would refuse it after the 202
            raise PayloadTooLarge(
                f"the push becomes an event of {size} bytes; at most {MAX_EVENT_BYTES} allowed"
            )
    return events


@app.post(
    "/webhooks/<partner>",
    **documented(
        "A partner's signed push (the partner's own wire format)",
        ok=Accepted,
        status=202,
        errors=(400, 401, 404, 409, 413, 422),
        scopes=None,
    ),
)
def receive(partner: str):
    pm = plugin_manager()
    if pm.get_plugin(partner) is None or not implements(pm, partner, "govbus_webhook_verify"):
        raise AdapterNotFound(f"no partner named {partner!r} pushes to this bus")
    body = raw_body()
    request = InboundRequest(
        partner=partner,
        method="POST",
        path=app.current_event.path,
        headers={k.lower(): v for k, v in (app.current_event.headers or {}).items()},
        body=body,
        received_at=time.time(),
    )
    try:
        delivery_id = checked_delivery_id(verified(pm, partner, request))
    except Unauthenticated as exc:
        audit.record(
            "webhook.refused",
            actor=f"partner:{partner}",
            target=request.path,
            outcome="refused",
            detail=str(exc),
        )
        raise
    events = parse_events(pm, partner, request)
    correlation = correlation_id(request.headers.get("x-correlation-id"), delivery_id)
    body_sha256 = hashlib.sha256(body).hexdigest()
    # the source is the host's to set: an adapter cannot speak for another partner
    events = [
        e.model_copy(
            update={
                "source": f"govbus.partner.{partner}",
                "correlationid": correlation,
                "id": push_event_id(partner, delivery_id, body_sha256, i),
            }
        )
        for i, e in enumerate(events)
    ]
    try:
        event_ids = pushes.accept(partner, delivery_id, body_sha256, events)
    except pushes.DeliveryIdReused:
        return problem(
            409,
            "delivery-id-reused",
            "Delivery id reused with another body",
            f"delivery {delivery_id!r} was already received with a different body",
        )
    ack = adapter_info(pm, partner).webhook_ack
    if ack is not None:  # the partner's own "delivered" answer (e.g. 200 "success")
        return Response(status_code=ack.status, content_type=ack.content_type, body=ack.body)
    return Response(
        status_code=202,
        content_type="application/json",
        body=json.dumps(
            Accepted(partner=partner, delivery_id=delivery_id, event_ids=event_ids).model_dump(),
            ensure_ascii=False,
        ),
    )


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    answer = app.resolve(event, context)
    count_outcome(event, answer)
    return answer


def count_outcome(event: dict, answer: dict) -> None:
    """WebhookAccepted or WebhookRefused (with the problem's type as reason), per partner."""
    status = int(answer.get("statusCode", 500))
    partner = str((event.get("pathParameters") or {}).get("partner") or "-")
    if status < 400:
        return count("WebhookAccepted", {"partner": partner})
    try:
        reason = json.loads(answer.get("body") or "{}").get("type", "").rsplit("/", 1)[-1]
    except (ValueError, AttributeError):
        reason = ""
    if reason == "unknown-partner":  # a name from the URL, not a partner: one bucket
        partner = "(unknown)"
    return count("WebhookRefused", {"partner": partner, "reason": reason or str(status)})
