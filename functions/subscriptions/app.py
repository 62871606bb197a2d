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

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from contracts.errors import Forbidden, NotFound
from contracts.subscriptions import (
    REVEAL_SCOPE,
    SCOPE,
    CreatedSubscription,
    ReplayRequest,
    Subscription,
    SubscriptionRequest,
)
from govbus import audit, subscriptions
from govbus.auth import Caller, caller
from govbus.http import install_problem_handlers, json_response
from govbus.observability import logger, metrics, tracer
from govbus.stores import subscriptions as store

app = APIGatewayHttpResolver()
install_problem_handlers(app)


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


@app.post("/subscriptions")
def subscribe():
    who = department()
    request = SubscriptionRequest.model_validate(app.current_event.json_body or {})
    created = subscriptions.subscribe(request, who, reveal=who.may(REVEAL_SCOPE))
    audit.record("subscription.created", actor=who.subject, target=created.id, detail=created.url)
    return json_response(created, 201)


@app.get("/subscriptions")
def mine():
    who = department()
    return json_response(
        {"subscriptions": [s.model_dump(mode="json") for s in store.by_agency(who.agency or "")]}
    )


@app.get("/subscriptions/<sid>")
def read(sid: str):
    return json_response(owned(department(), sid))


@app.delete("/subscriptions/<sid>")
def unsubscribe(sid: str):
    who = department()
    owned(who, sid)
    store.delete_subscription(sid)
    audit.record("subscription.deleted", actor=who.subject, target=sid)
    return Response(status_code=204)


@app.post("/subscriptions/<sid>/rotate-secret")
def rotate(sid: str):
    who = department()
    sub = owned(who, sid)
    secret = subscriptions.rotate(sub)
    audit.record("subscription.secret_rotated", actor=who.subject, target=sid)
    return json_response(CreatedSubscription(**sub.model_dump(), secret=secret))


@app.post("/subscriptions/<sid>/test")
def test(sid: str):
    sub = owned(department(), sid)
    return json_response(subscriptions.send_test(sub), 201)


@app.get("/subscriptions/<sid>/deliveries")
def deliveries(sid: str):
    owned(department(), sid)
    return json_response(
        {"deliveries": [d.model_dump(mode="json") for d in store.deliveries_of(sid)]}
    )


@app.post("/subscriptions/<sid>/deliveries/<did>/retry")
def retry(sid: str, did: str):
    owned(department(), sid)
    return json_response(subscriptions.retry(sid, did))


@app.post("/subscriptions/<sid>/replay")
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
