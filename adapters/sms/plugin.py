"""The SMS adapter's hook implementations (registered as entry point ``sms``)."""

from __future__ import annotations

from typing import Any

from adapters.sms import wire
from adapters.sms.client import SmsClient, ping_endpoint
from adapters.sms.config import SmsConfig
from contracts import hookimpl
from contracts.adapterkit import AdapterState
from contracts.adapters import AdapterFamily, AdapterInfo, CallContext, PingResult
from contracts.errors import NotFound, PartnerError, PartnerUnavailable
from contracts.notify import NotifyMessage, NotifyReceipt

NAME = "sms"
VERSION = "1.0.0"


_state: AdapterState[SmsConfig, SmsClient] = AdapterState("the SMS gateway", SmsConfig)


def client() -> SmsClient:
    """Built lazily, once per configuration, from the credentials the partner issued."""
    return _state.client(lambda config, creds: SmsClient(config, creds["app_id"], creds["secret"]))


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
    _state.configure(settings, get_secret)


@hookimpl
def govbus_ping() -> PingResult:
    # the ping needs no credentials: health can run without access to secrets
    return _state.ping(NAME, lambda: ping_endpoint(str(_state.config.endpoint)))


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
