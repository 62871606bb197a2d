"""Idempotent command handlers: an effect happens once per event id, however often the
event is delivered (SQS redelivery, a DLQ redrive, a duplicate publish)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from govbus import settings
from govbus.aws import client

F = TypeVar("F", bound=Callable[..., Any])

# long enough to cover a DLQ's retention and a redrive after a partner's outage
COMMAND_WINDOW_SECONDS = 7 * 24 * 3600
command_config = IdempotencyConfig(
    event_key_jmespath="id", expires_after_seconds=COMMAND_WINDOW_SECONDS
)


def once_per_event(handler: F) -> F:
    """Decorate ``handler(command: dict)``, the event envelope as a dict, keyed on its id.

    The Lambda handler should call ``command_config.register_lambda_context(context)``.
    """
    return idempotent_function(
        data_keyword_argument="command",
        # the process's one DynamoDB client (Powertools' own would load the model again)
        persistence_store=DynamoDBPersistenceLayer(
            table_name=settings.table("idempotency"), boto3_client=client("dynamodb")
        ),
        config=command_config,
    )(handler)
