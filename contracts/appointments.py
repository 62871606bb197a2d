"""Appointments (预约): slots per hall or community window, per item, per day."""

from __future__ import annotations

import datetime as _dt
import re

from pydantic import ConfigDict, Field, field_validator

from contracts.base import ContractModel
from contracts.events import event_type

TIME = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


class SlotsRequest(ContractModel):
    model_config = ConfigDict(extra="forbid")

    hall: str = Field(min_length=2, max_length=60, pattern=r"^[a-z0-9-]+$")
    item_code: str = Field(min_length=22, max_length=30)
    day: _dt.date
    times: list[str] = Field(min_length=1, max_length=48)
    capacity: int = Field(ge=1, le=500)

    @field_validator("day")
    @classmethod
    def _not_past(cls, value: _dt.date) -> _dt.date:
        # a day away from UTC+8 still counts as today somewhere in the country
        if value < _dt.datetime.now(_dt.UTC).date() - _dt.timedelta(days=1):
            raise ValueError("slots are opened for today or a later day")
        return value

    @field_validator("times")
    @classmethod
    def _times(cls, value: list[str]) -> list[str]:
        for t in value:
            if not TIME.match(t):
                raise ValueError(f"times are HH:MM, not {t!r}")
        return sorted(set(value))


class Slot(ContractModel):
    hall: str
    item_code: str
    day: _dt.date
    time: str
    capacity: int
    booked: int

    @property
    def free(self) -> int:
        return self.capacity - self.booked


class BookingRequest(ContractModel):
    model_config = ConfigDict(extra="forbid")

    hall: str = Field(min_length=2, max_length=60, pattern=r"^[a-z0-9-]+$")
    item_code: str = Field(min_length=22, max_length=30)
    day: _dt.date
    time: str = Field(pattern=TIME.pattern)


class Booking(ContractModel):
    id: str
    hall: str
    item_code: str
    day: _dt.date
    time: str
    status: str  # booked | cancelled
    applicant: str  # masked
    created_at: _dt.datetime


@event_type("appointment.reminder")
class AppointmentReminder(ContractModel):
    booking_id: str
    applicant_key: str
    hall: str
    item_code: str
    day: _dt.date
    time: str
