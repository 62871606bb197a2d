"""Service items, every version kept: (code, version) -> the item as written.

A change is a new version (a conditional put, so two concurrent edits cannot both
become version N); publishing flips one version to ``published`` and the previously
published one to ``superseded`` in one transaction.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from botocore.exceptions import ClientError

from contracts.catalog import ItemStatus, ServiceItem, ServiceItemDraft
from contracts.errors import Conflict, NotFound, PreconditionFailed, ValidationFailed
from contracts.licences import LICENCE_TYPES
from govbus import settings
from govbus.aws import client

# the published version of an item carries ``listed``; the sparse index holds only those
PUBLISHED_INDEX = "published"
LISTED = "published"


def _table() -> str:
    return settings.table("catalog")


def _item(row: dict[str, Any]) -> ServiceItem:
    return ServiceItem.model_validate_json(row["doc"]["S"])


def _put(item: ServiceItem) -> None:
    try:
        client("dynamodb").put_item(
            TableName=_table(),
            Item={
                "code": {"S": item.code},
                "version": {"N": str(item.version)},
                "status": {"S": item.status.value},
                "agency": {"S": str(item.agency)},
                "doc": {"S": item.model_dump_json()},
            },
            ConditionExpression="attribute_not_exists(version)",
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            raise Conflict(
                f"version {item.version} of {item.code} was written by someone else "
                "at the same time; read the item and try again"
            ) from None
        raise


def versions(code: str) -> list[ServiceItem]:
    answer = client("dynamodb").query(
        TableName=_table(),
        KeyConditionExpression="code = :c",
        ExpressionAttributeValues={":c": {"S": code}},
        ConsistentRead=True,
    )
    return [_item(row) for row in answer.get("Items", [])]


def check_result_issuer(draft: ServiceItemDraft) -> None:
    """An item results only in a licence type its agency issues (the licence directory):
    otherwise approving a case would issue another agency's licence in this one's name."""
    if draft.result_licence_type is None:
        return  # an item that results in no e-licence
    result = LICENCE_TYPES.get(draft.result_licence_type)
    if result is None:
        shown = draft.result_licence_type[:40]
        raise ValidationFailed(
            f"no licence type {shown!r} in the licence directory (leave the field out for "
            "an item that results in no e-licence)",
            field="result_licence_type",
        )
    if not result.issued_by(str(draft.agency)):
        raise ValidationFailed(
            f"agency {draft.agency} does not issue licence type {result.code} "
            f"({result.name}): it cannot be this item's result",
            field="result_licence_type",
        )


def create(draft: ServiceItemDraft) -> ServiceItem:
    check_result_issuer(draft)
    if versions(draft.proposed_code):
        raise Conflict(
            f"item {draft.proposed_code} exists; change it with PUT, which makes a new version"
        )
    item = ServiceItem(
        **draft.model_dump(),
        code=draft.proposed_code,
        version=1,
        status=ItemStatus.draft,
        created_at=_dt.datetime.now(_dt.UTC),
    )
    _put(item)
    return item


def new_version(code: str, draft: ServiceItemDraft, after: int | None = None) -> ServiceItem:
    """Draft the version after the latest; ``after``: the latest the editor read (If-Match),
    refused (PreconditionFailed) when another version came since. Two editors drafting at
    once: the conditional write lets one through, the other is a Conflict."""
    if draft.proposed_code != code:
        raise Conflict("the agency and item part cannot change: that would be another item")
    check_result_issuer(draft)
    existing = versions(code)
    if not existing:
        raise NotFound(f"no item {code}")
    latest = max(v.version for v in existing)
    if after is not None and latest != after:
        raise PreconditionFailed(
            f"item {code} changed since it was read: its latest version is {latest}, "
            f"not {after}; read it again"
        )
    item = ServiceItem(
        **draft.model_dump(),
        code=code,
        version=latest + 1,
        status=ItemStatus.draft,
        created_at=_dt.datetime.now(_dt.UTC),
    )
    _put(item)
    return item


def publish(code: str, version: int, after: int | None = None) -> ServiceItem:
    """Publish a draft; ``after``: the latest version the editor read (If-Match), refused
    (PreconditionFailed, nothing published) when another version came since."""
    existing = {v.version: v for v in versions(code)}
    target = existing.get(version)
    if target is None:
        raise NotFound(f"item {code} has no version {version}")
    latest = max(existing)
    if after is not None and latest != after:
        raise PreconditionFailed(
            f"item {code} changed since it was read: its latest version is {latest}, "
            f"not {after}; read it again"
        )
    if target.status != ItemStatus.draft:
        raise Conflict(f"version {version} is {target.status.value}; only a draft can be published")
    now = _dt.datetime.now(_dt.UTC)
    published = target.model_copy(update={"status": ItemStatus.published, "published_at": now})
    writes: list[dict[str, Any]] = [
        {
            "Update": {
                "TableName": _table(),
                "Key": {"code": {"S": code}, "version": {"N": str(version)}},
                "UpdateExpression": "SET #s = :pub, doc = :doc, listed = :listed",
                "ConditionExpression": "#s = :draft",
                "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": {
                    ":pub": {"S": "published"},
                    ":draft": {"S": "draft"},
                    ":doc": {"S": published.model_dump_json()},
                    ":listed": {"S": LISTED},
                },
            }
        }
    ]
    if after is not None:  # and none drafted between the check and the write
        writes.append(
            {
                "ConditionCheck": {
                    "TableName": _table(),
                    "Key": {"code": {"S": code}, "version": {"N": str(latest + 1)}},
                    "ConditionExpression": "attribute_not_exists(version)",
                }
            }
        )
    for old in existing.values():
        if old.status == ItemStatus.published:
            superseded = old.model_copy(update={"status": ItemStatus.superseded})
            writes.append(
                {
                    "Update": {
                        "TableName": _table(),
                        "Key": {"code": {"S": code}, "version": {"N": str(old.version)}},
                        "UpdateExpression": "SET #s = :sup, doc = :doc REMOVE listed",
                        "ConditionExpression": "#s = :pub",
                        "ExpressionAttributeNames": {"#s": "status"},
                        "ExpressionAttributeValues": {
                            ":sup": {"S": "superseded"},
                            ":pub": {"S": "published"},
                            ":doc": {"S": superseded.model_dump_json()},
                        },
                    }
                }
            )
    try:
        client("dynamodb").transact_write_items(TransactItems=writes)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "TransactionCanceledException":
            raise Conflict("the item changed while publishing; read it and try again") from None
        raise
    return published


def public_version(code: str, version: int | None = None) -> ServiceItem:
    """The latest published version, or a given one if it was ever published."""
    visible = [v for v in versions(code) if v.status != ItemStatus.draft]
    if version is not None:
        visible = [v for v in visible if v.version == version]
    else:
        visible = [v for v in visible if v.status == ItemStatus.published]
    if not visible:
        raise NotFound(f"no published item {code}" + (f" version {version}" if version else ""))
    return max(visible, key=lambda v: v.version)


def published_items(table: str | None = None) -> list[ServiceItem]:
    """Every published item, by code: a query of the sparse ``published`` index.

    ``table`` names the table for operators' tools (the CLI)."""
    kwargs: dict[str, Any] = {
        "TableName": table or _table(),
        "IndexName": PUBLISHED_INDEX,
        "KeyConditionExpression": "listed = :listed",
        "ExpressionAttributeValues": {":listed": {"S": LISTED}},
    }
    found = []
    while True:
        answer = client("dynamodb").query(**kwargs)
        found.extend(_item(row) for row in answer.get("Items", []))
        if "LastEvaluatedKey" not in answer:
            return found
        kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
