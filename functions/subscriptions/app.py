"""Events out for departments: subscriptions to the bus over Standard Webhooks.

POST   /subscriptions                                   subscribe a URL to event types
GET    /subscriptions                                   the agency's subscriptions
GET    /subscriptions/{id}                              one
DELETE /subscriptions/{id}                              unsubscribe
POST   /subscriptions/{id}/rotate-secret                a new secret; the old signs 24 h more
POST   /subscriptions/{id}/test                         a subscription.test event, sent now
GET    /subscriptions/{id}/deliveries                   every delivery and its attempts
POST   /subscriptions/{id}/deliveries/{did}/retry       one more attempt, now
POST   /subscriptions/{id}/replay                       re-send archived events of a time range

Every route needs the scope ``subscriptions:manage``; a department sees and manages
only its own agency's subscriptions (another's answer 404, revealing nothing).
"""

from govbus import init_phase  # noqa: F401 - first: see govbus/init_phase.py

# isort: split

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from contracts.errors import Forbidden, NotFound
from contracts.subscriptions import (
    REVEAL_SCOPE,
    SCOPE,
    CreatedSubscription,
    Delivery,
    ReplayRequest,
    Subscription,
    SubscriptionRequest,
)
from govbus import audit, subscriptions
from govbus.auth import Caller, caller
from govbus.http import documented, install_problem_handlers, json_response
from govbus.observability import logger, metrics, tracer
from govbus.routing import HttpResolver, Response
from govbus.stores import subscriptions as store

app = HttpResolver()
install_problem_handlers(app)


class SubscriptionList(BaseModel):
    subscriptions: list[Subscription]


class Deliveries(BaseModel):
    deliveries: list[Delivery]


class Replay(BaseModel):
    replay_id: str
    deliveries: int


def department() -> Caller:
    who = caller(app)
    who.require(SCOPE)
    if not who.agency:
        raise Forbidden("only a department client (one with an agency) may subscribe")
    return who


def owned(who: Caller, sid: str) -> Subscription:
    sub = store.get_subscription(sid)
    if sub.agency != who.agency:
        raise NotFound(f"no subscription {sid}")
    return sub


@app.post(
    "/subscriptions",
    **documented(
        "Subscribe a department's endpoint to events (Standard Webhooks)",
        ok=CreatedSubscription,
        status=201,
        body=SubscriptionRequest,
        errors=(409,),
        scopes=("subscriptions:manage",),
    ),
)
def subscribe():
    who = department()
    request = SubscriptionRequest.model_validate(app.current_event.json_body or {})
    created = subscriptions.subscribe(request, who, reveal=who.may(REVEAL_SCOPE))
    audit.record("subscription.created", actor=who.subject, target=created.id, detail=created.url)
    return json_response(created, 201)


@app.get(
    "/subscriptions",
    **documented(
        "The agency's subscriptions", ok=SubscriptionList, scopes=("subscriptions:manage",)
    ),
)
def mine():
    who = department()
    return json_response(
        {"subscriptions": [s.model_dump(mode="json") for s in store.by_agency(who.agency or "")]}
    )


@app.get(
    "/subscriptions/<sid>",
    **documented(
        "One subscription", ok=Subscription, errors=(404,), scopes=("subscriptions:manage",)
    ),
)
def read(sid: str):
    return json_response(owned(department(), sid))


@app.delete(
    "/subscriptions/<sid>",
    **documented(
        "Remove a subscription", status=204, errors=(404,), scopes=("subscriptions:manage",)
    ),
)
def unsubscribe(sid: str):
    who = department()
    owned(who, sid)
    store.delete_subscription(sid)
    audit.record("subscription.deleted", actor=who.subject, target=sid)
    return Response(status_code=204)


@app.post(
    "/subscriptions/<sid>/rotate-secret",
    **documented(
        "Rotate a subscription's signing secret",
        ok=CreatedSubscription,
        errors=(404,),
        scopes=("subscriptions:manage",),
    ),
)
def rotate(sid: str):
    who = department()
    sub = owned(who, sid)
    secret = subscriptions.rotate(sub)
    audit.record("subscription.secret_rotated", actor=who.subject, target=sid)
    return json_response(CreatedSubscription(**sub.model_dump(), secret=secret))


@app.post(
    "/subscriptions/<sid>/test",
    **documented(
        "Send a test delivery",
        ok=Delivery,
        status=201,
        errors=(404, 409),
        scopes=("subscriptions:manage",),
    ),
)
def test(sid: str):
    sub = owned(department(), sid)
    return json_response(subscriptions.send_test(sub), 201)


@app.get(
    "/subscriptions/<sid>/deliveries",
    **documented(
        "A subscription's deliveries",
        ok=Deliveries,
        errors=(404,),
        scopes=("subscriptions:manage",),
    ),
)
def deliveries(sid: str):
    owned(department(), sid)
    return json_response(
        {"deliveries": [d.model_dump(mode="json") for d in store.deliveries_of(sid)]}
    )


@app.post(
    "/subscriptions/<sid>/deliveries/<did>/retry",
    **documented(
        "Retry a failed delivery", ok=Delivery, errors=(404, 409), scopes=("subscriptions:manage",)
    ),
)
def retry(sid: str, did: str):
    sub = owned(department(), sid)
    return json_response(subscriptions.retry(sub, did))


@app.post(
    "/subscriptions/<sid>/replay",
    **documented(
        "Re-deliver past events to a subscription",
        ok=Replay,
        status=202,
        body=ReplayRequest,
        errors=(404,),
        scopes=("subscriptions:manage",),
    ),
)
def replay(sid: str):
    who = department()
    sub = owned(who, sid)
    request = ReplayRequest.model_validate(app.current_event.json_body or {})
    answer = subscriptions.replay(sub, request)
    audit.record("subscription.replayed", actor=who.subject, target=sid, detail=answer["replay_id"])
    return json_response(answer, 202)


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
