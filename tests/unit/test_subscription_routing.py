"""Which department subscriptions may receive an event: alerts reach the responsible
agency only; published disclosure documents are public."""

import datetime as dt

import contracts.disclosure  # noqa: F401 - registers disclosure.published
from contracts.events import Event
from contracts.subscriptions import is_subscribable, visible_to

WATER_BUREAU = "11350100MB0000007X"
MARKET = "11350100MB00000012"


def alert(agency: str) -> Event:
    return Event.create(
        "city.alert",
        {
            "domain": "water",
            "device": "gauge-minjiang-01",
            "metric": "level_m",
            "value": 9.4,
            "threshold": 8.5,
            "agency": agency,
            "agency_name": "福州市水利局",
            "meaning": "闽江水位超警戒",
            "measured_at": dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC),
        },
        source="govbus.telemetry",
        subject=agency,
    )


def test_a_city_alert_reaches_the_responsible_agency_only():
    assert is_subscribable("city.alert")
    event = alert(WATER_BUREAU)
    assert visible_to(event, WATER_BUREAU)
    assert not visible_to(event, MARKET)


def test_published_disclosure_documents_are_public_events():
    assert is_subscribable("disclosure.published")
    event = Event.create(
        "disclosure.published",
        {
            "document_id": "D1",
            "version": 1,
            "agency": WATER_BUREAU,
            "kind": "notice",
            "title": "关于汛期闽江沿岸临时管制的通告",
            "items": [],
            "effective_from": "2026-12-01",
        },
        source="govbus.disclosure",
    )
    assert visible_to(event, MARKET)
