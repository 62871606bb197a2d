"""EMS's wire format, kept inside the adapter: signatures, field names, status codes.

Requests and pushes are JSON, signed ``base64(md5(body + secret))`` in
``X-Signature`` with the caller's ``X-App-Key``; answers are
``{"success": bool, "code": str, "msg": str, "data": {...}}``.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import hmac

from contracts.delivery import Address, TrackingState

OK = "0000"
CST = _dt.timezone(_dt.timedelta(hours=8), "CST")  # EMS's times are Beijing time
# op codes of a trace / push, and what they mean for the shipment
OP_CODES: dict[str, TrackingState] = {
    "10": TrackingState.accepted,  # 收寄
    "20": TrackingState.in_transit,  # 运输中
    "30": TrackingState.out_for_delivery,  # 派送中
    "40": TrackingState.delivered,  # 妥投
    "50": TrackingState.returned,  # 退回
}
OP_CODE_OF = {state: code for code, state in OP_CODES.items()}
OP_TEXT = {
    "10": "已收寄 accepted",
    "20": "运输中 in transit",
    "30": "派送中 out for delivery",
    "40": "已妥投 delivered",
    "50": "已退回 returned",
}

# a tracking push's fields: the contract's name (TrackingUpdate) -> EMS's own
PUSH_FIELDS = {
    "waybill_no": "mail_no",
    "case_id": "logistics_order_no",
    "state": "op_code",
    "occurred_at": "op_time",
    "location": "op_org_city",
    "note": "op_desc",
}


def sign(body: bytes, secret: str) -> str:
    return base64.b64encode(hashlib.md5(body + secret.encode()).digest()).decode()  # noqa: S324 - the partner's own scheme


def signature_matches(body: bytes, secret: str, offered: str) -> bool:
    return hmac.compare_digest(sign(body, secret).encode(), (offered or "").encode())


def address_out(address: Address) -> dict[str, str]:
    return {
        "name": address.name,
        "mobile": address.phone,
        "prov": address.province,
        "city": address.city,
        "county": address.district,
        "address": address.street,
        "post_code": address.postcode or "",
    }
