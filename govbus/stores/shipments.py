"""Shipments (寄递): one record per case, whose state only ever moves forward.

Tracking pushes may arrive duplicated or out of order. Each state is recorded once
(a conditional write on its own attribute), and the current state moves only to a
higher rank, so a late "in transit" never undoes "delivered".
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from botocore.exceptions import ClientError

from contracts.delivery import TrackingState, TrackingUpdate, Waybill
from contracts.errors import RetryableError
from govbus.aws import client

REQUESTED = "requested"


def rank(state: str) -> int:
    return 0 if state == REQUESTED else TrackingState(state).rank + 1


def _conditional(update: dict[str, Any]) -> bool:
    """Run a conditional update; False when its condition did not hold."""
    try:
        client("dynamodb").update_item(**update)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


class ShipmentStore:
    def __init__(self, table: str) -> None:
        self.table = table

    def _key(self, case_id: str) -> dict[str, Any]:
        return {"case_id": {"S": case_id}}

    def record_state(
        self, case_id: str, state: str, at: _dt.datetime, detail: str = "", **fields: str
    ) -> bool:
        """Record ``state`` once and move the shipment forward to it if it is ahead.

        One atomic write either way, so a reader never sees a half-applied update:
        first as the new current state; if the shipment is already further on (a late
        push), as history only. Returns False for a duplicate.
        """
        now = _dt.datetime.now(_dt.UTC).isoformat()
        names = {"#at": f"at_{state}"}
        values: dict[str, Any] = {
            ":at": {
                "M": {
                    "occurred_at": {"S": at.isoformat()},
                    "detail": {"S": detail},
                    "recorded_at": {"S": now},
                }
            },
            ":one": {"N": "1"},
            ":now": {"S": now},
        }
        sets = ["#at = :at", "updated_at = :now"]
        for i, (name, value) in enumerate(fields.items()):
            names[f"#f{i}"] = name
            values[f":f{i}"] = {"S": value}
            sets.append(f"#f{i} = :f{i}")
        ahead = _conditional(
            {
                "TableName": self.table,
                "Key": self._key(case_id),
                "UpdateExpression": "SET "
                + ", ".join([*sets, "#s = :s", "state_rank = :r"])
                + " ADD transitions :one",
                "ConditionExpression": "attribute_not_exists(#at) AND "
                "(attribute_not_exists(state_rank) OR state_rank < :r)",
                "ExpressionAttributeNames": {**names, "#s": "state"},
                "ExpressionAttributeValues": {
                    **values,
                    ":s": {"S": state},
                    ":r": {"N": str(rank(state))},
                },
            }
        )
        if ahead:
            return True
        return _conditional(
            {
                "TableName": self.table,
                "Key": self._key(case_id),
                "UpdateExpression": "SET " + ", ".join(sets) + " ADD transitions :one",
                "ConditionExpression": "attribute_not_exists(#at)",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
        )

    def requested(self, case_id: str, carrier: str, at: _dt.datetime) -> bool:
        return self.record_state(case_id, REQUESTED, at, carrier=carrier)

    def waybill_created(self, waybill: Waybill, at: _dt.datetime) -> bool:
        return self.record_state(
            waybill.case_id,
            TrackingState.created.value,
            at,
            waybill_no=waybill.waybill_no,
            carrier=waybill.carrier,
        )

    def tracked(self, update: TrackingUpdate) -> bool:
        return self.record_state(
            update.case_id,
            update.state.value,
            update.occurred_at,
            detail=f"{update.location} {update.note}".strip(),
            waybill_no=update.waybill_no,
        )

    def is_own_waybill(self, case_id: str, waybill_no: str) -> bool:
        """Whether ``waybill_no`` is the waybill created for ``case_id``.

        A shipment requested whose waybill is not recorded yet (a push overtook its
        creation) raises :class:`RetryableError`, so the record is tried again; no
        shipment at all (a case collected at the hall, or none of ours) is False.
        """
        shipment = self.get(case_id)
        if shipment is None:
            return False
        if shipment["waybill_no"] is None:
            raise RetryableError(f"case {case_id}'s waybill is not recorded yet")
        return shipment["waybill_no"] == waybill_no

    def get(self, case_id: str) -> dict[str, Any] | None:
        item = (
            client("dynamodb")
            .get_item(TableName=self.table, Key=self._key(case_id), ConsistentRead=True)
            .get("Item")
        )
        if not item:
            return None
        history = {
            key[3:]: {k: v["S"] for k, v in value["M"].items()}
            for key, value in item.items()
            if key.startswith("at_")
        }
        return {
            "case_id": case_id,
            "state": item["state"]["S"],
            "waybill_no": item.get("waybill_no", {}).get("S"),
            "carrier": item.get("carrier", {}).get("S"),
            "transitions": int(item.get("transitions", {}).get("N", 0)),
            "history": dict(sorted(history.items(), key=lambda kv: rank(kv[0]))),
        }
