"""The API authorizer: every non-public route passes here first.

Verifies the bearer token, then checks that its subject still may act: a citizen's or
enterprise's account is not deregistered, a department's client is not revoked; an ops
token is refused on every route outside ``/ops/``. The
caller's subject, kind, scopes and agency reach the route as the authorizer context.
"""

from govbus import init_phase  # noqa: F401 - first: see govbus/init_phase.py

# isort: split

from aws_lambda_powertools.utilities.typing import LambdaContext

from contracts.accounts import AccountStatus
from contracts.errors import Unauthenticated
from govbus import audit
from govbus.auth import CLIENT_KINDS, OPS, read_token
from govbus.observability import logger, metrics, tracer
from govbus.stores import accounts, clients

DENY = {"isAuthorized": False}


def decide(headers: dict, route: str) -> dict:
    header = headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
    claims = read_token(token)
    subject, kind = claims["sub"], claims.get("kind", "")
    path = route.split(" ", 1)[-1]
    if kind == OPS and not path.startswith("/ops/"):
        # an operator's token opens the ops API and nothing else, refused alike everywhere
        raise Unauthenticated("an ops token opens the /ops routes only")
    if kind in CLIENT_KINDS:
        if not clients.is_active(subject):
            raise Unauthenticated("this client has been revoked")
    elif accounts.status_of(subject) == AccountStatus.deregistered:
        raise Unauthenticated("this account has been deregistered")
    return {
        "isAuthorized": True,
        "context": {
            "sub": subject,
            "kind": kind,
            "scopes": " ".join(claims.get("scopes", [])),
            "agency": claims.get("agency", ""),
        },
    }


@metrics.log_metrics
@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    route = event.get("routeKey", "")
    try:
        return decide(event.get("headers") or {}, route)
    except Unauthenticated as exc:
        logger.info("request refused", extra={"route": route, "reason": str(exc)})
        audit.record(
            "auth.refused", actor="anonymous", target=route, outcome="refused", detail=str(exc)
        )
        return DENY
