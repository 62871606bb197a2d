"""The multi-card platform's wire format, kept inside the adapter.

OAuth2 client credentials (RFC 6749 section 4.4): ``POST /oauth/token`` with HTTP basic
auth ``client_id:client_secret`` and the form ``grant_type=client_credentials`` answers
``{"access_token", "token_type": "Bearer", "expires_in": seconds}``. Every API call
carries ``Authorization: Bearer <token>``; an expired or revoked token is HTTP 401
``{"error": "invalid_token"}``.

API calls are ``POST /api/v1/...`` with JSON bodies; answers are
``{"code": "0000", "msg": "...", "data": {...}}``, a refusal has another ``code``.
Card numbers travel in bodies, never in URLs (they and citizen IDs are personal data).
"""

from __future__ import annotations

from contracts.payments import CardStatus

OK = "0000"
CARD_NOT_FOUND = "3004"
PAYMENT_NOT_FOUND = "3005"
CONFLICT = "3009"
CARD_LOST = "3101"
CARD_FROZEN = "3102"
CARD_CANCELLED = "3103"
INSUFFICIENT_BALANCE = "3201"
REFUND_EXCEEDS = "3202"

CARD_STATES: dict[str, CardStatus] = {
    "NORMAL": CardStatus.active,  # 正常
    "FROZEN": CardStatus.frozen,  # 冻结
    "LOST": CardStatus.lost,  # 挂失
    "CANCELLED": CardStatus.cancelled,  # 注销
}
CARD_STATE_OF = {status: code for code, status in CARD_STATES.items()}
REFUSAL_OF_STATE = {"LOST": CARD_LOST, "FROZEN": CARD_FROZEN, "CANCELLED": CARD_CANCELLED}
