"""Certificate login, department client credentials, and the account lifecycle.

POST /auth/challenge            a nonce to sign (public)
POST /auth/login                nonce + certificate + signature -> token (public)
POST /auth/token                department client credentials -> token (public)
POST /accounts                  register the logged-in subject
GET|PATCH|DELETE /accounts/me   read, change, deregister one's own account
"""

from govbus import init_phase  # noqa: F401 - first: see govbus/init_phase.py

# isort: split

import base64
import binascii
import datetime as dt
from typing import Literal

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from contracts.accounts import (
    Account,
    AccountDeregistered,
    AccountDetails,
    AccountRegistered,
    AccountStatus,
    AccountUpdated,
    DetailsChange,
)
from contracts.adapters import CallContext
from contracts.auth import DetachedSignature, LoginChallenge
from contracts.constrained import ShortText, bounded_text
from contracts.errors import Forbidden, GovbusError, InvalidRequest, Unauthenticated
from contracts.events import Event
from contracts.identity import mask_identifier
from govbus import audit, settings
from govbus.auth import SELF, caller, issue_token
from govbus.aws import client
from govbus.bus import publish
from govbus.http import documented, install_problem_handlers, json_response
from govbus.observability import logger, metrics, tracer
from govbus.plugins import call, plugin_manager
from govbus.privacy import subject_key
from govbus.routing import HttpResolver
from govbus.stores import accounts, clients

CA = settings.platform().ca_adapter
CHALLENGES = settings.table("challenges")
SOURCE = "govbus.auth"

app = HttpResolver()
install_problem_handlers(app)


class CitizenToken(BaseModel):
    access_token: str
    token_type: str
    expires_in: int
    subject: str = Field(description="the subject's code, masked")
    subject_kind: str


class ClientToken(BaseModel):
    access_token: str
    token_type: str
    expires_in: int
    scopes: list[str]


class Deregistered(BaseModel):
    status: str


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    nonce: str = Field(min_length=16, max_length=200)
    certificate_pem: str = Field(min_length=100, max_length=20_000)
    signature: str = Field(min_length=16, max_length=2_000, description="base64")
    algorithm: str = "ECDSA-P256-SHA256"


class ClientCredentials(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # control and bidi-override characters are refused (422), not looked up
    client_id: bounded_text(100) = Field(min_length=3)
    client_secret: ShortText = Field(min_length=8)
    # what an OAuth 2.0 client sends by habit (RFC 6749 4.4.2); the only grant there is
    grant_type: Literal["client_credentials"] | None = None


def _ctx() -> CallContext:
    rid = app.current_event.request_context.request_id or "local"
    return CallContext(correlation_id=rid, idempotency_key=rid, timeout_seconds=3)


@app.post(
    "/auth/challenge",
    **documented(
        "A nonce for a certificate login to sign",
        ok=LoginChallenge,
        status=201,
        errors=(502, 503),
        scopes=None,
    ),
)
def challenge():
    issued = call(plugin_manager(), CA, "govbus_ca_challenge", ctx=_ctx())
    client("dynamodb").put_item(
        TableName=CHALLENGES,
        Item={
            "nonce": {"S": issued.nonce},
            "expires_at": {"N": str(int(issued.expires_at.timestamp()))},
        },
    )
    return json_response(issued, 201)


def _consume(nonce: str) -> None:
    """A nonce works once, before it expires."""
    try:
        client("dynamodb").delete_item(
            TableName=CHALLENGES,
            Key={"nonce": {"S": nonce}},
            ConditionExpression="attribute_exists(nonce) AND expires_at > :now",
            ExpressionAttributeValues={
                ":now": {"N": str(int(dt.datetime.now(dt.UTC).timestamp()))}
            },
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            raise Unauthenticated(
                "the challenge is unknown, used or expired; ask for a new one"
            ) from None
        raise


@app.post(
    "/auth/login",
    **documented(
        "Certificate login (CA 数字证书): the signed nonce for a token",
        ok=CitizenToken,
        body=LoginRequest,
        errors=(401, 502, 503),
        scopes=None,
    ),
)
def login():
    request = LoginRequest.model_validate(app.current_event.json_body or {})
    try:
        signature = base64.b64decode(request.signature, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest("signature must be base64", field="signature") from None
    try:
        _consume(request.nonce)
        identity = call(
            plugin_manager(),
            CA,
            "govbus_ca_verify_signature",
            ctx=_ctx(),
            signed=DetachedSignature(
                document=request.nonce.encode(),
                signature=signature,
                certificate_pem=request.certificate_pem,
                algorithm=request.algorithm,
            ),
        )
        if accounts.status_of(identity.subject_code) == AccountStatus.deregistered:
            raise Forbidden("this account has been deregistered and can no longer log in")
    except GovbusError as exc:
        audit.record("auth.login", actor="anonymous", outcome="refused", detail=str(exc))
        raise
    token, lifetime = issue_token(identity.subject_code, identity.subject_kind, [SELF])
    audit.record("auth.login", actor=identity.subject_code, detail=f"certificate {identity.serial}")
    return json_response(
        {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": lifetime,
            "subject": mask_identifier(identity.subject_code),
            "subject_kind": identity.subject_kind,
        }
    )


@app.post(
    "/auth/token",
    **documented(
        "A department client's credentials for a token",
        ok=ClientToken,
        body=ClientCredentials,
        errors=(401,),
        scopes=None,
    ),
)
def client_token():
    creds = ClientCredentials.model_validate(app.current_event.json_body or {})
    try:
        granted = clients.authenticate(creds.client_id, creds.client_secret)
    except Unauthenticated as exc:
        audit.record("auth.client_token", actor=creds.client_id, outcome="refused", detail=str(exc))
        raise
    # the client's role is the token's kind: "department" or "ops"
    token, lifetime = issue_token(
        granted["client_id"], granted["role"], granted["scopes"], agency=granted["agency"]
    )
    audit.record("auth.client_token", actor=granted["client_id"], target=granted["agency"])
    return json_response(
        {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": lifetime,
            "scopes": granted["scopes"],
        }
    )


def _self():
    who = caller(app)
    who.require(SELF)
    return who


def _account_view(account) -> dict:
    return {
        **account.model_dump(mode="json"),
        "subject_code": mask_identifier(account.subject_code),
    }


@app.post(
    "/accounts",
    **documented(
        "Register the logged-in subject's account",
        ok=Account,
        status=201,
        body=AccountDetails,
        errors=(409,),
        scopes=("self",),
    ),
)
def register():
    who = _self()
    details = AccountDetails.model_validate(app.current_event.json_body or {})
    account = accounts.register(who.subject, who.kind, details)
    key = subject_key(who.subject)
    publish(
        [
            Event.create(
                "account.registered",
                AccountRegistered(subject_key=key, subject_kind=who.kind),
                source=SOURCE,
            )
        ]
    )
    audit.record("account.registered", actor=who.subject, target=who.subject)
    return json_response(_account_view(account), 201)


@app.get(
    "/accounts/me", **documented("One's own account", ok=Account, errors=(404,), scopes=("self",))
)
def read_me():
    who = _self()
    return json_response(_account_view(accounts.get(who.subject)))


@app.patch(
    "/accounts/me",
    **documented(
        "Change one's own account details",
        ok=Account,
        body=DetailsChange,
        errors=(404, 409),
        scopes=("self",),
    ),
)
def change_me():
    who = _self()
    change = DetailsChange.model_validate(app.current_event.json_body or {})
    fields = change.model_dump(exclude_unset=True)
    if not fields:
        raise InvalidRequest("nothing to change: send name, phone, address or email")
    account = accounts.change(who.subject, fields)
    publish(
        [
            Event.create(
                "account.updated",
                AccountUpdated(subject_key=subject_key(who.subject), fields=sorted(fields)),
                source=SOURCE,
            )
        ]
    )
    audit.record(
        "account.updated", actor=who.subject, target=who.subject, detail=",".join(sorted(fields))
    )
    return json_response(_account_view(account))


@app.delete(
    "/accounts/me",
    **documented(
        "Deregister one's own account: permanent, it cannot be undone (docs/api.md)",
        ok=Deregistered,
        errors=(404, 409),
        scopes=("self",),
    ),
)
def deregister_me():
    who = _self()
    accounts.deregister(who.subject)
    publish(
        [
            Event.create(
                "account.deregistered",
                AccountDeregistered(subject_key=subject_key(who.subject)),
                source=SOURCE,
            )
        ]
    )
    audit.record("account.deregistered", actor=who.subject, target=who.subject)
    return json_response({"status": "deregistered"})


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
