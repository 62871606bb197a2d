"""Appointments at a hall or community window (预约).

POST   /appointments/slots          a department opens slots (appointments:manage)
GET    /appointments/slots?hall=&day=   free places (public)
POST   /appointments                book a place (the citizen or enterprise)
GET    /appointments?mine=true      one's own bookings
DELETE /appointments/{id}           cancel one's booking
"""

from govbus import init_phase  # noqa: F401 - first: see govbus/init_phase.py

# isort: split

import datetime as dt

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field

from contracts.appointments import Booking, BookingRequest, SlotsRequest
from contracts.errors import Forbidden, NotFound, ValidationFailed
from govbus.auth import SELF, caller
from govbus.http import documented, install_problem_handlers, json_response
from govbus.observability import logger, metrics, tracer
from govbus.privacy import subject_key
from govbus.routing import HttpResolver
from govbus.stores import appointments, catalog

app = HttpResolver()
install_problem_handlers(app)


class SlotView(BaseModel):
    hall: str
    item_code: str
    day: dt.date
    time: str
    capacity: int
    booked: int
    free: int = Field(description="places still free")


class Slots(BaseModel):
    slots: list[SlotView]


class Bookings(BaseModel):
    appointments: list[Booking]


@app.post(
    "/appointments/slots",
    **documented(
        "Open appointment slots for an agency's item (预约)",
        ok=Slots,
        status=201,
        body=SlotsRequest,
        errors=(404,),
        scopes=("appointments:manage",),
    ),
)
def open_slots():
    who = caller(app)
    who.require("appointments:manage")
    request = SlotsRequest.model_validate(app.current_event.json_body or {})
    item = catalog.public_version(request.item_code.upper())
    if who.agency != str(item.agency):
        raise Forbidden("a department opens slots only for its own agency's items")
    found = appointments.open_slots(request.model_copy(update={"item_code": item.code}))
    return json_response(
        {"slots": [s.model_dump(mode="json") | {"free": s.free} for s in found]}, 201
    )


@app.get(
    "/appointments/slots",
    **documented(
        "Free appointment slots of a hall on a day",
        ok=Slots,
        errors=(422,),
        scopes=None,
        query={"hall": "the hall's code", "day": "YYYY-MM-DD"},
    ),
)
def list_slots():
    hall = app.current_event.get_query_string_value("hall") or ""
    raw_day = app.current_event.get_query_string_value("day") or ""
    try:
        day = dt.date.fromisoformat(raw_day)
    except ValueError:
        raise ValidationFailed("day is YYYY-MM-DD", field="day") from None
    if not hall:
        raise ValidationFailed("say which hall", field="hall")
    return json_response(
        {
            "slots": [
                s.model_dump(mode="json") | {"free": s.free} for s in appointments.slots(hall, day)
            ]
        }
    )


@app.post(
    "/appointments",
    **documented(
        "Book an appointment",
        ok=Booking,
        status=201,
        body=BookingRequest,
        errors=(404, 409),
        scopes=("self",),
    ),
)
def book():
    who = caller(app)
    who.require(SELF)
    request = BookingRequest.model_validate(app.current_event.json_body or {})
    if request.day < dt.datetime.now(dt.UTC).date():
        raise ValidationFailed("that day has passed", field="day")
    booking = appointments.book(
        subject_key(who.subject),
        who.subject,
        request.hall,
        request.item_code.upper(),
        request.day,
        request.time,
    )
    return json_response(booking, 201)


@app.get("/appointments", **documented("One's own appointments", ok=Bookings, scopes=("self",)))
def mine():
    who = caller(app)
    who.require(SELF)
    return json_response(
        {
            "appointments": [
                b.model_dump(mode="json") for b in appointments.mine(subject_key(who.subject))
            ]
        }
    )


@app.delete(
    "/appointments/<booking_id>",
    **documented("Cancel one's own appointment", ok=Booking, errors=(404, 409), scopes=("self",)),
)
def cancel(booking_id: str):
    who = caller(app)
    _, owner = appointments.get(booking_id)
    if owner != subject_key(who.subject):
        # another's appointment is as unknown as one never booked: nothing of it is told
        raise NotFound(f"no appointment {booking_id}")
    return json_response(appointments.cancel(booking_id))


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
