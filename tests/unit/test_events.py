import pytest
from pydantic import BaseModel, ValidationError

from contracts.events import Event, event_type, event_types


def test_create_validates_data_against_the_registered_model():
    event = Event.create("platform.heartbeat", {"emitted_by": "test"}, source="govbus.test")
    assert event.specversion == "1.0"
    assert event.datacontenttype == "application/json"
    assert event.payload().emitted_by == "test"
    assert event.id and event.correlationid and event.time.tzinfo is not None


def test_malformed_data_never_becomes_an_event():
    with pytest.raises(ValidationError):
        Event.create("platform.heartbeat", {"note": "no emitter"}, source="govbus.test")


def test_unknown_event_types_are_refused():
    with pytest.raises(KeyError, match="unknown event type"):
        Event.create("no.such.type", {}, source="govbus.test")


def test_the_envelope_round_trips_through_json():
    event = Event.create(
        "platform.heartbeat",
        {"emitted_by": "x"},
        source="s",
        subject="case-1",
        correlation_id="corr-1",
    )
    again = Event.model_validate_json(event.model_dump_json())
    assert again == event and again.correlationid == "corr-1"


def test_a_type_cannot_be_registered_to_two_models():
    class Other(BaseModel):
        x: int

    with pytest.raises(ValueError, match="already registered"):
        event_type("platform.heartbeat")(Other)


def test_the_registry_lists_family_event_types():
    import contracts.delivery  # noqa: F401 - registers its types

    assert {"platform.heartbeat", "delivery.requested", "delivery.tracking_updated"} <= set(
        event_types()
    )
