"""The audit chain: append-only, each entry carrying the digest of the one before.

Entries are chained per partition (``<day>#<shard>``, the shard picked from the actor),
so writers on different partitions never contend while every partition is still a
verifiable chain. An append reads the partition's head and writes ``seq + 1`` with a
condition that the sequence number is unused; a lost race retries on the new head.

``govbus audit verify`` walks every partition in order and names the first entry whose
stored digest does not match its content and its predecessor.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from botocore.exceptions import ClientError

from contracts.masking import mask_text
from govbus import settings
from govbus.aws import client

SHARDS = 4
GENESIS = "0" * 64


def table_name(table: str | None = None) -> str:
    """The audit table: given explicitly (operators' tools) or from the function's settings."""
    return table or settings.table("audit")


ANONYMOUS = "anonymous"


def partition_for(actor: str, when: _dt.datetime, entry_id: str = "") -> str:
    """The chain an entry joins: one per day and shard.

    A known actor always lands on the same shard; anonymous entries (refused logins,
    refused tokens, a flood of them in an attack) are spread over every shard by the
    entry's own random id, so they never queue on one chain.
    """
    key = entry_id if actor == ANONYMOUS and entry_id else actor
    shard = int(hashlib.sha256(key.encode()).hexdigest(), 16) % SHARDS
    return f"{when:%Y-%m-%d}#{shard}"


def canonical(entry: dict[str, Any]) -> bytes:
    """The bytes a digest covers: every field but the digest itself, sorted."""
    body = {k: v for k, v in entry.items() if k != "digest"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def digest_of(entry: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(entry)).hexdigest()


def _head(partition: str, table: str) -> tuple[int, str]:
    answer = client("dynamodb").query(
        TableName=table,
        KeyConditionExpression="#p = :p",
        ExpressionAttributeNames={"#p": "partition"},
        ExpressionAttributeValues={":p": {"S": partition}},
        ScanIndexForward=False,
        Limit=1,
        ConsistentRead=True,
    )
    items = answer.get("Items") or []
    if not items:
        return 0, GENESIS
    return int(items[0]["seq"]["N"]), items[0]["digest"]["S"]


def record(
    action: str,
    *,
    actor: str,
    target: str = "",
    purpose: str = "",
    outcome: str = "ok",
    detail: str = "",
    table: str | None = None,
) -> dict[str, Any]:
    """Append one entry. Identifiers in every free-text field are stored masked."""
    when = _dt.datetime.now(_dt.UTC)
    entry_id = str(uuid.uuid4())
    partition = partition_for(actor, when, entry_id)
    table = table_name(table)
    for _ in range(10):
        seq, previous = _head(partition, table)
        entry = {
            "partition": partition,
            "seq": seq + 1,
            "id": entry_id,
            "time": when.isoformat(),
            "action": action,
            "actor": mask_text(actor),
            "target": mask_text(target),
            "purpose": mask_text(purpose),
            "outcome": outcome,
            "detail": mask_text(detail),
            "previous": previous,
        }
        entry["digest"] = digest_of(entry)
        item = {k: ({"N": str(v)} if k == "seq" else {"S": str(v)}) for k, v in entry.items()}
        try:
            client("dynamodb").put_item(
                TableName=table,
                Item=item,
                ConditionExpression="attribute_not_exists(seq)",
            )
            return entry
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
    raise RuntimeError(f"could not append to audit partition {partition}: too much contention")


def _from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: (int(v["N"]) if "N" in v else v["S"]) for k, v in item.items()}


def entries(partition: str, table: str | None = None) -> Iterator[dict[str, Any]]:
    kwargs: dict[str, Any] = {
        "TableName": table_name(table),
        "KeyConditionExpression": "#p = :p",
        "ExpressionAttributeNames": {"#p": "partition"},
        "ExpressionAttributeValues": {":p": {"S": partition}},
        "ConsistentRead": True,
    }
    while True:
        answer = client("dynamodb").query(**kwargs)
        for item in answer.get("Items", []):
            yield _from_item(item)
        if "LastEvaluatedKey" not in answer:
            return
        kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def partitions(table: str | None = None) -> list[str]:
    found: set[str] = set()
    kwargs: dict[str, Any] = {
        "TableName": table_name(table),
        "ProjectionExpression": "#p",
        "ExpressionAttributeNames": {"#p": "partition"},
    }
    while True:
        answer = client("dynamodb").scan(**kwargs)
        found.update(item["partition"]["S"] for item in answer.get("Items", []))
        if "LastEvaluatedKey" not in answer:
            return sorted(found)
        kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


@dataclasses.dataclass
class BrokenLink:
    partition: str
    seq: int
    entry_id: str
    reason: str


@dataclasses.dataclass
class Verification:
    entries: int
    partitions: int
    broken: BrokenLink | None

    @property
    def ok(self) -> bool:
        return self.broken is None


def verify(
    table: str | None = None, on_partitions: Callable[[int], Callable[[], None]] | None = None
) -> Verification:
    """Walk every partition; stop at the first broken link.

    ``on_partitions(n)`` is told how many partitions there are and returns what to call
    as each one is done (a progress bar's total and step).
    """
    count = 0
    names = partitions(table)
    done = on_partitions(len(names)) if on_partitions is not None else None
    for partition in names:
        expected_previous, expected_seq = GENESIS, 1
        for entry in entries(partition, table):
            count += 1
            reason = ""
            if entry["seq"] != expected_seq:
                reason = (
                    f"sequence jumps from {expected_seq - 1} to {entry['seq']} (entry removed?)"
                )
            elif entry["previous"] != expected_previous:
                reason = "does not carry the digest of the entry before it"
            elif entry["digest"] != digest_of(entry):
                reason = "its content does not match its digest (entry altered)"
            if reason:
                return Verification(
                    count, len(names), BrokenLink(partition, entry["seq"], entry["id"], reason)
                )
            expected_previous, expected_seq = entry["digest"], entry["seq"] + 1
        if done is not None:
            done()
    return Verification(count, len(names), None)
