"""The SMS adapter's hook implementations (registered as entry point ``sms``)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from adapters.sms import wire
from adapters.sms.client import SmsClient, ping_endpoint
from adapters.sms.config import SmsConfig
from contracts import hookimpl
from contracts.adapters import AdapterFamily, AdapterInfo, CallContext, Health, PingResult
from contracts.errors import NotFound, PartnerError, PartnerUnavailable
from contracts.notify import NotifyMessage, NotifyReceipt

NAME = "sms"
VERSION = "1.0.0"


class _State:
    def __init__(self) -> None:
        self.config = SmsConfig()
        self.get_secret: Any = None
        self.client: SmsClient | None = None
        self.lock = threading.Lock()
        self.ping_cache: tuple[float, PingResult] | None = None


_state = _State()


def client() -> SmsClient:
    """Built lazily, once per configuration, from the credentials the gateway issued."""
    with _state.lock:
        if _state.client is None:
            if _state.get_secret is None:
                raise PartnerUnavailable("the SMS adapter is not configured")
            try:
                creds = json.loads(_state.get_secret(_state.config.secret_name))
                _state.client = SmsClient(_state.config, creds["app_id"], creds["secret"])
            except (KeyError, ValueError) as exc:
                raise PartnerUnavailable("the SMS credentials secret is malformed") from exc
        return _state.client


@hookimpl
def govbus_adapter_info() -> AdapterInfo:
    return AdapterInfo(
        name=NAME,
        family=AdapterFamily.notify,
        title="榕城政务短信平台 city SMS gateway",
        version=VERSION,
        secret_name=_state.config.secret_name,
    )


@hookimpl
def govbus_adapter_configure(settings, get_secret) -> None:
    known = {k: v for k, v in settings.items() if k in SmsConfig.model_fields}
    with _state.lock:
        _state.config = SmsConfig.model_validate(known)
        _state.get_secret = get_secret
        _state.client = None
        _state.ping_cache = None


@hookimpl
def govbus_ping() -> PingResult:
    now = time.monotonic()
    cached = _state.ping_cache
    if cached and now - cached[0] < _state.config.ping_cache_seconds:
        return cached[1]
    started = time.perf_counter()
    try:
        up = ping_endpoint(str(_state.config.endpoint))
        detail = "" if up else "the SMS gateway did not answer its ping"
    except Exception as exc:  # a ping never raises
        up, detail = False, f"ping failed: {type(exc).__name__}"
    result = PingResult(
        adapter=NAME,
        status=Health.up if up else Health.down,
        latency_ms=(time.perf_counter() - started) * 1000,
        detail=detail,
    )
    _state.ping_cache = (now, result)
    return result


@hookimpl
def govbus_simulator():
    from adapters.sms.simulator import SmsSimulator

    return SmsSimulator()


def _receipt(data: dict[str, Any]) -> NotifyReceipt:
    try:
        return NotifyReceipt(
            message_id=str(data["msgid"]),
            status=wire.STATES[str(data["status"])],
            at=data.get("done_time"),
            detail=str(data.get("err", "")),
        )
    except (KeyError, ValueError) as exc:
        raise PartnerUnavailable("the SMS gateway sent a malformed receipt") from exc


@hookimpl
def govbus_notify_send(message: NotifyMessage, ctx: CallContext) -> NotifyReceipt:
    data = client().call(
        wire.SEND_PATH,
        {
            # the gateway answers a repeated request_id with the first message, unsent
            "request_id": ctx.idempotency_key,
            "mobile": message.to,
            "content": message.text,
            "sign_name": _state.config.sign_name,
            "category": message.kind.value,
            "biz_ref": message.reference,
        },
        correlation_id=ctx.correlation_id,
        timeout=ctx.timeout_seconds,
    )
    return _receipt(data)


@hookimpl
def govbus_notify_status(message_id: str, ctx: CallContext) -> NotifyReceipt:
    try:
        data = client().call(
            wire.STATUS_PATH,
            {"msgid": message_id},
            correlation_id=ctx.correlation_id,
            timeout=ctx.timeout_seconds,
        )
    except PartnerError as exc:
        if exc.code == "4040":
            raise NotFound(f"the SMS gateway knows no message {message_id}") from exc
        raise
    return _receipt(data)
