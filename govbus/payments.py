"""Fees and bills paid online exactly once (缴费): orders, payments, receipts, refunds.

Used by the ``payments`` function (HTTP and its bus consumer) and by reconciliation.

* A case entering ``awaiting_payment`` gets one fee order, ``FEE-<case id>``: stored
  first (conditional put), then created at the non-tax platform, which is idempotent
  on the order number. A bill is stored with a ``payment.order_requested`` command in
  one outbox write, and created at the platform the same way.
* :func:`apply_payment` is the one path by which an order becomes paid: the platform's
  notification, a citizen-card payment and a reconciliation repair all go through it.
  It is conditional on the order's version, so however often and in whatever order
  notifications arrive the order is paid once; a wrong amount is flagged, not paid. A
  fee's case moves on (``paid``: awaiting_payment -> approved, then the licence or
  result) in the same transaction as the order and its receipt.
* A rejected case's paid fee is refunded once (the refund number is ``RF-<order no>``,
  idempotent at the partner; the order moves paid -> refunded conditionally).
* A payment that lands on a case no longer awaiting its fee (rejected, closed, paid at
  the hall) or on a closed order - a card charge racing the rejection, a late platform
  notification - is never kept: it is recorded with a ``payment.refund_requested``
  command in the same write (the state check is that write's condition) and refunded
  through the channel that took it with the same ``RF-<order no>``, so exactly once.
* A second notification through the channel that already paid the order is flagged for
  a person, never refunded (the partner holds one payment per order: a refund would give
  back that one); a second payment through another channel is refunded (``RD-``).

Money is integer fen here; the case's Decimal yuan fee is converted once, exactly.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import secrets
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from contracts.adapters import CallContext
from contracts.cases import Actor, Case, CaseState, Step
from contracts.constrained import bounded_text
from contracts.errors import (
    CardUnusable,
    Conflict,
    Forbidden,
    GovbusError,
    NotFound,
    ValidationFailed,
)
from contracts.events import Event
from contracts.identity import CitizenId, mask_identifier
from contracts.payments import (
    CardPayment,
    CardRefund,
    PaymentChannel,
    PaymentCompleted,
    PaymentOrder,
    PaymentOrderRequest,
    PaymentOrderRequested,
    PaymentRefunded,
    PaymentRefundRequested,
    PositiveFen,
    RefundRequest,
    fen_of_yuan,
    yuan,
)
from govbus import applications, audit
from govbus.auth import SELF, Caller
from govbus.http import one_of
from govbus.observability import logger
from govbus.plugins import call, plugin_manager
from govbus.privacy import seal, subject_key, unseal
from govbus.stores import cases
from govbus.stores import payments as store
from govbus.stores.payments import CST, OrderState, PaidVia, Receipt, StoredOrder

SOURCE = "govbus.payments"
PLATFORM = "nontax"
CARD = "citizen_card"
BILLS_SCOPE = "bills:issue"
FEE_PREFIX = "FEE-"
BILL_PREFIX = "BILL-"
REFUND_PREFIX = "RF-"
SECOND_PAYMENT_PREFIX = "RD-"  # the refund of an order's second payment
SYSTEM = applications.SYSTEM


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


def _ctx(key: str) -> CallContext:
    return CallContext(correlation_id=key, idempotency_key=key, timeout_seconds=5)


def hook_call(adapter: str, hook: str, **kwargs: Any) -> Any:
    return call(plugin_manager(), adapter, hook, **kwargs)


def fee_order_no(case_id: str) -> str:
    """The one order of a case's fee: the same number however often it is asked for."""
    return f"{FEE_PREFIX}{case_id}"


# --- who may see what ----------------------------------------------------------------


def is_payer(order_or_key: StoredOrder | str, who: Caller) -> bool:
    key = order_or_key if isinstance(order_or_key, str) else order_or_key.payer_key
    return not who.is_department and who.may(SELF) and subject_key(who.subject) == key


# the agency's clients that deal with its money: case reviewers, billers, finance
AGENCY_SCOPES = (applications.REVIEW_SCOPE, BILLS_SCOPE, "payments:reconcile")


def is_agency(agency: str, who: Caller) -> bool:
    return (
        who.is_department
        and who.agency == agency
        and any(who.may(scope) for scope in AGENCY_SCOPES)
    )


def visible_order(order_no: str, who: Caller) -> StoredOrder:
    """The order, for its payer or the agency it is paid to; 404 for anyone else."""
    order = store.find(order_no)
    if order is None or not (is_payer(order, who) or is_agency(order.agency, who)):
        raise NotFound(f"no payment order {order_no}")
    return order


def view(order: StoredOrder) -> dict[str, Any]:
    """An order as its payer or agency sees it: amounts in fen (and yuan for display)."""
    doc = order.model_dump(
        mode="json", exclude={"payer_key", "version", "biller", "platform_txn_id"}
    )
    doc["amount_yuan"] = yuan(order.amount_fen)
    doc["payer"] = doc.pop("payer_masked")
    doc["receipt_url"] = f"/receipts/{order.receipt_no}" if order.receipt_no else None
    return doc


# --- orders ----------------------------------------------------------------------------


def order_for_case(case_id: str) -> StoredOrder | None:
    """The fee order of a case awaiting payment: stored once, created at the platform once."""
    case = cases.get(case_id)
    order_no = fee_order_no(case_id)
    order = store.find(order_no)
    if order is None:
        if case.state != CaseState.awaiting_payment or case.paid:
            return None  # a late event: the case was paid at the hall or moved on
        order = StoredOrder(
            order_no=order_no,
            kind="fee",
            case_id=case.id,
            agency=case.agency,
            amount_fen=fen_of_yuan(case.fee),
            payer_key=cases.applicant_key(case.id),
            payer_masked=case.applicant,
            description=f"{case.item_name} 费用 fee"[:128],
            item_code=case.item_code,
            state=OrderState.requested,
            created_at=_now(),
        )
        try:
            store.commit([store.create_write(order)])
        except Conflict:
            order = store.get(order_no)  # another delivery of the event stored it first
    return ensure_platform_order(order.order_no)


def _payer(order: StoredOrder) -> tuple[str, str]:
    """The payer's code and name, for the platform (decrypted only here)."""
    if order.kind == "fee" and order.case_id:
        personal = cases.personal(order.case_id)
        return personal["code"], personal["name"]
    blob = store.sealed(order.order_no)
    if blob is None:
        raise NotFound(f"the payer of {order.order_no} is not on record")
    personal = unseal(blob, {"order_no": order.order_no})
    return personal["code"], personal["name"]


def ensure_platform_order(order_no: str) -> StoredOrder:
    """Create a requested order at the platform (idempotent there on the order number)."""
    order = store.get(order_no)
    if order.state != OrderState.requested:
        return order
    code, name = _payer(order)
    created = hook_call(
        PLATFORM,
        "govbus_payment_create_order",
        request=PaymentOrderRequest(
            order_no=order.order_no,
            payer_code=code,
            payer_name=name[:64],
            amount_fen=order.amount_fen,
            item_code=order.item_code if order.kind == "fee" else None,
            bill_ref=order.order_no if order.kind == "bill" else None,
            case_id=order.case_id,
            description=order.description[:128],
        ),
        ctx=_ctx(order.order_no),
    )
    pending = order.model_copy(
        update={
            "state": OrderState.pending,
            "version": order.version + 1,
            "payment_code": created.payment_code,
            "pay_url": created.pay_url,
        }
    )
    try:
        return store.replace(order, pending)
    except Conflict:
        return store.get(order_no)


# --- bills ------------------------------------------------------------------------------


# the latest a bill may fall due: a term's or a treatment's bill is paid within the
# year; a later date is a typing error (9999-12-31) that would keep an order open forever
MAX_DUE_DAYS = 365


class BillRequest(BaseModel):
    """What a biller (a school's or hospital's department client) posts. The agency
    billing is the caller's own: a field the request does not define (``agency``) is
    refused, never ignored."""

    model_config = ConfigDict(extra="forbid")

    payer_code: str = Field(min_length=18, max_length=18, description="the citizen's ID number")
    payer_name: bounded_text(64) = Field(min_length=1)
    amount_fen: PositiveFen
    title: bounded_text(100) = Field(min_length=1)
    due: _dt.date


def issue_bill(who: Caller, request: BillRequest) -> StoredOrder:
    """Store a bill and the command that creates its order: one write."""
    if not who.is_department or not who.agency:
        raise Forbidden("bills are issued by a biller's department client")
    who.require(BILLS_SCOPE)
    try:
        code = str(CitizenId(request.payer_code.strip().upper()))
    except ValueError:
        raise ValidationFailed(
            "payer_code is not a valid citizen ID number (GB 11643: 18 characters, "
            "a real birth date, the check character)",
            field="payer_code",
        ) from None
    today = _dt.datetime.now(CST).date()
    if request.due < today:
        raise ValidationFailed("the due date is already past", field="due")
    if request.due > today + _dt.timedelta(days=MAX_DUE_DAYS):
        raise ValidationFailed(
            f"the due date is at most {MAX_DUE_DAYS} days from today "
            f"({(today + _dt.timedelta(days=MAX_DUE_DAYS)).isoformat()})",
            field="due",
        )
    order_no = f"{BILL_PREFIX}{secrets.token_hex(8).upper()}"
    order = StoredOrder(
        order_no=order_no,
        kind="bill",
        agency=who.agency,
        biller=who.subject,
        amount_fen=request.amount_fen,
        payer_key=subject_key(code),
        payer_masked=mask_identifier(code),
        description=request.title,
        title=request.title,
        due=request.due,
        state=OrderState.requested,
        created_at=_now(),
    )
    sealed = seal({"code": code, "name": request.payer_name}, {"order_no": order_no})
    command = Event.create(
        "payment.order_requested",
        PaymentOrderRequested(order_no=order_no),
        source=SOURCE,
        subject=order_no,
    )
    store.commit([store.create_write(order, sealed)], [command])
    audit.record("bill.issued", actor=who.subject, target=code, detail=order_no)
    return order


def my_bills(who: Caller) -> list[StoredOrder]:
    if who.is_department or not who.may(SELF):
        raise Forbidden("?mine=true lists a citizen's own bills")
    return store.by_payer(subject_key(who.subject), "bill")


def agency_bills(who: Caller, state: str | None = None) -> list[StoredOrder]:
    """The bills a biller's agency issued, newest first; ``state`` filters (paid, ...)."""
    if not who.is_department or not who.agency:
        raise Forbidden("a biller's department client lists its agency's bills")
    who.require(BILLS_SCOPE)
    wanted = one_of(OrderState, state, "state")
    found = store.by_agency(who.agency, "bill")
    return [o for o in found if wanted is None or o.state == wanted]


# --- paying -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Payment:
    """A payment as a partner reports it, whichever way it arrived."""

    order_no: str
    amount_fen: int
    channel: PaymentChannel
    paid_at: _dt.datetime
    receipt_no: str
    platform_txn_id: str
    via: PaidVia
    # the platform's payment code of the order paid (a card payment has none)
    payment_code: str | None = None


def _flagged(order: StoredOrder, flag: str) -> StoredOrder:
    if flag in order.flags:
        return order
    logger.warning("payment order flagged", extra={"order_no": order.order_no, "flag": flag})
    try:
        return store.replace(
            order,
            order.model_copy(update={"flags": [*order.flags, flag], "version": order.version + 1}),
        )
    except Conflict:
        return store.get(order.order_no)


def apply_payment(payment: Payment, order: StoredOrder | None = None) -> str:
    """Mark the order paid, once, and move its case on; returns what happened.

    ``order``: the order as just read (reconciliation reads a hundred at once); the
    first attempt starts from it instead of reading it again. Every write is conditional
    on the version it was read in, so an order changed since is read afresh and retried.

    ``paid`` (this call paid it), ``already`` (the same payment was applied before),
    ``refunding`` (the money arrived for a case that is rejected, closed or paid
    otherwise: recorded and given back through its channel, in the same write),
    ``flagged`` (the amount differs, or the order was paid another way too: a person
    must look), ``unknown`` (no such order here).
    """
    for attempt in range(6):
        if attempt or order is None:
            order = store.find(payment.order_no)
        if order is None:
            logger.warning(
                "a payment for an order not held here", extra={"order": payment.order_no}
            )
            return "unknown"
        if order.state in (OrderState.paid, OrderState.refunded):
            if order.platform_txn_id == payment.platform_txn_id:
                return "already"
            if order.via == payment.via:
                # one partner holds one payment per order: a second report through the
                # same channel is not a second payment, and refunding "it" would give
                # back the only real one
                _flagged(
                    order,
                    f"a second payment notification through the {payment.via.value}: trade "
                    f"{payment.platform_txn_id}, receipt {payment.receipt_no}, "
                    f"{payment.amount_fen} fen; the order was paid by trade "
                    f"{order.platform_txn_id} and the {payment.via.value} holds one payment "
                    "per order: not refunded, a person must look",
                )
                return "flagged"
            try:
                _return_second_payment(order, payment)
            except Conflict:
                continue
            return "flagged"
        if payment.amount_fen != order.amount_fen:
            _flagged(
                order,
                f"amount differs: {payment.via} reports {payment.amount_fen} fen, "
                f"the order is {order.amount_fen} fen ({payment.platform_txn_id})",
            )
            return "flagged"
        if payment.payment_code is not None and payment.payment_code != order.payment_code:
            # the platform speaks of another order's (or an unknown) payment code: this is
            # not a payment of this order until a person has looked
            _flagged(
                order,
                f"payment code differs: {payment.via} reports {payment.payment_code} "
                f"({payment.platform_txn_id}), the order's is {order.payment_code or 'not known yet'}",
            )
            return "flagged"
        try:
            outcome = _settle(order, payment)
        except Conflict:
            reused = _used_by_another_order(order, payment)
            if reused:
                # a receipt or trade number is one payment's: settling again can never
                # succeed, so a person looks instead of the message being retried forever
                _flagged(order, reused)
                return "flagged"
            continue  # another notification, the clerk or the rejection got there first
        if outcome == "refunding":
            _refund_now(payment.order_no)
        return outcome
    raise Conflict(f"order {payment.order_no} kept changing; the payment will be retried")


def _used_by_another_order(order: StoredOrder, payment: Payment) -> str | None:
    """Why ``payment`` cannot settle ``order``: its receipt or trade number is already
    another order's; None when the order itself changed meanwhile (worth another look)."""
    owner = store.receipt_owner(payment.receipt_no)
    if owner is not None and owner != order.order_no:
        return (
            f"receipt number {payment.receipt_no} is already used by order {owner}: "
            f"{payment.via} reports it again ({payment.platform_txn_id}); not paid"
        )
    owner = store.txn_owner(payment.via, payment.platform_txn_id)
    if owner is not None and owner != order.order_no:
        return (
            f"trade number {payment.platform_txn_id} is already used by order {owner}: "
            f"{payment.via} reports it again (receipt {payment.receipt_no}); not paid"
        )
    return None


def _refund(via: PaidVia | None, order_no: str, refund_no: str, amount_fen: int, reason: str):
    """Give money back through the channel it was paid by, idempotent on ``refund_no``."""
    ctx = _ctx(refund_no)
    if via == PaidVia.card:
        refund = CardRefund(
            reference=order_no, refund_reference=refund_no, amount_fen=amount_fen, reason=reason
        )
        return hook_call(CARD, "govbus_card_refund", refund=refund, ctx=ctx)
    request = RefundRequest(
        order_no=order_no, refund_no=refund_no, amount_fen=amount_fen, reason=reason
    )
    return hook_call(PLATFORM, "govbus_payment_refund", request=request, ctx=ctx)


def _return_second_payment(order: StoredOrder, payment: Payment) -> None:
    """The order was paid twice through two channels (at the platform and by card): give
    the second payment back through the channel it was paid by, idempotent on
    ``RD-<order no>``, and flag the order so that a person sees it happened.

    Refunded at once when the partner answers; otherwise a ``payment.refund_requested``
    command is written with the flag (one write) and retried until it answers. Raises
    :class:`Conflict` when the order changed meanwhile (the caller looks again).
    """
    refund_no = f"{SECOND_PAYMENT_PREFIX}{order.order_no}"[:32]
    done = f"paid twice: the {payment.via.value} payment {payment.platform_txn_id} was refunded ({refund_no})"
    if done in order.flags:
        return
    reason = "paid twice: the second payment is returned"
    try:
        _refund(payment.via, order.order_no, refund_no, payment.amount_fen, reason)
    except GovbusError as exc:
        logger.warning(
            "the second payment could not be refunded yet: retried",
            extra={"order_no": order.order_no, "reason": str(exc)},
        )
        pending = (
            f"paid twice: the {payment.via.value} payment {payment.platform_txn_id} is "
            f"being refunded ({refund_no})"
        )
        if pending in order.flags:
            return
        command = _refund_command(order, payment, refund_no, reason)
        store.replace(order, _with_flag(order, pending), [command])
        return
    store.replace(order, _with_flag(order, done))


def _with_flag(order: StoredOrder, flag: str) -> StoredOrder:
    logger.warning("payment order flagged", extra={"order_no": order.order_no, "flag": flag})
    return order.model_copy(update={"flags": [*order.flags, flag], "version": order.version + 1})


def _refund_command(order: StoredOrder, payment: Payment, refund_no: str, reason: str) -> Event:
    return Event.create(
        "payment.refund_requested",
        PaymentRefundRequested(
            order_no=order.order_no,
            refund_no=refund_no,
            via=payment.via.value,
            amount_fen=payment.amount_fen,
            platform_txn_id=payment.platform_txn_id,
            reason=reason[:128],
        ),
        source=SOURCE,
        subject=order.order_no,
    )


def _kept(order: StoredOrder, case: Case | None) -> str | None:
    """Why a payment of ``order`` must not be kept (None: it pays the order)."""
    if order.state == OrderState.closed:
        return "the order was closed"
    if case is None:
        return None
    if case.paid:
        return "the case's fee was already paid (at the hall)"
    if case.state != CaseState.awaiting_payment:
        return f"the case was {case.state.value}"
    return None


def _settle(order: StoredOrder, payment: Payment) -> str:
    """Record the payment: ``paid`` (it pays the order) or ``refunding`` (it cannot)."""
    paid = order.model_copy(
        update={
            "state": OrderState.paid,
            "version": order.version + 1,
            "paid_at": payment.paid_at,
            "via": payment.via,
            "channel": payment.channel.value,
            "platform_txn_id": payment.platform_txn_id,
            "receipt_no": payment.receipt_no,
        }
    )
    receipt = Receipt(
        receipt_no=payment.receipt_no,
        order_no=order.order_no,
        kind=order.kind,
        case_id=order.case_id,
        agency=order.agency,
        item=order.description,
        item_code=order.item_code,
        amount_fen=payment.amount_fen,
        amount_yuan=yuan(payment.amount_fen),
        payer=order.payer_masked,
        channel=payment.channel.value,
        paid_at=payment.paid_at,
        platform_txn_id=payment.platform_txn_id,
    )
    completed = Event.create(
        "payment.completed",
        PaymentCompleted(
            order_no=order.order_no,
            kind=order.kind,
            case_id=order.case_id,
            amount_fen=payment.amount_fen,
            channel=payment.channel,
            receipt_no=payment.receipt_no,
            payer_key=order.payer_key,
        ),
        source=SOURCE,
        subject=order.order_no,
    )
    case = cases.get(order.case_id) if order.kind == "fee" and order.case_id else None
    writes = [
        store.change_write(order, paid),
        store.receipt_write(receipt, order.payer_key),
        store.txn_write(payment.via, payment.platform_txn_id, order.order_no),
    ]
    why = _kept(order, case)
    if why is None and case is not None:
        step = Step(
            action="paid",
            actor=SYSTEM,
            actor_kind=Actor.system,
            note=f"paid online {yuan(payment.amount_fen)} yuan, receipt {payment.receipt_no}",
            updates={"paid": True},
        )
        # conditional on the case's version: a rejection committed meanwhile makes this
        # a Conflict, and the next look finds the case rejected
        applications.change(case, [step], [completed], writes)
        return "paid"
    if why is None:
        store.commit(writes, [completed])
        return "paid"
    # the money arrived for a case that can no longer take it: it is recorded (it did
    # move: receipt, trade, the day's reconciliation) and given back through the channel
    # that took it, by a command written in this same transaction (retried until done)
    refund_no = f"{REFUND_PREFIX}{order.order_no}"[:32]
    flag = f"paid while {why}: refunded through the {payment.via.value} ({refund_no})"
    writes[0] = store.change_write(
        order, paid.model_copy(update={"flags": [*paid.flags, flag], "refund_no": refund_no})
    )
    logger.warning("payment order flagged", extra={"order_no": order.order_no, "flag": flag})
    store.commit(writes, [_refund_command(order, payment, refund_no, f"refunded: {why}")])
    return "refunding"


def pay_by_card(order_no: str, who: Caller) -> StoredOrder:
    """The payer pays from their citizen card; the card platform charges once per order."""
    order = store.find(order_no)
    if order is None or not is_payer(order, who):
        raise NotFound(f"no payment order {order_no}")
    if order.state == OrderState.paid:
        raise Conflict(f"order {order_no} is already paid (receipt {order.receipt_no})")
    if order.state != OrderState.pending:
        words = (
            "being created; try again in a moment"
            if order.state == "requested"
            else (f"{order.state.value}; it can no longer be paid")
        )
        raise Conflict(f"order {order_no} is {words}")
    if order.kind == "fee" and order.case_id:
        case = cases.get(order.case_id)
        why = _kept(order, case)
        if why is not None:  # refused before the money moves
            raise Conflict(f"order {order_no} can no longer be paid: {why}")
    try:
        holder = CitizenId(who.subject)
    except ValueError:
        raise ValidationFailed("only a citizen can pay by citizen card") from None
    ctx = _ctx(order_no)
    try:
        card = hook_call(CARD, "govbus_card_lookup", holder_code=holder, ctx=ctx)
    except NotFound:
        raise ValidationFailed(
            "no citizen card is registered to you; pay by bank card at the pay_url instead"
        ) from None
    if not card.can_pay:
        raise CardUnusable(
            f"your citizen card is {card.status.value}: it cannot pay; "
            "pay by bank card at the pay_url instead"
        )
    charged = hook_call(
        CARD,
        "govbus_card_pay",
        payment=CardPayment(
            card_no=card.card_no,
            amount_fen=order.amount_fen,
            reference=order.order_no,
            description=order.description[:128],
        ),
        ctx=ctx,
    )
    outcome = apply_payment(
        Payment(
            order_no=order.order_no,
            amount_fen=charged.amount_fen,
            channel=PaymentChannel.citizen_card,
            paid_at=charged.paid_at,
            receipt_no=charged.payment_id,
            platform_txn_id=charged.payment_id,
            via=PaidVia.card,
        )
    )
    if outcome == "paid":
        close_at_platform(order.order_no)
    audit.record("payment.card", actor=who.subject, target=order.order_no, detail=outcome)
    paid = store.get(order.order_no)
    if paid.platform_txn_id == charged.payment_id and paid.refund_no:
        # the case was rejected (or closed) while the card was charged: never kept
        raise Conflict(
            f"order {order_no} can no longer be paid: {paid.flags[-1] if paid.flags else 'refunded'}"
        )
    return paid


def close_at_platform(order_no: str) -> None:
    """Close the platform's order of an order paid otherwise, so it is not paid twice."""
    try:
        hook_call(PLATFORM, "govbus_payment_close_order", order_no=order_no, ctx=_ctx(order_no))
    except GovbusError as exc:
        # paid there too meanwhile: its notification finds the order paid and flags it
        logger.warning(
            "the platform order could not be closed", extra={"order": order_no, "reason": str(exc)}
        )


# --- what the case's other moves mean for its order ----------------------------------


def case_moved(case_id: str, action: str, to_state: str, reason: str) -> None:
    """React to a case's step: ask for its fee, refund it, or close its unpaid order."""
    if to_state == CaseState.awaiting_payment:
        order_for_case(case_id)
    elif action == "reject":
        refund_case(case_id, reason or "the application was rejected")
    elif action == "record_payment":
        order = store.find(fee_order_no(case_id))
        if order is not None and order.state in (OrderState.requested, OrderState.pending):
            _close(order)


def _close(order: StoredOrder) -> StoredOrder:
    if order.state == OrderState.pending:
        try:
            hook_call(
                PLATFORM,
                "govbus_payment_close_order",
                order_no=order.order_no,
                ctx=_ctx(order.order_no),
            )
        except Conflict:
            # paid at the platform already, its notification not here yet: the payment
            # is applied now from the platform's own record, and (the case no longer
            # taking it) refunded through the platform
            there = hook_call(
                PLATFORM,
                "govbus_payment_query_order",
                order_no=order.order_no,
                ctx=_ctx(order.order_no),
            )
            if there.state == "pending":
                raise
            if there.platform_txn_id and there.receipt_no and there.paid_at:
                apply_payment(_platform_payment(there))
            return store.get(order.order_no)
    try:
        return store.replace(
            order,
            order.model_copy(update={"state": OrderState.closed, "version": order.version + 1}),
        )
    except Conflict:
        return store.get(order.order_no)


def refund_case(case_id: str, reason: str) -> StoredOrder | None:
    """Refund a rejected case's paid fee, once; close it if it was never paid."""
    order = store.find(fee_order_no(case_id))
    if order is None or order.state in (OrderState.closed, OrderState.refunded):
        return order
    if order.state in (OrderState.requested, OrderState.pending):
        return _close(order)
    return _refund_order(order.order_no, reason)


def _platform_payment(there: PaymentOrder) -> Payment:
    """A payment as the platform's record of the order shows it."""
    return Payment(
        order_no=there.order_no,
        amount_fen=there.amount_fen,
        channel=there.channel or PaymentChannel.bank_card,
        paid_at=there.paid_at,
        receipt_no=there.receipt_no,
        platform_txn_id=there.platform_txn_id,
        via=PaidVia.platform,
        payment_code=there.payment_code,
    )


def _refund_order(order_no: str, reason: str) -> StoredOrder:
    """Give a paid order's payment back in full, once: ``RF-<order no>`` through the
    channel that took it (idempotent at the partner), then ``paid -> refunded``
    (conditional) with its ``payment.refunded`` event. Nothing happens to an order that
    is not paid (refunded already, or never paid)."""
    for _attempt in range(6):
        order = store.get(order_no)
        if order.state != OrderState.paid:
            return order
        refund_no = f"{REFUND_PREFIX}{order.order_no}"[:32]
        refunded_at = _refund(
            order.via, order.order_no, refund_no, order.amount_fen, reason[:128]
        ).refunded_at
        refunded = order.model_copy(
            update={
                "state": OrderState.refunded,
                "version": order.version + 1,
                "refund_no": refund_no,
                "refunded_at": refunded_at,
            }
        )
        event = Event.create(
            "payment.refunded",
            PaymentRefunded(
                order_no=order.order_no,
                case_id=order.case_id,
                amount_fen=order.amount_fen,
                refund_no=refund_no,
                payer_key=order.payer_key,
            ),
            source=SOURCE,
            subject=order.order_no,
        )
        try:
            return store.replace(order, refunded, [event])
        except Conflict:
            continue  # flagged or refunded meanwhile: look again (the partner refunds once)
    raise Conflict(f"order {order_no} kept changing; the refund will be retried")


def _refund_now(order_no: str) -> None:
    """Try the refund a payment's own write asked for at once; its command retries it."""
    try:
        _refund_order(order_no, "the case can no longer take the payment")
    except GovbusError as exc:
        logger.warning(
            "the refund will be retried by its command",
            extra={"order_no": order_no, "reason": str(exc)},
        )


def refund_requested(command: PaymentRefundRequested) -> StoredOrder:
    """Carry out a ``payment.refund_requested`` command (idempotent: the partner refunds
    a refund number once, the order moves once)."""
    if command.refund_no.startswith(REFUND_PREFIX):
        return _refund_order(command.order_no, command.reason)
    via = PaidVia(command.via)
    _refund(via, command.order_no, command.refund_no, command.amount_fen, command.reason)
    done = (
        f"paid twice: the {via.value} payment {command.platform_txn_id} was refunded "
        f"({command.refund_no})"
    )
    return _flagged(store.get(command.order_no), done)


# --- receipts ----------------------------------------------------------------------------


def receipt_for(receipt_no: str, who: Caller) -> Receipt:
    """A receipt, for its payer or the agency that was paid; 404 for anyone else."""
    found, payer_key = store.receipt(receipt_no)
    if not (is_payer(payer_key, who) or is_agency(found.agency, who)):
        raise NotFound(f"no receipt {receipt_no}")
    return found
