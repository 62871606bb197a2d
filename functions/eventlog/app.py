"""Archive every event on the bus, exactly once, queryable by correlation id.

Each stored entry carries the SHA-256 digest of the envelope as received, so the
archive can serve as evidence of what crossed the bus; the stored copy has identity
codes, phone numbers and people's names masked. Each also carries when it was archived, bucketed by
minute (the ``by-archive-minute`` index), so the ops console counts the bus's
throughput and its publish-to-archive latency per event type without a scan.
"""

from govbus import init_phase  # noqa: F401 - first: see govbus/init_phase.py

# isort: split

import datetime as dt
import hashlib
import json

from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from contracts.masking import mask_person_names, mask_text
from contracts.subscriptions import owning_agency
from govbus import settings
from govbus.aws import client
from govbus.batch import SQSRecord, process_partial_response
from govbus.observability import logger, metrics, tracer
from govbus.ops import ARCHIVE_MINUTE

TABLE = settings.table("event_log")


def _named_masked(envelope: dict) -> str:
    envelope["data"] = mask_person_names(envelope.get("data"))
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))


def archive(record: SQSRecord) -> None:
    event = record.event()
    canonical = event.model_dump_json()
    now = dt.datetime.now(dt.UTC)
    item = {
        "id": {"S": event.id},
        "type": {"S": event.type},
        "source": {"S": event.source},
        "time": {"S": event.time.isoformat()},
        # a caller chose the correlation id: it may carry an identity code
        "correlationid": {"S": mask_text(event.correlationid)},
        # identity codes, phone numbers, names and a receiver's street stored masked; the digest
        # is of the envelope as it crossed the bus, so the sender's copy can still be matched
        "envelope": {"S": mask_text(_named_masked(event.model_dump(mode="json")))},
        "digest": {"S": hashlib.sha256(canonical.encode()).hexdigest()},
        "archived_minute": {"S": now.strftime(ARCHIVE_MINUTE)},
        "archived_at": {"S": now.isoformat()},
    }
    if event.subject:
        item["subject"] = {"S": mask_text(event.subject)}
    owner = owning_agency(event)
    if owner:
        # an agency's code is public; replays to its subscribers need it unmasked
        item["owner"] = {"S": owner}
    try:
        client("dynamodb").put_item(
            TableName=TABLE, Item=item, ConditionExpression="attribute_not_exists(id)"
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        logger.info("duplicate delivery ignored", extra={"event_id": event.id})
        return
    logger.info("event archived", extra={"event_id": event.id, "event_type": event.type})


@metrics.log_metrics
@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process_partial_response(event, archive)
