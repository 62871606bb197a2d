"""Accounts of citizens and enterprises (政务服务对象全生命周期), and departments' clients.

Events about a subject carry its blind index key (``subject_key``), never the raw code:
the bus and its archive hold no identity numbers.
"""

from __future__ import annotations

import datetime as _dt
from enum import StrEnum

from pydantic import ConfigDict, Field

from contracts.base import ContractModel
from contracts.constrained import ShortText, bounded_text
from contracts.events import event_type


class AccountStatus(StrEnum):
    active = "active"
    deregistered = "deregistered"


class AccountDetails(ContractModel):
    """What a person tells us about themself; stored encrypted, shown only to them."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    name: bounded_text(100) = Field(min_length=1)
    phone: str = Field(pattern=r"^(1[3-9][0-9]{9}|0[0-9]{9,11})$")
    address: bounded_text(300) = ""
    email: ShortText | None = None


class DetailsChange(ContractModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    name: bounded_text(100) | None = Field(default=None, min_length=1)
    phone: str | None = Field(default=None, pattern=r"^(1[3-9][0-9]{9}|0[0-9]{9,11})$")
    address: bounded_text(300) | None = None
    email: ShortText | None = None


class Account(ContractModel):
    subject_code: str
    subject_kind: str
    status: AccountStatus
    registered_at: _dt.datetime
    updated_at: _dt.datetime
    details: AccountDetails | None = None


@event_type("account.registered")
class AccountRegistered(ContractModel):
    subject_key: str
    subject_kind: str


@event_type("account.updated")
class AccountUpdated(ContractModel):
    subject_key: str
    fields: list[str]


@event_type("account.deregistered")
class AccountDeregistered(ContractModel):
    subject_key: str
