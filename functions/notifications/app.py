"""Notifications to people: events on the bus become SMS messages; citizens choose
which kinds they get.

SQS  appointment reminders, case decisions, fee due, licence ready, delivery out,
     overdue cases -> one message per (event, kind), through the ``notify`` adapter
GET  /notifications/preferences    the caller's opt-outs
PUT  /notifications/preferences    change them (legally required notices excepted)
"""

from govbus import init_phase  # noqa: F401 - first: see govbus/init_phase.py

# isort: split


from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from contracts.errors import ValidationFailed
from contracts.notify import Preferences
from govbus import notifications
from govbus.auth import SELF, caller
from govbus.batch import SQSRecord, process_partial_response
from govbus.http import documented, install_problem_handlers, json_response
from govbus.observability import logger, metrics, tracer
from govbus.privacy import subject_key
from govbus.routing import HttpResolver

app = HttpResolver()
install_problem_handlers(app)


@app.get(
    "/notifications/preferences",
    **documented("One's notification preferences", ok=Preferences, scopes=("self",)),
)
def read_preferences():
    who = caller(app)
    who.require(SELF)
    return json_response(notifications.preferences(subject_key(who.subject)))


@app.put(
    "/notifications/preferences",
    **documented(
        "Change one's notification preferences", ok=Preferences, body=Preferences, scopes=("self",)
    ),
)
def change_preferences():
    who = caller(app)
    who.require(SELF)
    body = app.current_event.json_body
    if body is None:  # no body, or JSON null: nothing said, so nothing changed
        raise ValidationFailed(
            'send the preferences as a JSON object, e.g. {"opted_out": []}', field="(body)"
        )
    wanted = Preferences.model_validate(body)
    return json_response(notifications.set_preferences(subject_key(who.subject), wanted))


def handle(record: SQSRecord) -> None:
    event = record.event()
    for notice in notifications.notices(event):
        notifications.deliver(event, notice)


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    if "Records" in event:
        return process_partial_response(event, handle)
    return app.resolve(event, context)
