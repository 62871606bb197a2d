"""A circuit breaker per partner whose state every instance shares (DynamoDB).

closed --(N consecutive retryable failures)--> open --(cool-down over)--> half_open
half_open: exactly one caller wins the probe (a conditional write); its success
closes the circuit, its failure opens it again. While open, calls are not made at
all, so an outage of one partner is not hammered and does not hold up the others.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from botocore.exceptions import ClientError

from contracts.errors import CircuitOpen
from govbus import settings
from govbus.aws import client
from govbus.beside import Beside, beside
from govbus.observability import count


def changed(partner: str, before: str, after: str) -> None:
    """CircuitStateChanged, per partner and the state the circuit moved to."""
    if before != after:
        count("CircuitStateChanged", {"partner": partner, "to": after})


@dataclasses.dataclass(frozen=True)
class BreakerPolicy:
    failure_threshold: int = 5
    cool_down_seconds: float = 30.0
    probe_timeout_seconds: float = 30.0

    @classmethod
    def from_env(cls) -> BreakerPolicy:
        tuning = settings.tuning()
        return cls(
            failure_threshold=tuning.circuit_failure_threshold,
            cool_down_seconds=tuning.circuit_cool_down_seconds,
        )


class CircuitBreaker:
    def __init__(self, table: str, policy: BreakerPolicy | None = None) -> None:
        self.table = table
        self.policy = policy or BreakerPolicy()
        # reads started early (read_beside) for the next before_call of a partner
        self._early: dict[str, Beside[dict[str, Any]]] = {}

    def read_beside(self, partner: str) -> None:
        """Start reading ``partner``'s state now, on a thread of its own: the next
        :meth:`before_call` for it takes this read instead of making its own. The
        dispatcher starts it beside a command's claim, so the two round trips overlap;
        :meth:`forget_early_reads` drops a read no call took (one record's lifetime)."""
        self._early[partner] = beside(lambda: self.state(partner), f"circuit-{partner}")

    def forget_early_reads(self) -> None:
        self._early.clear()

    def _ddb(self) -> Any:
        return client("dynamodb")

    def state(self, partner: str) -> dict[str, Any]:
        item = (
            self._ddb()
            .get_item(TableName=self.table, Key={"partner": {"S": partner}}, ConsistentRead=True)
            .get("Item")
            or {}
        )
        return self._state_of(item)

    def states(self, partners: list[str]) -> dict[str, dict[str, Any]]:
        """Every named partner's state in one round trip (BatchGetItem, 100 keys a call)."""
        items: dict[str, dict[str, Any]] = {}
        wanted = sorted(set(partners))
        for start in range(0, len(wanted), 100):
            keys = [{"partner": {"S": p}} for p in wanted[start : start + 100]]
            request = {self.table: {"Keys": keys, "ConsistentRead": True}}
            while request:
                answer = self._ddb().batch_get_item(RequestItems=request)
                for item in answer.get("Responses", {}).get(self.table, []):
                    items[item["partner"]["S"]] = item
                request = answer.get("UnprocessedKeys") or {}
        return {p: self._state_of(items.get(p, {})) for p in partners}

    @staticmethod
    def _state_of(item: dict[str, Any]) -> dict[str, Any]:
        return {
            "state": item.get("state", {}).get("S", "closed"),
            "failures": int(item.get("failures", {}).get("N", 0)),
            "open_until": float(item.get("open_until", {}).get("N", 0)),
            "last_error": item.get("last_error", {}).get("S", ""),
            # when the circuit last moved (unix seconds); 0 when it never has
            "changed_at": float(item.get("changed_at", {}).get("N", 0)),
        }

    def before_call(self, partner: str) -> dict[str, Any]:
        """Raise :class:`CircuitOpen` unless the call may go ahead; the state it read
        (hand it to :meth:`record_success`)."""
        early = self._early.pop(partner, None)
        try:
            current = early.result() if early is not None else self.state(partner)
        except ClientError:  # the early read failed: read again, as without it
            current = self.state(partner)
        now = time.time()
        if current["state"] == "closed":
            return current
        if now < current["open_until"]:
            raise CircuitOpen(
                f"circuit for {partner} is {current['state']} for another "
                f"{current['open_until'] - now:.0f} s after: {current['last_error']}"
            )
        # cool-down over: one caller takes the probe
        try:
            self._ddb().update_item(
                TableName=self.table,
                Key={"partner": {"S": partner}},
                UpdateExpression="SET #s = :half, open_until = :probe_until, changed_at = :now",
                ConditionExpression="open_until <= :now",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={
                    ":half": {"S": "half_open"},
                    ":probe_until": {"N": str(now + self.policy.probe_timeout_seconds)},
                    ":now": {"N": str(now)},
                },
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise CircuitOpen(
                    f"circuit for {partner} is being probed by another caller"
                ) from None
            raise
        changed(partner, current["state"], "half_open")
        return {**current, "state": "half_open", "changed_at": now}

    def record_success(self, partner: str, seen: dict[str, Any] | None = None) -> None:
        """Close the circuit and clear its failures after a successful call.

        ``seen``: the state :meth:`before_call` read for this call. A call that started on
        a healthy circuit (closed, no failures) and succeeded changes nothing, and costs
        no read: the common case. A failure another caller counted meanwhile is then
        cleared by the next success that starts after it.
        """
        if seen is not None and seen["state"] == "closed" and seen["failures"] == 0:
            return
        current = self.state(partner)
        if current["state"] == "closed" and current["failures"] == 0:
            return
        self._ddb().put_item(
            TableName=self.table,
            Item={
                "partner": {"S": partner},
                "state": {"S": "closed"},
                "failures": {"N": "0"},
                "open_until": {"N": "0"},
                "changed_at": {"N": str(time.time())},
            },
        )
        if current["state"] != "closed":
            changed(partner, current["state"], "closed")

    def record_failure(self, partner: str, reason: str) -> str:
        """Count a retryable failure; returns the state after it."""
        now = time.time()
        answer = self._ddb().update_item(
            TableName=self.table,
            Key={"partner": {"S": partner}},
            UpdateExpression="ADD failures :one SET last_error = :reason, "
            "#s = if_not_exists(#s, :closed)",
            ExpressionAttributeNames={"#s": "state"},
            ExpressionAttributeValues={
                ":one": {"N": "1"},
                ":reason": {"S": reason[:500]},
                ":closed": {"S": "closed"},
            },
            ReturnValues="ALL_NEW",
        )["Attributes"]
        failures = int(answer["failures"]["N"])
        state = answer["state"]["S"]
        if state == "half_open" or failures >= self.policy.failure_threshold:
            self._ddb().update_item(
                TableName=self.table,
                Key={"partner": {"S": partner}},
                UpdateExpression="SET #s = :open, open_until = :until, changed_at = :now",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={
                    ":open": {"S": "open"},
                    ":until": {"N": str(now + self.policy.cool_down_seconds)},
                    ":now": {"N": str(now)},
                },
            )
            changed(partner, state, "open")
            return "open"
        return state
