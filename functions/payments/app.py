"""Fees and bills paid online (缴费): orders, card payments, receipts, and the bus's side.

HTTP:
GET  /payments/{order_no}               an order (the payer or the agency it is paid to):
                                        payment code, pay URL, state, receipt link
POST /payments/{order_no}/pay-by-card   the payer pays from their citizen card
POST /bills                             a biller (scope bills:issue) bills a citizen
GET  /bills?mine=true                   the caller's bills
GET  /receipts/{receipt_no}             an electronic receipt (the payer or the agency)

Bus (one SQS queue): ``case.transitioned`` (a fee is due: its order; a rejection: its
refund; an offline payment: its order closed), ``payment.order_requested`` (a bill's
order at the platform), ``payment.notified`` (the platform says an order is paid) and
``payment.refund_requested`` (give back a payment the bus must not keep).
Each event is reacted to once per event id (``once_per_event("payments")``: a
redelivery, even one that arrives while the first is still running, calls no partner
again); the order's state is the second guard, so a second event about the same
payment (the platform notifying twice) changes nothing either.
"""

from govbus import init_phase  # noqa: F401 - first: see govbus/init_phase.py

# isort: split


from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field

from contracts.cases import CaseTransitioned
from contracts.errors import Forbidden, ValidationFailed
from contracts.events import Event
from contracts.payments import PaymentNotified, PaymentOrderRequested, PaymentRefundRequested
from govbus import payments
from govbus.auth import caller
from govbus.batch import SQSRecord, process_partial_response
from govbus.http import documented, install_problem_handlers, json_response
from govbus.idempotency import command_config, once_per_event
from govbus.observability import logger, metrics, tracer
from govbus.routing import HttpResolver
from govbus.stores.payments import PaidVia, Receipt

app = HttpResolver()
install_problem_handlers(app)


class OrderView(BaseModel):
    """An order as its payer or agency sees it: amounts in fen (and yuan for display)."""

    order_no: str
    amount_fen: int
    amount_yuan: str
    payer: str = Field(description="masked")
    receipt_url: str | None


class Bills(BaseModel):
    bills: list[OrderView]


@app.get(
    "/payments/<order_no>",
    **documented(
        "One payment order (非税缴款)",
        ok=OrderView,
        errors=(404,),
        scopes=("self", "cases:review", "bills:issue", "payments:reconcile"),
    ),
)
def read(order_no: str):
    return json_response(payments.view(payments.visible_order(order_no, caller(app))))


@app.post(
    "/payments/<order_no>/pay-by-card",
    **documented(
        "Pay an order with one's citizen card (市民卡)",
        ok=OrderView,
        errors=(404, 409, 422, 502, 503),
        scopes=("self",),
    ),
)
def pay_by_card(order_no: str):
    return json_response(payments.view(payments.pay_by_card(order_no, caller(app))))


@app.post(
    "/bills",
    **documented(
        "Issue a bill to a payer",
        ok=OrderView,
        status=201,
        body=payments.BillRequest,
        errors=(409, 502, 503),
        scopes=("bills:issue",),
    ),
)
def issue_bill():
    request = payments.BillRequest.model_validate(app.current_event.json_body or {})
    return json_response(payments.view(payments.issue_bill(caller(app), request)), 201)


@app.get(
    "/bills",
    **documented(
        "A citizen's own bills (?mine=true), or the bills a biller's agency issued "
        "(bills:issue; ?state= filters), newest first",
        ok=Bills,
        scopes=("self", "bills:issue"),
        query={
            "mine": "true: the caller's own bills (a citizen)",
            "state": "a biller's listing only: requested, pending, paid, ...",
        },
        errors=(422,),
    ),
)
def list_bills():
    who = caller(app)
    query = app.current_event.query_string_parameters
    if who.is_department and who.may(payments.BILLS_SCOPE):
        if "mine" in query:
            raise ValidationFailed(
                "a biller lists its agency's bills: leave out ?mine", field="mine"
            )
        found = payments.agency_bills(who, query.get("state"))
    elif who.is_department:
        raise Forbidden("a department lists its agency's bills with the scope bills:issue")
    else:
        if (query.get("mine") or "").lower() != "true":
            raise ValidationFailed("list your own bills with ?mine=true", field="mine")
        if "state" in query:
            raise ValidationFailed("?state filters a biller's listing", field="state")
        found = payments.my_bills(who)
    return json_response({"bills": [payments.view(o) for o in found]})


@app.get(
    "/receipts/<receipt_no>",
    **documented(
        "A payment receipt",
        ok=Receipt,
        errors=(404,),
        scopes=("self", "cases:review", "bills:issue", "payments:reconcile"),
    ),
)
def receipt(receipt_no: str):
    return json_response(payments.receipt_for(receipt_no, caller(app)))


def react(record: SQSRecord) -> None:
    event = record.event()
    payments_reaction(command=event.model_dump(mode="json"))


@once_per_event("payments")
def payments_reaction(command: dict) -> dict:
    event = Event.model_validate(command)
    data = event.payload()
    if isinstance(data, CaseTransitioned):
        payments.case_moved(data.case_id, data.action, data.to_state, data.reason or "")
        return {"case_id": data.case_id}
    if isinstance(data, PaymentOrderRequested):
        order = payments.ensure_platform_order(data.order_no)
        return {"order_no": order.order_no, "state": order.state.value}
    if isinstance(data, PaymentRefundRequested):
        order = payments.refund_requested(data)
        return {"order_no": order.order_no, "state": order.state.value}
    if isinstance(data, PaymentNotified):
        outcome = payments.apply_payment(
            payments.Payment(
                order_no=data.order_no,
                amount_fen=data.amount_fen,
                channel=data.channel,
                paid_at=data.paid_at,
                receipt_no=data.receipt_no,
                platform_txn_id=data.platform_txn_id,
                via=PaidVia.platform,
                payment_code=data.payment_code,
            )
        )
        logger.info(
            "payment notification applied",
            extra={"order_no": data.order_no, "notify_id": data.notify_id, "outcome": outcome},
        )
        return {"order_no": data.order_no, "outcome": outcome}
    logger.warning("event type not handled here", extra={"event_type": event.type})
    return {}


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    if "Records" in event:  # the bus's events, through the payments queue
        command_config.register_lambda_context(context)
        return process_partial_response(event, react)
    return app.resolve(event, context)
