"""Cross-level linkage with the provincial online hall (省网上办事大厅)."""

from __future__ import annotations

from pydantic import BaseModel


class ProvinceCaseForward(BaseModel):
    case_id: str
    item_code: str
    applicant_code: str
    summary: str


class ProvinceCaseReceipt(BaseModel):
    case_id: str
    province_case_no: str
    status: str
