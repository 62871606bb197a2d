"""12345: consultations and complaints, assigned to an agency with a deadline.

POST /hotline/tickets                 a citizen (or a hotline operator for a caller) files one
GET  /hotline/tickets?mine=true       the caller's tickets, with handling and answers
GET  /hotline/tickets[?status=open]   the agency's tickets, nearest deadline first (hotline:handle)
GET  /hotline/tickets/{id}            the caller or the assigned agency
POST /hotline/tickets/{id}/answer     the assigned agency answers (hotline:handle)
"""

from govbus import init_phase  # noqa: F401 - first: see govbus/init_phase.py

# isort: split

import datetime as dt
from typing import Annotated

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contracts.constrained import NotBlank, bounded_text
from contracts.errors import Forbidden, NotFound, ValidationFailed
from contracts.events import Event
from contracts.hotline import (
    DEADLINE_DAYS,
    Handling,
    Ticket,
    TicketFiled,
    TicketRequest,
    TicketStatus,
)
from contracts.identity import CreditCode, parse_subject_code
from govbus import audit
from govbus.auth import SELF, caller
from govbus.calendar import calendar
from govbus.http import documented, install_problem_handlers, json_response, one_of
from govbus.observability import logger, metrics, tracer
from govbus.privacy import subject_key
from govbus.routing import HttpResolver
from govbus.stores import cases, hotline

app = HttpResolver()
install_problem_handlers(app)


class Tickets(BaseModel):
    tickets: list[Ticket]


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answer: Annotated[bounded_text(5000, multiline=True), NotBlank] = Field(min_length=2)


@app.post(
    "/hotline/tickets",
    **documented(
        "File a consultation or complaint (12345 热线)",
        ok=Ticket,
        status=201,
        body=TicketRequest,
        errors=(404, 422),
        scopes=("self", "hotline:intake"),
    ),
)
def file_ticket():
    who = caller(app)
    request = TicketRequest.model_validate(app.current_event.json_body or {})
    if request.caller_code:
        who.require("hotline:intake")  # an operator taking a call
        try:
            caller_code = str(parse_subject_code(request.caller_code))
        except ValueError as exc:
            raise ValidationFailed(f"caller_code: {exc}", field="caller_code") from None
    else:
        who.require(SELF)
        caller_code = who.subject
    agency = request.agency
    if request.about_case:
        case = cases.get(request.about_case)
        if cases.applicant_key(case.id) != subject_key(caller_code):
            # a complaint names the caller's own case; another's reveals nothing
            raise NotFound(f"no case {request.about_case}")
        agency = case.agency
    if not agency:
        raise ValidationFailed(
            "name the agency, or the case the complaint is about", field="agency"
        )
    try:
        agency = str(CreditCode(agency))
    except ValidationError as exc:
        raise ValidationFailed(f"agency: {exc.errors()[0]['msg']}", field="agency") from None
    hotline.require_answering_agency(agency)
    now = dt.datetime.now(dt.UTC)
    deadline = calendar().add_working_days(now.date(), DEADLINE_DAYS[request.kind])
    ticket = Ticket(
        id=hotline.new_ticket_id(now),
        kind=request.kind,
        category=request.category,
        title=request.title,
        details=request.details,
        about_case=request.about_case,
        agency=agency,
        status=TicketStatus.open,
        deadline=deadline,
        created_at=now,
        handling=[
            Handling(
                at=now, by="12345", what=f"assigned to {agency}, answer due {deadline.isoformat()}"
            )
        ],
    )
    filed = Event.create(
        "hotline.filed",
        TicketFiled(
            ticket_id=ticket.id,
            agency=agency,
            kind=ticket.kind,
            title=ticket.title,
            deadline=deadline,
            about_case=ticket.about_case,
        ),
        source="govbus.hotline",
        subject=ticket.id,
    )
    hotline.save(ticket, subject_key(caller_code), events=[filed])
    audit.record("hotline.filed", actor=who.subject, target=caller_code, detail=ticket.id)
    return json_response(ticket, 201)


@app.get(
    "/hotline/tickets",
    **documented(
        "A citizen's own tickets (?mine=true), or the tickets assigned to a department's "
        "agency, the nearest deadline first (?status= filters)",
        ok=Tickets,
        errors=(403, 422),
        scopes=("self", "hotline:handle"),
        query={
            "mine": "true: the caller's own tickets (a citizen; required of one)",
            "status": "a department's listing only: open, escalated, answered or closed",
        },
    ),
)
def listing():
    who = caller(app)
    query = app.current_event.query_string_parameters
    # one rule with GET /bills and GET /applications: a department lists its agency's
    # (with the scope that says so), a citizen its own with ?mine=true
    if who.is_department and who.may("hotline:handle") and who.agency:
        if "mine" in query:
            raise ValidationFailed(
                "a department lists its agency's tickets: leave out ?mine", field="mine"
            )
        tickets = hotline.by_agency(who.agency, one_of(TicketStatus, query.get("status"), "status"))
    elif who.is_department or not who.may(SELF):
        raise Forbidden(
            "a department lists its agency's tickets with the scope hotline:handle; "
            "a citizen lists their own with ?mine=true"
        )
    else:
        if (query.get("mine") or "").lower() != "true":
            raise ValidationFailed("list your own tickets with ?mine=true", field="mine")
        if "status" in query:
            raise ValidationFailed("?status filters a department's listing", field="status")
        tickets = hotline.by_caller(subject_key(who.subject))
    return json_response({"tickets": [t.model_dump(mode="json") for t in tickets]})


@app.get(
    "/hotline/tickets/<ticket_id>",
    **documented(
        "One ticket, for its caller or its agency",
        ok=Ticket,
        errors=(404,),
        scopes=("self", "hotline:handle"),
    ),
)
def read(ticket_id: str):
    who = caller(app)
    ticket, key = hotline.get(ticket_id)
    if not (
        (who.agency == ticket.agency and who.may("hotline:handle"))
        or (who.may(SELF) and subject_key(who.subject) == key)
    ):
        # who may not read a ticket learns nothing of it, not even that it exists
        raise NotFound(f"no ticket {ticket_id}")
    return json_response(ticket)


@app.post(
    "/hotline/tickets/<ticket_id>/answer",
    **documented(
        "Answer a ticket", ok=Ticket, body=Answer, errors=(404, 409), scopes=("hotline:handle",)
    ),
)
def answer(ticket_id: str):
    who = caller(app)
    who.require("hotline:handle")
    ticket, _ = hotline.get(ticket_id)
    if who.agency != ticket.agency:
        raise NotFound(f"no ticket {ticket_id}")  # another agency learns nothing of it
    body = Answer.model_validate(app.current_event.json_body or {})
    done = hotline.answer(ticket_id, who.subject, body.answer)
    audit.record("hotline.answered", actor=who.subject, target=ticket_id)
    return json_response(done)


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
