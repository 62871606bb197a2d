"""The province adapter's hook implementations (registered as entry point ``province``).

Importing this module is cheap: zeep, requests and lxml are imported on first use of
the SOAP client, and ``govbus_ping`` (health pings every adapter) needs none of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from adapters.province.config import ProvinceConfig
from contracts import hookimpl
from contracts.adapterkit import AdapterState, from_wire
from contracts.adapters import (
    AdapterFamily,
    AdapterInfo,
    CallContext,
    InboundRequest,
    PingResult,
)
from contracts.errors import (
    InvalidRequest,
    PartnerUnavailable,
    SignatureInvalid,
    StaleTimestamp,
    ValidationFailed,
)
from contracts.events import Event
from contracts.province import (
    ProvinceCaseForward,
    ProvinceCaseReceipt,
    ProvinceCaseStatusChanged,
    ProvinceItem,
)

if TYPE_CHECKING:
    from adapters.province.client import HallClient

NAME = "province"
VERSION = "1.0.0"


_state: AdapterState[ProvinceConfig, HallClient] = AdapterState("the province", ProvinceConfig)


def client() -> HallClient:
    """Built lazily, once per configuration, from the credentials the hall issued."""

    def build(config: ProvinceConfig, creds: dict[str, Any]) -> HallClient:
        from adapters.province.client import HallClient  # zeep on first use only

        return HallClient(config, creds["username"], creds["password"])

    return _state.client(build)


# --- lifecycle ------------------------------------------------------------------


@hookimpl
def govbus_adapter_info() -> AdapterInfo:
    return AdapterInfo(
        name=NAME,
        family=AdapterFamily.province,
        title="福建省网上办事大厅 provincial online hall (SOAP)",
        version=VERSION,
        secret_name=_state.config.secret_name,
    )


@hookimpl
def govbus_adapter_configure(settings, get_secret) -> None:
    _state.configure(settings, get_secret)  # closes the old client's connections


@hookimpl
def govbus_ping() -> PingResult:
    def probe() -> tuple[bool, str]:
        from adapters.province.ping import ping_endpoint  # no zeep, no requests

        return ping_endpoint(str(_state.config.endpoint), proxy=_state.config.proxy)

    return _state.ping(NAME, probe)


@hookimpl
def govbus_simulator():
    from adapters.province.simulator import HallSimulator

    return HallSimulator()


# --- status pushes ----------------------------------------------------------------


@hookimpl
def govbus_webhook_verify(request: InboundRequest, secrets: list[str]) -> str:
    from adapters.province import wire

    offered = request.headers.get(wire.PUSH_SIGNATURE_HEADER, "")
    if not offered:
        raise SignatureInvalid("missing X-Hall-Signature header")
    # over the raw bytes first, before anything is parsed
    password = next(
        (s for s in secrets if wire.push_signature_matches(request.body, s, offered)), None
    )
    if password is None:
        raise SignatureInvalid("X-Hall-Signature does not match the body under any active secret")
    envelope = _parse(request.body)
    try:
        token = wire.read_security(envelope)
        wire.check_token(token, _state.config.push_username, [password], request.received_at)
    except wire.SecurityRefused as exc:
        if exc.code == wire.FAULT_MESSAGE_EXPIRED:
            raise StaleTimestamp(f"the push's WS-Security header is stale: {exc}") from exc
        raise SignatureInvalid(f"the push's UsernameToken does not hold: {exc}") from exc
    message_id = (envelope.findtext("soap:Header/wsa:MessageID", "", wire.NSMAP) or "").strip()
    # without WS-Addressing the UsernameToken's nonce names the push (fresh per push, the
    # same on a retry of it), in the characters a delivery id may hold
    return message_id or f"nonce:{token.nonce.hex()}"


def _parse(body: bytes):
    from adapters.province import wire

    try:
        envelope = wire.parse_untrusted(body)
    except ValueError as exc:  # UnsafeXml included: nothing was expanded
        raise InvalidRequest(f"the province push is refused: {exc}") from exc
    if envelope.tag != wire.q(wire.SOAP_ENV, "Envelope"):
        raise InvalidRequest("the province push is not a SOAP 1.1 envelope")
    return envelope


@hookimpl
def govbus_webhook_parse(request: InboundRequest) -> list[Event]:
    from adapters.province import wire

    envelope = _parse(request.body)
    note = envelope.find("soap:Body/hall:CaseStatusNotification", wire.NSMAP)
    if note is None:
        raise InvalidRequest("the province push holds no hall:CaseStatusNotification")
    fields = {
        name: (note.findtext(f"hall:{name}", "", wire.NSMAP) or "").strip()
        for name in ("caseNo", "cityCaseId", "status", "reason", "occurredAt", "licenceId")
    }
    for name in ("caseNo", "cityCaseId", "status", "occurredAt"):
        if not fields[name]:
            raise InvalidRequest(f"the province push has no {name}", field=name)
    status = wire.STATUS_FROM_WIRE.get(fields["status"])
    if status is None:
        raise ValidationFailed(f"unknown province status {fields['status']!r}", field="status")
    try:
        occurred_at = wire.parse_stamp(fields["occurredAt"])
    except ValueError as exc:
        raise ValidationFailed("occurredAt is not a dateTime", field="occurredAt") from exc
    change = from_wire(
        ProvinceCaseStatusChanged,
        {
            "case_id": fields["cityCaseId"],
            "province_case_no": fields["caseNo"],
            "status": status,
            "reason": fields["reason"],
            "occurred_at": occurred_at,
            "licence_id": fields["licenceId"] or None,
        },
        wire.PUSH_FIELDS,
    )
    return [Event.create("case.province_status", change, source=NAME, subject=change.case_id)]


# --- outbound -------------------------------------------------------------------


def _receipt(record: Any) -> ProvinceCaseReceipt:
    from adapters.province import wire

    try:
        return ProvinceCaseReceipt(
            case_id=str(record.cityCaseId),
            province_case_no=str(record.caseNo),
            status=wire.STATUS_FROM_WIRE[str(record.status)],
            reason=str(record.reason or ""),
            updated_at=record.updatedAt,
            time_limit_days=record.timeLimitDays,
            licence_id=str(record.licenceId) if getattr(record, "licenceId", None) else None,
        )
    except (AttributeError, KeyError, ValueError) as exc:
        raise PartnerUnavailable("the provincial hall sent a case record it cannot mean") from exc


def _materials_out(forward: ProvinceCaseForward) -> dict[str, Any] | None:
    from adapters.province import wire

    total = 0
    out = []
    for i, material in enumerate(forward.materials):
        if material.reference is not None:
            out.append({"name": material.name, "reference": material.reference})
            continue
        size = len(material.content or b"")
        total += size
        if size > wire.MAX_ATTACHMENT_BYTES:
            raise ValidationFailed(
                f"material {material.name!r} has {size} bytes; the provincial hall takes at "
                f"most {wire.MAX_ATTACHMENT_BYTES} per attachment: send a reference instead",
                field=f"materials[{i}]",
            )
        out.append(
            {
                "name": material.name,
                "attachment": {
                    "fileName": material.file_name,
                    "mediaType": material.media_type,
                    "content": material.content,
                },
            }
        )
    if total > wire.MAX_ATTACHMENTS_TOTAL_BYTES:
        raise ValidationFailed(
            f"the attachments have {total} bytes together; the provincial hall takes at most "
            f"{wire.MAX_ATTACHMENTS_TOTAL_BYTES}",
            field="materials",
        )
    return {"material": out} if out else None


@hookimpl
def govbus_province_forward_case(
    forward: ProvinceCaseForward, ctx: CallContext
) -> ProvinceCaseReceipt:
    materials = _materials_out(forward)
    record = client().call(
        "SubmitCase",
        correlation_id=ctx.correlation_id,
        timeout=ctx.timeout_seconds,
        applicantCode=forward.applicant_code,
        applicantName=forward.applicant_name,
        itemCode=forward.item_code,
        cityCaseId=forward.case_id,
        summary=forward.summary,
        materials=materials,
    )
    return _receipt(record)


@hookimpl
def govbus_province_query_case(province_case_no: str, ctx: CallContext) -> ProvinceCaseReceipt:
    record = client().call(
        "QueryCase",
        correlation_id=ctx.correlation_id,
        timeout=ctx.timeout_seconds,
        caseNo=province_case_no,
    )
    return _receipt(record)


@hookimpl
def govbus_province_withdraw_case(
    province_case_no: str, reason: str, ctx: CallContext
) -> ProvinceCaseReceipt:
    record = client().call(
        "WithdrawCase",
        correlation_id=ctx.correlation_id,
        timeout=ctx.timeout_seconds,
        caseNo=province_case_no,
        reason=reason,
    )
    return _receipt(record)


@hookimpl
def govbus_province_list_items(ctx: CallContext) -> list[ProvinceItem]:
    items = client().call(
        "ListItems", correlation_id=ctx.correlation_id, timeout=ctx.timeout_seconds
    )
    try:
        return [
            ProvinceItem(
                code=str(i.code),
                name=str(i.name),
                time_limit_days=int(i.timeLimitDays),
                agency=str(i.agency),
                agency_code=str(i.agencyCode),
            )
            for i in (items or [])
        ]
    except (AttributeError, TypeError, ValueError) as exc:
        raise PartnerUnavailable("the provincial hall sent a catalogue it cannot mean") from exc
