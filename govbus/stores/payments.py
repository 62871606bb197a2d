"""Payment orders, receipts and reconciliation reports, one table keyed by ``pk``.

``order#<order_no>``            a fee or bill order: amount in fen, payer blind index,
                                state, the platform's payment code and pay URL, once
                                paid the receipt fields (``version`` guards every change)
``receipt#<receipt_no>``        the electronic receipt (票据) of a paid order
``txn#<via>#<trade no>``        the order a partner's transaction paid (one order per
                                transaction: a second order reporting it is flagged)
``reconciliation#<YYYY-MM-DD>`` the report of a day's reconciliation

Indexes: ``by-payer`` (payer_key, created_at) lists a payer's bills; ``by-paid-day``
(paid_day, pk), sparse, holds the orders paid on a day (Beijing time, the statement's
day) for reconciliation: ``YYYY-MM-DD`` through the platform, ``card#YYYY-MM-DD`` by
citizen card (each channel has its own statement).
A change of an order is conditional on the version it was read in, so of two
notifications (or a notification and a card payment) exactly one marks it paid.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Iterable, Iterator, Sequence
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, Field

from contracts.errors import Conflict, NotFound
from contracts.events import Event
from govbus import outbox, settings
from govbus.aws import client
from govbus.calendar import CST


class OrderState(StrEnum):
    requested = "requested"  # stored, the platform order not created yet
    pending = "pending"  # created at the platform, awaiting the payer
    paid = "paid"
    closed = "closed"  # can no longer be paid (offline payment, rejection, paid by card)
    refunded = "refunded"


class PaidVia(StrEnum):
    platform = "platform"  # the non-tax platform (bank card, wallet, citizen card at its cashier)
    card = "card"  # the citizen card platform directly (POST /payments/{order}/pay-by-card)


class StoredOrder(BaseModel):
    order_no: str
    kind: str  # fee | bill
    case_id: str | None = None
    agency: str  # the agency the money is for (credit code): it may read the order
    biller: str | None = None  # the biller's client id (bills)
    amount_fen: int = Field(gt=0)
    payer_key: str
    payer_masked: str
    description: str
    item_code: str | None = None
    title: str | None = None
    due: _dt.date | None = None
    state: OrderState
    version: int = 1
    created_at: _dt.datetime
    payment_code: str | None = None
    pay_url: str | None = None
    paid_at: _dt.datetime | None = None
    via: PaidVia | None = None
    channel: str | None = None
    platform_txn_id: str | None = None
    receipt_no: str | None = None
    refund_no: str | None = None
    refunded_at: _dt.datetime | None = None
    flags: list[str] = Field(default_factory=list)  # what a person must look at


class Receipt(BaseModel):
    """The electronic receipt (票据) of a paid order."""

    receipt_no: str  # the platform's receipt number
    order_no: str
    kind: str
    case_id: str | None = None
    agency: str
    item: str
    item_code: str | None = None
    amount_fen: int
    amount_yuan: str
    payer: str  # masked
    channel: str
    paid_at: _dt.datetime
    platform_txn_id: str


def _table() -> str:
    return settings.table("payments")


def _order_key(order_no: str) -> dict[str, Any]:
    return {"pk": {"S": f"order#{order_no}"}}


def _order_item(order: StoredOrder, sealed: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": {"S": f"order#{order.order_no}"},
        "doc": {"S": order.model_dump_json()},
        "state": {"S": order.state.value},
        "version": {"N": str(order.version)},
        "kind": {"S": order.kind},
        "payer_key": {"S": order.payer_key},
        "agency": {"S": order.agency},  # the by-agency index: a biller's own bills
        "created_at": {"S": order.created_at.isoformat()},
    }
    if order.paid_at is not None and order.via is not None:
        item["paid_day"] = {"S": _paid_day_key(order.paid_at.astimezone(CST).date(), order.via)}
        item["amount_fen"] = {"N": str(order.amount_fen)}
    if sealed is not None:
        item["sealed"] = {"S": sealed}
    return item


def create_write(order: StoredOrder, sealed: str | None = None) -> dict[str, Any]:
    """The transaction item that stores a new order (refused if the order exists)."""
    return {
        "Put": {
            "TableName": _table(),
            "Item": _order_item(order, sealed),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def change_write(before: StoredOrder, after: StoredOrder) -> dict[str, Any]:
    """The transaction item that moves an order from the version it was read in."""
    row = _order_item(after)
    values = {
        ":doc": row["doc"],
        ":state": row["state"],
        ":v": row["version"],
        ":expected": {"N": str(before.version)},
    }
    expression = "SET doc = :doc, #s = :state, version = :v"
    if "paid_day" in row:
        expression += ", paid_day = :day, amount_fen = :fen"
        values[":day"], values[":fen"] = row["paid_day"], row["amount_fen"]
    return {
        "Update": {
            "TableName": _table(),
            "Key": _order_key(before.order_no),
            "UpdateExpression": expression,
            "ConditionExpression": "version = :expected",
            "ExpressionAttributeNames": {"#s": "state"},
            "ExpressionAttributeValues": values,
        }
    }


def receipt_write(receipt: Receipt, payer_key: str) -> dict[str, Any]:
    return {
        "Put": {
            "TableName": _table(),
            "Item": {
                "pk": {"S": f"receipt#{receipt.receipt_no}"},
                "doc": {"S": receipt.model_dump_json()},
                "payer_key": {"S": payer_key},
            },
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def txn_write(via: PaidVia, txn_id: str, order_no: str) -> dict[str, Any]:
    """The transaction item that claims a partner's transaction for one order."""
    return {
        "Put": {
            "TableName": _table(),
            "Item": {"pk": {"S": f"txn#{via.value}#{txn_id}"}, "order_no": {"S": order_no}},
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def _owner(pk: str) -> str | None:
    row = (
        client("dynamodb")
        .get_item(TableName=_table(), Key={"pk": {"S": pk}}, ConsistentRead=True)
        .get("Item")
    )
    if not row:
        return None
    if "order_no" in row:
        return row["order_no"]["S"]
    return Receipt.model_validate_json(row["doc"]["S"]).order_no


def receipt_owner(receipt_no: str) -> str | None:
    """The order whose receipt ``receipt_no`` is, or None."""
    return _owner(f"receipt#{receipt_no}")


def txn_owner(via: PaidVia, txn_id: str) -> str | None:
    """The order the partner's transaction ``txn_id`` paid, or None."""
    return _owner(f"txn#{via.value}#{txn_id}")


def commit(writes: Sequence[dict[str, Any]], events: Sequence[Event] = ()) -> None:
    """Write ``writes`` and their events at once; :class:`Conflict` if a condition fails."""
    try:
        outbox.commit(writes, events)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "TransactionCanceledException":
            raise Conflict("the order changed meanwhile") from None
        raise


def replace(before: StoredOrder, after: StoredOrder, events: Sequence[Event] = ()) -> StoredOrder:
    commit([change_write(before, after)], events)
    return after


def _row(order_no: str) -> dict[str, Any] | None:
    return (
        client("dynamodb")
        .get_item(TableName=_table(), Key=_order_key(order_no), ConsistentRead=True)
        .get("Item")
    )


def held(order_nos: Iterable[str]) -> dict[str, StoredOrder]:
    """The orders of ``order_nos`` held here, by number: one BatchGetItem per 100.

    For reconciliation, whose statement may name a million orders the bus never had: a
    GetItem each was a round trip per line. The orders are read consistently, as
    :func:`find` reads one, so a repair starts from them without reading again.
    """
    wanted = list(dict.fromkeys(order_nos))
    found: dict[str, StoredOrder] = {}
    for start in range(0, len(wanted), 100):
        request: dict[str, Any] = {
            _table(): {
                "Keys": [_order_key(n) for n in wanted[start : start + 100]],
                "ProjectionExpression": "pk, #doc",
                "ExpressionAttributeNames": {"#doc": "doc"},
                "ConsistentRead": True,
            }
        }
        while request:
            answer = client("dynamodb").batch_get_item(RequestItems=request)
            for row in answer.get("Responses", {}).get(_table(), []):
                order_no = row["pk"]["S"].removeprefix("order#")
                found[order_no] = StoredOrder.model_validate_json(row["doc"]["S"])
            request = answer.get("UnprocessedKeys") or {}
    return found


def find(order_no: str) -> StoredOrder | None:
    row = _row(order_no)
    return StoredOrder.model_validate_json(row["doc"]["S"]) if row else None


def get(order_no: str) -> StoredOrder:
    order = find(order_no)
    if order is None:
        raise NotFound(f"no payment order {order_no}")
    return order


def sealed(order_no: str) -> str | None:
    """The sealed payer details of a bill (a fee's payer is the case's applicant)."""
    row = _row(order_no)
    return row["sealed"]["S"] if row and "sealed" in row else None


def receipt(receipt_no: str) -> tuple[Receipt, str]:
    """The receipt and its payer's blind index."""
    row = (
        client("dynamodb")
        .get_item(
            TableName=_table(), Key={"pk": {"S": f"receipt#{receipt_no}"}}, ConsistentRead=True
        )
        .get("Item")
    )
    if not row:
        raise NotFound(f"no receipt {receipt_no}")
    return Receipt.model_validate_json(row["doc"]["S"]), row["payer_key"]["S"]


def by_payer(payer_key: str, kind: str) -> list[StoredOrder]:
    return _newest_first("by-payer", "payer_key", payer_key, kind)


def by_agency(agency: str, kind: str) -> list[StoredOrder]:
    """The orders of ``kind`` the agency is paid for (its bills), newest first."""
    return _newest_first("by-agency", "agency", agency, kind)


def _newest_first(index: str, attribute: str, value: str, kind: str) -> list[StoredOrder]:
    kwargs: dict[str, Any] = {
        "TableName": _table(),
        "IndexName": index,
        "KeyConditionExpression": "#a = :k",
        "FilterExpression": "kind = :kind",
        "ExpressionAttributeNames": {"#a": attribute},
        "ExpressionAttributeValues": {":k": {"S": value}, ":kind": {"S": kind}},
        "ScanIndexForward": False,
    }
    found: list[StoredOrder] = []
    while True:
        answer = client("dynamodb").query(**kwargs)
        found += [StoredOrder.model_validate_json(r["doc"]["S"]) for r in answer.get("Items", [])]
        if "LastEvaluatedKey" not in answer:
            return found
        kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def _paid_day_key(day: _dt.date, via: PaidVia) -> str:
    """The index key of a day's payments by one channel: each has its own statement."""
    return day.isoformat() if via == PaidVia.platform else f"{via.value}#{day.isoformat()}"


def paid_on_day(day: _dt.date, via: PaidVia = PaidVia.platform) -> Iterator[tuple[str, int]]:
    """``(order_no, amount_fen)`` of every order paid through ``via`` on ``day``.

    Read page by page from a keys-and-amount index: the caller builds the one dict
    reconciliation needs, nothing else is held.
    """
    kwargs: dict[str, Any] = {
        "TableName": _table(),
        "IndexName": "by-paid-day",
        "KeyConditionExpression": "paid_day = :d",
        "ExpressionAttributeValues": {":d": {"S": _paid_day_key(day, via)}},
    }
    while True:
        answer = client("dynamodb").query(**kwargs)
        for row in answer.get("Items", []):
            yield row["pk"]["S"].removeprefix("order#"), int(row["amount_fen"]["N"])
        if "LastEvaluatedKey" not in answer:
            return
        kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def save_report(day: _dt.date, report: dict[str, Any]) -> None:
    client("dynamodb").put_item(
        TableName=_table(),
        Item={
            "pk": {"S": f"reconciliation#{day.isoformat()}"},
            "doc": {"S": json.dumps(report, ensure_ascii=False)},
        },
    )


def report(day: _dt.date) -> dict[str, Any]:
    row = (
        client("dynamodb")
        .get_item(
            TableName=_table(),
            Key={"pk": {"S": f"reconciliation#{day.isoformat()}"}},
            ConsistentRead=True,
        )
        .get("Item")
    )
    if not row:
        raise NotFound(f"no reconciliation for {day.isoformat()} yet")
    return json.loads(row["doc"]["S"])
