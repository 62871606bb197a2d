"""API clients: credentials and the services (scopes) granted to each.

A client has a role: ``department`` (a department's system, the scopes it was granted,
per service) or ``ops`` (the platform's operators: the one scope ``ops``, which the ops
API and console need and no other route honours; an ops token is no department's and
holds no citizen's ``self``). A department client can never be granted ``ops``.
Secrets are stored as scrypt hashes; the plain secret is shown once, at creation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from typing import Any

from botocore.exceptions import ClientError

from contracts.errors import NotFound, Unauthenticated
from govbus import settings
from govbus.aws import client

SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
DEPARTMENT = "department"
OPS = "ops"
ROLES = (DEPARTMENT, OPS)
# the ops role's one scope: least privilege, it opens the ops API and nothing else
OPS_SCOPES = ("ops",)


def _table(table: str | None = None) -> str:
    return table or settings.table("clients")


def _hash(secret: str, salt: bytes) -> str:
    return base64.b64encode(hashlib.scrypt(secret.encode(), salt=salt, **SCRYPT)).decode()


def create(
    agency: str,
    scopes: list[str],
    name: str = "",
    table: str | None = None,
    role: str = DEPARTMENT,
) -> tuple[str, str]:
    """Create a client for ``agency`` (its credit code); returns (client_id, secret).

    ``role="ops"`` makes an operators' client: its scopes are exactly ``ops`` whatever
    ``scopes`` says, and ``agency`` is the operating unit (any short name).
    """
    if role not in ROLES:
        raise ValueError(f"unknown client role {role!r}: one of {', '.join(ROLES)}")
    if role == OPS:
        scopes = list(OPS_SCOPES)
    elif set(scopes) & set(OPS_SCOPES):
        raise ValueError("the scope 'ops' belongs to ops clients only (role ops)")
    client_id = ("ops-" if role == OPS else "dept-") + secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    salt = os.urandom(16)
    client("dynamodb").put_item(
        TableName=_table(table),
        Item={
            "client_id": {"S": client_id},
            "agency": {"S": agency},
            "scopes": {"SS": sorted(set(scopes))},
            "name": {"S": name or client_id},
            "status": {"S": "active"},
            "role": {"S": role},
            "salt": {"B": salt},
            "secret_hash": {"S": _hash(secret, salt)},
        },
        ConditionExpression="attribute_not_exists(client_id)",
    )
    return client_id, secret


def _get(client_id: str) -> dict[str, Any] | None:
    return (
        client("dynamodb")
        .get_item(TableName=_table(), Key={"client_id": {"S": client_id}}, ConsistentRead=True)
        .get("Item")
    )


def authenticate(client_id: str, secret: str) -> dict[str, Any]:
    item = _get(client_id)
    # compare against a dummy when the client is unknown, so timing tells nothing
    salt = item["salt"]["B"] if item else b"\0" * 16
    expected = item["secret_hash"]["S"] if item else _hash("dummy", salt)
    matches = hmac.compare_digest(_hash(secret, salt).encode(), expected.encode())
    if not item or not matches:
        raise Unauthenticated("unknown client or wrong secret")
    if item["status"]["S"] != "active":
        raise Unauthenticated("this client has been revoked")
    return {
        "client_id": client_id,
        "agency": item["agency"]["S"],
        "scopes": sorted(item.get("scopes", {}).get("SS", [])),
        # clients stored before roles existed are departments'
        "role": item.get("role", {}).get("S", DEPARTMENT),
    }


def active_scopes(client_id: str) -> frozenset[str] | None:
    """The scopes an active client holds now; None once it is revoked or unknown."""
    item = _get(client_id)
    if not item or item["status"]["S"] != "active":
        return None
    return frozenset(item.get("scopes", {}).get("SS", []))


def is_active(client_id: str) -> bool:
    item = _get(client_id)
    return bool(item and item["status"]["S"] == "active")


def agency_holds(agency: str, scope: str, table: str | None = None) -> bool:
    """Whether an active department client of ``agency`` holds ``scope`` (by-agency index)."""
    pages = (
        client("dynamodb")
        .get_paginator("query")
        .paginate(
            TableName=_table(table),
            IndexName="by-agency",
            KeyConditionExpression="agency = :a",
            ExpressionAttributeValues={":a": {"S": agency}},
        )
    )
    return any(
        item["status"]["S"] == "active"
        and item.get("role", {}).get("S", DEPARTMENT) == DEPARTMENT
        and scope in item.get("scopes", {}).get("SS", [])
        for page in pages
        for item in page["Items"]
    )


def revoke(client_id: str, table: str | None = None) -> None:
    try:
        client("dynamodb").update_item(
            TableName=_table(table),
            Key={"client_id": {"S": client_id}},
            UpdateExpression="SET #s = :r",
            ConditionExpression="attribute_exists(client_id)",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":r": {"S": "revoked"}},
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            raise NotFound(f"no client {client_id}") from None
        raise
