"""Idempotent command handlers: an effect happens once per event id, however often the
event is delivered (SQS redelivery, a DLQ redrive, a duplicate publish).

A command's effect is a partner's call that cannot be taken back, so a command is
claimed before it runs and marked done after (two writes, in the idempotency table):

1. ``PutItem`` of ``{id, status: INPROGRESS, in_progress_until, expiration}`` on
   condition that no record is live: none, one past its ``expiration``, or a claim
   whose holder ran out of time (``in_progress_until``: the invocation's end, from
   :meth:`CommandConfig.register_lambda_context`). A record that is live comes back in the
   same call (``ReturnValuesOnConditionCheckFailure``): ``COMPLETED`` answers with the
   stored result and nothing runs again; ``INPROGRESS`` raises :class:`CommandInProgress`
   (the delivery is retried later, as any failure is);
2. the handler runs; if it raises, the claim is deleted so a retry may run it;
3. ``UpdateItem`` to ``COMPLETED`` with the handler's result (JSON).

This is what Powertools' idempotency utility does; it is not used here because its
DynamoDB layer imports boto3 (~13 ms of a cold start, see govbus/aws.py).
"""

from __future__ import annotations

import functools
import inspect
import json
import re
import time
from collections.abc import Callable
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from govbus import settings
from govbus.aws import client

F = TypeVar("F", bound=Callable[..., Any])

# long enough to cover a DLQ's retention and a redrive after a partner's outage
COMMAND_WINDOW_SECONDS = 7 * 24 * 3600
# a claim's lease when no Lambda context says how long the invocation may run
DEFAULT_LEASE_SECONDS = 60.0
INPROGRESS, COMPLETED = "INPROGRESS", "COMPLETED"


class CommandInProgress(Exception):
    """Another delivery of the command holds its claim and may still be running."""


class CommandConfig:
    """The invocation's context: a claim lasts as long as the invocation may run."""

    def __init__(self) -> None:
        self._context: Any = None

    def register_lambda_context(self, context: Any) -> None:
        self._context = context

    def lease_seconds(self) -> float:
        remaining = getattr(self._context, "get_remaining_time_in_millis", None)
        return remaining() / 1000 if remaining else DEFAULT_LEASE_SECONDS


command_config = CommandConfig()


# a consumer's name: what its claims are keyed on, with the event id
_SCOPE = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")
# scope -> the handler that holds it in this process, named by its source file and
# qualified name (not its module's name: a file imported twice, under another name, is
# the same consumer)
_scopes: dict[str, str] = {}


def once_per_event(scope: str) -> Callable[[F], F]:
    """Decorate ``handler(command: dict)``, the event envelope as a dict, so that it runs
    once per event id for the consumer named ``scope`` (``@once_per_event("payments")``).

    The claim is keyed on the scope and the event id, so two consumers of the same event
    each carry it out once: the scope is the consumer's name (lower case, 1-64 of
    a-z 0-9 . _ -), given by it, not derived from its module (in Lambda every handler
    module is ``app``). A scope is held by one handler in a process; a second handler
    asking for it is refused at import. The Lambda handler calls
    ``command_config.register_lambda_context(context)``.
    """
    if not isinstance(scope, str) or not _SCOPE.match(scope):
        raise TypeError(
            'once_per_event takes the consumer\'s name, e.g. @once_per_event("payments"): '
            f"1-64 of a-z 0-9 . _ - starting with a letter, not {scope!r}"
        )

    def decorate(handler: F) -> F:
        code = getattr(inspect.unwrap(handler), "__code__", None)
        holder = f"{code.co_filename if code else handler.__module__}:{handler.__qualname__}"
        held_by = _scopes.setdefault(scope, holder)
        if held_by != holder:
            raise ValueError(
                f"once_per_event scope {scope!r} is already held by {held_by}: "
                "two consumers sharing a scope would share their claims"
            )
        prefix = f"command#{scope}#"

        @functools.wraps(handler)
        def run(*, command: dict) -> Any:
            key = prefix + str(command["id"])
            claimed = _claim(key)
            if claimed is not None:
                return claimed  # carried out before: its result, and nothing runs again
            try:
                result = handler(command=command)
            except BaseException:
                _release(key)
                raise
            _complete(key, result)
            return result

        return run  # type: ignore[return-value]

    return decorate


def _table() -> str:
    return settings.table("idempotency")


def put_unless_live(
    item: dict[str, Any],
    condition: str,
    values: dict[str, Any],
    names: dict[str, str] | None = None,
) -> dict[str, Any] | None:
    """Write ``item`` to the idempotency table on ``condition`` (that no live record holds
    its id); None when written, else the live record, which the failed condition hands
    back in the same call (``ReturnValuesOnConditionCheckFailure``; read only where not).

    The one write of every "once" here: a command's claim, a push's receipt
    (govbus.pushes).
    """
    try:
        client("dynamodb").put_item(
            TableName=_table(),
            Item=item,
            ConditionExpression=condition,
            ExpressionAttributeValues=values,
            **({"ExpressionAttributeNames": names} if names else {}),
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return exc.response.get("Item") or _read(item["id"]["S"])
    return None


def _claim(key: str) -> Any:
    """Claim the command; None when claimed, else the stored result of a completed run."""
    now = time.time()
    held = put_unless_live(
        {
            "id": {"S": key},
            "status": {"S": INPROGRESS},
            "in_progress_until": {"N": str(now + command_config.lease_seconds())},
            "expiration": {"N": str(int(now) + COMMAND_WINDOW_SECONDS)},
        },
        "attribute_not_exists(id) OR expiration < :now "
        "OR (#s = :inprogress AND in_progress_until < :now)",
        {":now": {"N": str(now)}, ":inprogress": {"S": INPROGRESS}},
        {"#s": "status"},
    )
    if held is None:
        return None
    if held.get("status", {}).get("S") == COMPLETED:
        return json.loads(held.get("data", {}).get("S", "null"))
    raise CommandInProgress(f"command {key.rsplit('#', 1)[-1]} is being carried out")


def _read(key: str) -> dict[str, Any]:
    """The live record (only where a condition failure did not return it)."""
    answer = client("dynamodb").get_item(
        TableName=_table(), Key={"id": {"S": key}}, ConsistentRead=True
    )
    return answer.get("Item") or {}


def _release(key: str) -> None:
    """Give the claim back after a failure, so a redelivery runs the command."""
    try:
        client("dynamodb").delete_item(TableName=_table(), Key={"id": {"S": key}})
    except ClientError:
        pass  # the claim then lapses at in_progress_until


def _complete(key: str, result: Any) -> None:
    client("dynamodb").update_item(
        TableName=_table(),
        Key={"id": {"S": key}},
        UpdateExpression="SET #s = :done, #d = :data REMOVE in_progress_until",
        ExpressionAttributeNames={"#s": "status", "#d": "data"},
        ExpressionAttributeValues={
            ":done": {"S": COMPLETED},
            ":data": {"S": json.dumps(result, default=str)},
        },
    )
