"""Accounts, keyed by the subject's blind index; personal details sealed with KMS."""

from __future__ import annotations

import datetime as _dt
from typing import Any

from botocore.exceptions import ClientError

from contracts.accounts import Account, AccountDetails, AccountStatus
from contracts.errors import Conflict, NotFound
from contracts.identity import mask_identifier
from govbus import settings
from govbus.aws import client
from govbus.privacy import seal, subject_key, unseal

_DEREGISTERED = (
    "this account was deregistered (DELETE /accounts/me): its details were erased and "
    "can no longer be changed"
)


def _table() -> str:
    return settings.table("accounts")


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat()


def status_of(code: str) -> AccountStatus | None:
    item = (
        client("dynamodb")
        .get_item(
            TableName=_table(),
            Key={"subject_key": {"S": subject_key(code)}},
            ProjectionExpression="#s",
            ExpressionAttributeNames={"#s": "status"},
            ConsistentRead=True,
        )
        .get("Item")
    )
    return AccountStatus(item["status"]["S"]) if item else None


def register(code: str, kind: str, details: AccountDetails) -> Account:
    key = subject_key(code)
    now = _now()
    sealed = seal({"code": code, **details.model_dump()}, {"subject_key": key})
    try:
        client("dynamodb").put_item(
            TableName=_table(),
            Item={
                "subject_key": {"S": key},
                "kind": {"S": kind},
                "status": {"S": "active"},
                "code_masked": {"S": mask_identifier(code)},
                "sealed": {"S": sealed},
                "registered_at": {"S": now},
                "updated_at": {"S": now},
            },
            ConditionExpression="attribute_not_exists(subject_key)",
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            raise Conflict("an account already exists for this subject") from None
        raise
    return get(code)


def _item(code: str) -> dict[str, Any]:
    item = (
        client("dynamodb")
        .get_item(
            TableName=_table(), Key={"subject_key": {"S": subject_key(code)}}, ConsistentRead=True
        )
        .get("Item")
    )
    if not item:
        raise NotFound(
            "no account is registered for this subject: register one with POST /accounts "
            "(name, phone, address)"
        )
    return item


def get(code: str) -> Account:
    """The account with its details decrypted: only for the subject themself."""
    return _account(code, _item(code))


def _account(code: str, item: dict[str, Any]) -> Account:
    key = item["subject_key"]["S"]
    details = None
    if "sealed" in item:
        opened = unseal(item["sealed"]["S"], {"subject_key": key})
        opened.pop("code", None)
        details = AccountDetails.model_validate(opened)
    return Account(
        subject_code=code,
        subject_kind=item["kind"]["S"],
        status=AccountStatus(item["status"]["S"]),
        registered_at=item["registered_at"]["S"],
        updated_at=item["updated_at"]["S"],
        details=details,
    )


def phone_of(key: str) -> str | None:
    """The phone of an active account, by blind index key (for notifications only)."""
    item = (
        client("dynamodb")
        .get_item(TableName=_table(), Key={"subject_key": {"S": key}}, ConsistentRead=True)
        .get("Item")
    )
    if not item or item["status"]["S"] != "active" or "sealed" not in item:
        return None
    return unseal(item["sealed"]["S"], {"subject_key": key}).get("phone") or None


def change(code: str, changes: dict[str, Any]) -> Account:
    current = get(code)
    if current.status != AccountStatus.active:
        raise Conflict(_DEREGISTERED)
    assert current.details is not None
    details = current.details.model_copy(update=changes)
    key = subject_key(code)
    sealed = seal(
        {"code": code, **AccountDetails.model_validate(details.model_dump()).model_dump()},
        {"subject_key": key},
    )
    try:
        answer = client("dynamodb").update_item(
            TableName=_table(),
            Key={"subject_key": {"S": key}},
            UpdateExpression="SET sealed = :s, updated_at = :now",
            ConditionExpression="#st = :active",
            ExpressionAttributeNames={"#st": "status"},
            ExpressionAttributeValues={
                ":s": {"S": sealed},
                ":now": {"S": _now()},
                ":active": {"S": "active"},
            },
            ReturnValues="ALL_NEW",
        )
    except ClientError as exc:
        # deregistered (DELETE /accounts/me) between the read above and this write
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            raise Conflict(_DEREGISTERED) from None
        raise
    # the account as this write left it: a deregistration right after cannot change it
    return _account(code, answer["Attributes"])


def deregister(code: str) -> None:
    """Deregister: the status flips and the personal details are erased."""
    key = subject_key(code)
    try:
        client("dynamodb").update_item(
            TableName=_table(),
            Key={"subject_key": {"S": key}},
            UpdateExpression="SET #st = :dereg, updated_at = :now, deregistered_at = :now "
            "REMOVE sealed",
            ConditionExpression="#st = :active",
            ExpressionAttributeNames={"#st": "status"},
            ExpressionAttributeValues={
                ":dereg": {"S": "deregistered"},
                ":now": {"S": _now()},
                ":active": {"S": "active"},
            },
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            raise NotFound("no active account is registered for this subject") from None
        raise
