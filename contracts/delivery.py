"""Result delivery by courier (EMS): waybills and tracking."""

from __future__ import annotations

import datetime as _dt
from enum import StrEnum

from pydantic import Field

from contracts.base import ContractModel
from contracts.constrained import ShortText, Text, bounded_text
from contracts.events import event_type


class Address(ContractModel):
    name: bounded_text(100) = Field(min_length=1)
    phone: str = Field(min_length=5, max_length=20)
    province: bounded_text(50)
    city: bounded_text(50)
    district: bounded_text(50) = ""
    street: ShortText = Field(min_length=1)
    postcode: str | None = Field(default=None, max_length=10)


class TrackingState(StrEnum):
    """Courier states. ``rank`` orders them so that a shipment only moves forward."""

    created = "created"
    accepted = "accepted"  # 收寄
    in_transit = "in_transit"  # 运输中
    out_for_delivery = "out_for_delivery"  # 派送中
    delivered = "delivered"  # 妥投
    returned = "returned"  # 退回
    cancelled = "cancelled"  # 撤单, before pick-up

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def is_final(self) -> bool:
        return self in (TrackingState.delivered, TrackingState.returned, TrackingState.cancelled)


_RANK = {state: i for i, state in enumerate(TrackingState)}


class WaybillRequest(ContractModel):
    case_id: str
    sender: Address
    receiver: Address
    contents: str = "政务服务办理结果 (case result)"
    weight_grams: int = Field(default=200, gt=0)


class Waybill(ContractModel):
    case_id: str
    waybill_no: str
    carrier: str
    state: TrackingState = TrackingState.created


class TrackingUpdate(ContractModel):
    waybill_no: bounded_text(64) = Field(min_length=1)
    case_id: bounded_text(64) = Field(min_length=1)  # our reference, echoed
    state: TrackingState
    occurred_at: _dt.datetime
    location: ShortText = ""
    note: Text = ""


@event_type("delivery.requested")
class DeliveryRequested(ContractModel):
    carrier: str = "ems"
    request: WaybillRequest
    # the applicant's blind index key, so the one-code index can list the shipment
    applicant_key: str | None = None


@event_type("delivery.waybill_created")
class WaybillCreated(ContractModel):
    waybill: Waybill


@event_type("delivery.tracking_updated")
class TrackingUpdated(ContractModel):
    carrier: str
    update: TrackingUpdate
