"""Result delivery by courier (EMS): waybills and tracking."""

from __future__ import annotations

import datetime as _dt
from enum import IntEnum

from pydantic import BaseModel, Field

from contracts.events import event_type


class Address(BaseModel):
    name: str = Field(min_length=1)
    phone: str = Field(min_length=5, max_length=20)
    province: str
    city: str
    district: str = ""
    street: str = Field(min_length=1)
    postcode: str | None = None


class TrackingState(IntEnum):
    """Courier states, ordered so that a shipment only moves forward."""

    created = 0
    accepted = 1
    in_transit = 2
    out_for_delivery = 3
    delivered = 4
    returned = 5

    @property
    def is_final(self) -> bool:
        return self in (TrackingState.delivered, TrackingState.returned)


class WaybillRequest(BaseModel):
    case_id: str
    sender: Address
    receiver: Address
    contents: str = "政务服务办理结果 (case result)"
    weight_grams: int = Field(default=200, gt=0)


class Waybill(BaseModel):
    case_id: str
    waybill_no: str
    carrier: str
    state: TrackingState = TrackingState.created


class TrackingUpdate(BaseModel):
    waybill_no: str
    state: TrackingState
    occurred_at: _dt.datetime
    location: str = ""
    note: str = ""


@event_type("delivery.requested")
class DeliveryRequested(BaseModel):
    carrier: str = "ems"
    request: WaybillRequest


@event_type("delivery.tracking_updated")
class TrackingUpdated(BaseModel):
    carrier: str
    update: TrackingUpdate
