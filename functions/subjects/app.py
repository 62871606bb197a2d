"""The one-code view of a subject: what the platform holds, and who looked.

GET /subjects/{code}/records?purpose=...   the subject themself, or a department granted
                                           ``subjects:read``; every access is audited
GET /subjects/{code}/access-log            the subject themself: who looked, when, why
"""

from govbus import init_phase  # noqa: F401 - first: see govbus/init_phase.py

# isort: split

import datetime as dt
import uuid

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field, ValidationError

from contracts.errors import Forbidden, ValidationFailed
from contracts.identity import mask_identifier, parse_subject_code
from contracts.masking import mask_text
from govbus import audit, settings
from govbus.auth import caller
from govbus.aws import client
from govbus.http import documented, install_problem_handlers, json_response
from govbus.observability import logger, metrics, tracer
from govbus.privacy import subject_key
from govbus.routing import HttpResolver
from govbus.subject_index import records

ACCESS_TABLE = settings.table("subject_access")
READ_SCOPE = "subjects:read"
PURPOSE_MAX = 200

app = HttpResolver()
install_problem_handlers(app)


class SubjectRecords(BaseModel):
    subject: str = Field(description="masked")
    records: list[dict]


class SubjectAccesses(BaseModel):
    subject: str = Field(description="masked")
    accesses: list[dict]


def _code(raw: str) -> str:
    try:
        return str(parse_subject_code(raw))
    except ValidationError as exc:
        raise ValidationFailed(
            f"not a citizen ID or credit code: {exc.errors()[0]['msg']}", field="code"
        ) from None


def _valid(raw: str) -> bool:
    try:
        parse_subject_code(raw)
    except (ValidationError, ValueError):
        return False
    return True


@app.get(
    "/subjects/<code>/records",
    **documented(
        "A subject's records (一码 index), audited",
        ok=SubjectRecords,
        errors=(404, 422),
        scopes=("self", "subjects:read"),
    ),
)
def subject_records(code: str):
    who = caller(app)
    raw = code.strip().upper()
    # who may see this is decided first: a refused caller learns nothing of the rules
    if not (who.may(READ_SCOPE) or who.is_self(raw)):
        purpose = (app.current_event.get_query_string_value("purpose") or "").strip()
        audit.record(
            "subject.records",
            actor=who.subject,
            target=_code(raw) if _valid(raw) else "(not a subject code)",
            purpose=purpose[:PURPOSE_MAX] if purpose.isprintable() else "(unprintable)",
            outcome="refused",
            detail="not the subject and no subjects:read scope",
        )
        raise Forbidden("only the subject or a department granted subjects:read may see this")
    code = _code(raw)
    purpose = (app.current_event.get_query_string_value("purpose") or "").strip()
    if len(purpose) < 4:
        raise ValidationFailed(
            "say why you are looking (purpose, at least 4 characters)", field="purpose"
        )
    if len(purpose) > PURPOSE_MAX or not purpose.isprintable():
        raise ValidationFailed(
            f"purpose is at most {PURPOSE_MAX} printable characters", field="purpose"
        )
    key = subject_key(code)
    found = records(key)
    now = dt.datetime.now(dt.UTC).isoformat()
    client("dynamodb").put_item(
        TableName=ACCESS_TABLE,
        Item={
            "subject_key": {"S": key},
            "at": {"S": f"{now}#{uuid.uuid4().hex[:8]}"},
            # the access log is shown to the subject: a caller's own code never in clear
            "who": {"S": mask_text(who.subject)},
            "kind": {"S": who.kind},
            "agency": {"S": who.agency or ""},
            "purpose": {"S": mask_text(purpose)},
            "records": {"N": str(len(found))},
        },
    )
    audit.record(
        "subject.records",
        actor=who.subject,
        target=code,
        purpose=purpose,
        detail=f"{len(found)} record(s)",
    )
    return json_response(
        {"subject": mask_identifier(code), "records": [r.model_dump(mode="json") for r in found]}
    )


@app.get(
    "/subjects/<code>/access-log",
    **documented(
        "Who read a subject's records, and why",
        ok=SubjectAccesses,
        errors=(404, 422),
        scopes=("self",),
    ),
)
def access_log(code: str):
    code = _code(code)
    who = caller(app)
    if not who.is_self(code):
        raise Forbidden("only the subject may list who looked at their data")
    answer = client("dynamodb").query(
        TableName=ACCESS_TABLE,
        KeyConditionExpression="subject_key = :k",
        ExpressionAttributeValues={":k": {"S": subject_key(code)}},
        ScanIndexForward=False,
    )
    entries = [
        {
            "at": i["at"]["S"].split("#")[0],
            "who": mask_text(i["who"]["S"]) if i["kind"]["S"] == "department" else "yourself",
            "agency": i["agency"]["S"] or None,
            "purpose": mask_text(i["purpose"]["S"]),
            "records": int(i["records"]["N"]),
        }
        for i in answer.get("Items", [])
    ]
    return json_response({"subject": mask_identifier(code), "accesses": entries})


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
