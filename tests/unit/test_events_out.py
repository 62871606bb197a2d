"""Events out without the stack: the SSRF guard and the sender, which events a
department may receive and how, and the secret rotation window."""

from __future__ import annotations

import datetime as dt
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pydantic import ValidationError

from contracts.cases import CaseTransitioned
from contracts.events import Event
from contracts.subscriptions import (
    SubscriptionRequest,
    outgoing_body,
    pattern_matches,
    visible_to,
)
from govbus import outbound
from govbus.stores.subscriptions import live_entries

MARKET = "11350100MB00000012"
POLICE = "11350100MB00000025"


@pytest.fixture
def resolve(monkeypatch):
    """Pretend DNS: host name -> addresses, changeable during a test."""
    answers: dict[str, list[str]] = {}
    real = socket.getaddrinfo

    def fake(host, port, *args, **kwargs):
        if host in answers:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in answers[host]]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return answers


@pytest.fixture
def dev_settings(monkeypatch):
    from govbus import settings

    outbound.settings.cache_clear()
    with settings.override(subscriptions_allow_loopback="true"):
        yield
    outbound.settings.cache_clear()


@pytest.fixture
def receiver():
    seen: list[dict] = []
    answer = {"status": 204, "headers": {}}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("content-length") or 0))
            seen.append({"host": self.headers["Host"], "path": self.path})
            self.send_response(answer["status"])
            for k, v in answer["headers"].items():
                self.send_header(k, v)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], seen, answer
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:8080/hook", "loopback"),
        ("https://127.0.0.1/hook", "loopback"),
        ("https://[::1]/hook", "loopback"),
        ("https://10.1.2.3/hook", "private"),
        ("https://192.168.0.10/hook", "private"),
        ("https://169.254.169.254/latest/meta-data/", "link-local"),
        ("https://[::ffff:10.0.0.1]/hook", "private"),
        ("https://224.0.0.1/hook", "multicast"),
        ("https://0.0.0.0/hook", "unspecified"),
        ("http://8.8.8.8/hook", "https"),
        ("https://user:pw@8.8.8.8/hook", "credentials"),
    ],
)
def test_outside_development_only_public_https_urls_are_accepted(url, reason):
    with pytest.raises(outbound.UnsafeDestination, match=reason):
        outbound.check_destination(url, allow_loopback=False)


def test_a_public_https_address_is_accepted():
    dest = outbound.check_destination("https://8.8.8.8:8443/hooks?x=1", allow_loopback=False)
    assert (dest.address, dest.port, dest.target) == ("8.8.8.8", 8443, "/hooks?x=1")


def test_a_host_with_any_private_address_is_refused(resolve):
    resolve["hooks.dept.example"] = ["8.8.8.8", "10.0.0.7"]
    with pytest.raises(outbound.UnsafeDestination, match="private"):
        outbound.check_destination("https://hooks.dept.example/", allow_loopback=False)


def test_development_admits_loopback_but_still_no_private_address(resolve):
    assert outbound.check_destination("http://127.0.0.1:9/x", allow_loopback=True).port == 9
    with pytest.raises(outbound.UnsafeDestination, match="private"):
        outbound.check_destination("https://10.0.0.5/x", allow_loopback=True)
    resolve["mixed.example"] = ["127.0.0.1", "8.8.8.8"]
    with pytest.raises(outbound.UnsafeDestination, match="https"):
        outbound.check_destination("http://mixed.example/x", allow_loopback=True)


def test_the_send_connects_to_the_checked_address_and_rechecks_dns(resolve, dev_settings, receiver):
    port, seen, _ = receiver
    resolve["hooks.dept.example"] = ["127.0.0.1"]
    ok = outbound.send(f"http://hooks.dept.example:{port}/in", b"{}", {}, timeout=2)
    assert ok.status_code == 204 and ok.error is None
    assert seen == [{"host": f"hooks.dept.example:{port}", "path": "/in"}]

    # DNS now points the name inside the network: the next send goes nowhere
    resolve["hooks.dept.example"] = ["10.0.0.9"]
    refused = outbound.send(f"http://hooks.dept.example:{port}/in", b"{}", {}, timeout=2)
    assert refused.status_code is None and "private" in refused.error
    assert len(seen) == 1


def test_a_redirect_is_a_failed_attempt_and_is_not_followed(dev_settings, receiver):
    port, seen, answer = receiver
    answer.update(status=302, headers={"Location": "http://169.254.169.254/latest"})
    outcome = outbound.send(f"http://127.0.0.1:{port}/hook", b"{}", {}, timeout=2)
    assert outcome.status_code == 302 and outcome.error == "answered 302"
    assert len(seen) == 1


def test_signatures_carry_one_entry_per_active_secret():
    headers = outbound.sign(
        ["whsec_" + "QUJD" * 8, "whsec_" + "REVG" * 8], "msg_1", 1700000000, b"{}"
    )
    assert headers["webhook-id"] == "msg_1" and headers["webhook-timestamp"] == "1700000000"
    assert [e[:3] for e in headers["webhook-signature"].split(" ")] == ["v1,", "v1,"]


def test_the_old_secret_signs_only_within_the_rotation_window():
    now = dt.datetime(2026, 11, 27, 10, tzinfo=dt.UTC)
    entries = [
        {"secret": "new", "until": None},
        {"secret": "old", "until": (now + dt.timedelta(hours=24)).isoformat()},
    ]
    assert [e["secret"] for e in live_entries(entries, now)] == ["new", "old"]
    later = now + dt.timedelta(hours=24, seconds=1)
    assert [e["secret"] for e in live_entries(entries, later)] == ["new"]


def case_event(agency):
    return Event.create(
        "case.transitioned",
        CaseTransitioned(
            case_id="FZ-1",
            item_code=agency + "XK0001",
            agency=agency,
            action="approve",
            from_state="in_review",
            to_state="approved",
            applicant_key="k" * 64,
            reason="申请人350102199003071234，电话13812345678",
        ),
        source="govbus.applications",
    )


def test_a_department_sees_only_its_agencys_events_and_public_catalogue_ones():
    assert visible_to(case_event(MARKET), MARKET)
    assert not visible_to(case_event(MARKET), POLICE)
    heartbeat = Event.create("platform.heartbeat", {"emitted_by": "x"}, source="govbus.heartbeat")
    assert not visible_to(heartbeat, MARKET)
    assert pattern_matches("case.*", "case.overdue") and not pattern_matches("case.*", "cases.x")
    assert pattern_matches("*", "licence.issued") and not pattern_matches(
        "licence.issued", "licence.revoked"
    )


def test_identifiers_are_masked_but_the_subscribers_agency_is_not():
    body = outgoing_body(case_event(MARKET), reveal=False, agency=MARKET)
    assert body["data"]["agency"] == MARKET
    assert body["data"]["reason"] == "申请人3501**********1234，电话138****5678"
    assert "350102199003071234" in outgoing_body(case_event(MARKET), reveal=True)["data"]["reason"]


@pytest.mark.parametrize(
    ("types", "reason"),
    [
        (["account.*"], "matches no event type"),
        (["CASE.*"], "not an event type"),
        ([], "at least 1"),
    ],
)
def test_a_subscription_names_event_types_a_department_may_receive(types, reason):
    with pytest.raises(ValidationError, match=reason):
        SubscriptionRequest(url="https://8.8.8.8/x", event_types=types)
