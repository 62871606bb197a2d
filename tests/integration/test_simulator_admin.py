"""The simulators' operator handles (``/_sim/*``, the README's curl lines) over loopback.

A mistake at the operator's end (a record the simulator does not hold, a body that is not
JSON, a field left out or of the wrong kind) is answered with a JSON sentence that says
what to do, never a bare ``KeyError`` text, a parser message, or a dropped connection.
"""

from __future__ import annotations

import pytest
import requests

from adapters.ca.simulator import CaSimulator
from adapters.citizen_card.simulator import CitizenCardSimulator
from adapters.ems.simulator import EmsSimulator
from adapters.iot.simulator import IotSimulator
from adapters.nontax.simulator import NontaxSimulator
from adapters.province.simulator import HallSimulator
from adapters.sms.simulator import SmsSimulator

HTTP_SIMULATORS = {
    "ems": EmsSimulator,
    "nontax": NontaxSimulator,
    "citizen_card": CitizenCardSimulator,
    "province": HallSimulator,
    "sms": SmsSimulator,
    "ca": CaSimulator,
}


@pytest.fixture
def running():
    started = []

    def start(factory):
        sim = factory()
        sim.start()
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


def post(sim, path: str, body: bytes | str):
    return requests.post(
        f"{sim.url}{path}",
        data=body,
        headers={"content-type": "application/json"},
        timeout=10,
    )


def test_advancing_a_waybill_the_ems_simulator_does_not_hold_is_a_404_that_says_what_to_do(
    running,
):
    ems = running(EmsSimulator)
    answer = post(ems, "/_sim/advance", '{"mail_no": "1100000000001"}')
    assert answer.status_code == 404
    assert answer.json() == {"error": "no waybill 1100000000001: create one first (make demo)"}


@pytest.mark.parametrize("name", sorted(HTTP_SIMULATORS))
def test_a_faults_body_that_is_not_json_is_a_400_naming_where_it_broke(running, name):
    sim = running(HTTP_SIMULATORS[name])
    answer = post(sim, "/_sim/faults", '{"error_rate": 1.0')
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error.startswith("the body is not JSON (line 1, column "), error
    # and the simulator still serves the handle afterwards
    assert post(sim, "/_sim/faults", "{}").status_code == 200


@pytest.mark.parametrize("name", sorted(HTTP_SIMULATORS))
def test_a_faults_value_of_the_wrong_kind_names_the_field_without_pydantic_links(running, name):
    sim = running(HTTP_SIMULATORS[name])
    answer = post(sim, "/_sim/faults", '{"error_rate": "often"}')
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error.startswith("error_rate: "), error
    assert "errors.pydantic.dev" not in error and "\n" not in error


@pytest.mark.parametrize("name", sorted(HTTP_SIMULATORS))
@pytest.mark.parametrize(
    ("body", "starts"),
    [
        ('{"down": "yes"}', "down: "),
        ('{"error_rate": "1"}', "error_rate: "),
        ('{"dwon": true}', "no fault 'dwon'; the faults are: latency_ms, "),
    ],
    ids=["string for a boolean", "string for a rate", "a misspelt fault"],
)
def test_a_faults_body_is_read_strictly_and_a_refused_one_changes_nothing(
    running, name, body, starts
):
    """Seen: {"down": "yes"} turned the card simulator off, and an unknown key passed."""
    sim = running(HTTP_SIMULATORS[name])
    answer = post(sim, "/_sim/faults", body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"].startswith(starts), answer.json()
    assert sim.faults.down is False and sim.faults.error_rate == 0.0


@pytest.mark.parametrize(
    ("factory", "path", "body", "status", "error"),
    [
        (
            NontaxSimulator,
            "/_sim/statement",
            '{"day": "2026-11-27", "synthetic_rows": 100000000000}',
            400,
            "'synthetic_rows' is at most 100,000,000 (the statement's own bound), "
            "not 100,000,000,000",
        ),
        (EmsSimulator, "/_sim/advance", "{}", 400, "the body needs 'mail_no'"),
        (EmsSimulator, "/_sim/advance", "[]", 400, "the body is a JSON object, e.g. {}"),
        (
            NontaxSimulator,
            "/_sim/renotify",
            '{"order_no": "NT-NONE"}',
            404,
            "no order NT-NONE: create one first (make demo)",
        ),
        (
            NontaxSimulator,
            "/_sim/statement",
            '{"day": "2026-11-27", "synthetic_rows": "many"}',
            400,
            "'synthetic_rows' is a whole number, not 'many'",
        ),
        (
            CitizenCardSimulator,
            "/_sim/settle-on",
            '{"out_trade_no": "FEE-NONE", "paid_time": "2026-01-15T10:30:00+08:00"}',
            404,
            "no payment FEE-NONE: pay one first (make demo)",
        ),
        (
            CitizenCardSimulator,
            "/_sim/cards",
            '{"holder_id": "350102199003071234", "status": "MISLAID"}',
            400,
            "'status' is one of NORMAL, FROZEN, LOST, CANCELLED; not \"MISLAID\"",
        ),
        (
            HallSimulator,
            "/_sim/advance",
            '{"case_no": "FJ000"}',
            404,
            "no case FJ000: forward a province-level case first (make demo)",
        ),
        (CaSimulator, "/_sim/issue", "{}", 400, "the body needs 'code'"),
        (
            CaSimulator,
            "/_sim/revoke",
            '{"serial": "not-hex"}',
            400,
            "'serial' is the certificate's serial in hex; not 'not-hex'",
        ),
        (
            CaSimulator,
            "/_sim/revoke",
            '{"serial": "abc123"}',
            404,
            "no certificate with serial abc123 was issued here: issue one first (POST /_sim/issue)",
        ),
        (
            CaSimulator,
            "/_sim/issue",
            '{"code": "91350100MA2Y0AB1CC"}',
            400,
            "'code' is a citizen ID or a credit code: the credit code check character does not "
            "match (GB 32100); the code was probably mistyped",
        ),
        (
            CitizenCardSimulator,
            "/_sim/cards",
            '{"holder_id": "110105194912310021"}',
            400,
            "'holder_id' is not a citizen ID: the citizen ID check character does not match "
            "(MOD 11-2); the number was probably mistyped",
        ),
        (
            CitizenCardSimulator,
            "/_sim/cards",
            '{"holder_id": "350102199003071234", "balance_fen": -100}',
            400,
            "'balance_fen' cannot be negative; not -100",
        ),
        (
            CitizenCardSimulator,
            "/_sim/tokens",
            '{"lifetime_seconds": -1}',
            400,
            "'lifetime_seconds' cannot be negative; not -1.0",
        ),
        (
            NontaxSimulator,
            "/_sim/statement",
            '{"day": "2026-11-27", "synthetic_rows": -5}',
            400,
            "'synthetic_rows' cannot be negative; not -5",
        ),
        (
            NontaxSimulator,
            "/_sim/statement",
            '{"day": "2026-11-27", "unknown_payment_fen": -2500}',
            400,
            "'unknown_payment_fen' cannot be less than 1; not -2500",
        ),
        (
            NontaxSimulator,
            "/_sim/statement",
            '{"day": "2026-11-27", "duplicate": "NT-NONE"}',
            404,
            "no order NT-NONE: create one first (make demo)",
        ),
        (
            NontaxSimulator,
            "/_sim/notify-schedule",
            '{"retry_schedule": [15, -60]}',
            400,
            "'retry_schedule' is a list of seconds, none negative, e.g. [15, 60, 300]",
        ),
        (
            HallSimulator,
            "/_sim/pace",
            '{"seconds": -2}',
            400,
            "'seconds' cannot be negative; not -2.0",
        ),
        (
            HallSimulator,
            "/_sim/pushes",
            '{"enabled": "no"}',
            400,
            "'enabled' is true or false, not \"no\"",
        ),
        (
            CitizenCardSimulator,
            "/_sim/tokens",
            '{"revoke": "false"}',
            400,
            "'revoke' is true or false, not \"false\"",
        ),
    ],
)
def test_an_admin_call_that_cannot_be_done_says_why_in_a_sentence(
    running, factory, path, body, status, error
):
    sim = running(factory)
    answer = post(sim, path, body)
    assert (answer.status_code, answer.json()) == (status, {"error": error})


def test_a_hall_told_enabled_no_keeps_pushing(running):
    """ "no" is not a boolean: refused, not read as truthy (nor as false)."""
    hall = running(HallSimulator)
    assert post(hall, "/_sim/pushes", '{"enabled": "no"}').status_code == 400
    assert hall.pushes_enabled is True
    assert post(hall, "/_sim/pushes", '{"enabled": false}').json() == {"enabled": False}


def test_the_iot_simulator_answers_its_faults_handle_the_same_way():
    # its HTTP side starts an MQTT broker: the handle's answer is read without it
    iot = IotSimulator()
    assert iot.admin_answer("/_sim/faults", b"{") == (
        400,
        {"error": """the body is not JSON (line 1, column 2): send e.g. '{"error_rate": 1.0}'"""},
    )
    assert iot.admin_answer("/_sim/faults", b'{"down": true}')[1]["down"] is True


def test_a_refused_card_body_changes_no_card(running):
    card = running(CitizenCardSimulator)
    assert post(card, "/_sim/cards", '{"holder_id": "350102199003071234", "balance_fen": 500}').ok
    refused = post(card, "/_sim/cards", '{"holder_id": "350102199003071234", "balance_fen": -1}')
    assert refused.status_code == 400
    assert card.card_of("350102199003071234")["balance_fen"] == 500


def test_a_certificate_the_ca_issued_can_be_revoked_over_http(running):
    ca = running(CaSimulator)
    issued = post(ca, "/_sim/issue", '{"code": "91350100MA2Y0AB1CB", "name": "某公司"}')
    assert issued.status_code == 200
    serial = issued.json()["serial"]
    assert post(ca, "/_sim/revoke", f'{{"serial": "{serial}"}}').json() == {"revoked": True}
    status = requests.get(f"{ca.url}/status/{serial}", timeout=10)
    assert status.json() == {"status": "revoked"}


@pytest.mark.parametrize(
    ("factory", "path", "example"),
    [
        (CitizenCardSimulator, "/_sim/cards", '"holder_id": "350102199003071234"'),
        (CitizenCardSimulator, "/_sim/settle-on", '"out_trade_no": "FEE-1"'),
        (NontaxSimulator, "/_sim/statement", '"day": "2026-11-27"'),
        (NontaxSimulator, "/_sim/notify-schedule", '"retry_schedule": [15, 60, 300]'),
        (HallSimulator, "/_sim/advance", '"case_no": "FJ2024000001"'),
        (EmsSimulator, "/_sim/advance", '"mail_no": "1100000000017"'),
        (CaSimulator, "/_sim/issue", '"code": "350102199003071234"'),
        (CaSimulator, "/_sim/revoke", '"serial": '),
        (SmsSimulator, "/_sim/messages", "send e.g. '{}'"),
    ],
)
def test_a_body_that_is_not_json_is_shown_an_example_of_its_own_handle(
    running, factory, path, example
):
    sim = running(factory)
    answer = post(sim, path, "{oops")
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error.startswith("the body is not JSON (line 1, column 2): send e.g. '"), error
    assert example in error
    assert "error_rate" not in error


@pytest.mark.parametrize("name", sorted(HTTP_SIMULATORS))
@pytest.mark.parametrize("method", ["DELETE", "PUT", "PATCH", "TRACE"])
def test_a_method_a_simulator_does_not_answer_is_405_json_naming_the_ones_it_does(
    running, name, method
):
    sim = running(HTTP_SIMULATORS[name])
    answer = requests.request(method, f"{sim.url}/_sim/state", data=b"{}", timeout=10)
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, POST"
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.json() == {"error": f"{method} is not answered here; use GET, POST"}
    # the simulator still answers on a new connection
    assert requests.get(f"{sim.url}/_sim/state", timeout=10).status_code < 500


@pytest.mark.parametrize("serial", ["-1", "zz", "+1a", ""])
def test_the_cas_status_page_takes_hex_serials_only(running, serial):
    sim = running(CaSimulator)
    answer = requests.get(f"{sim.url}/status/{serial}", timeout=10)
    assert answer.status_code == 400, answer.text
    assert "hex digits" in answer.json()["error"]


def _listen_backlog(server_socket) -> int:
    """The listening socket's accept queue size as the kernel holds it (Linux TCP_INFO:
    for a listener, ``tcpi_sacked`` is the backlog given to listen())."""
    import socket
    import struct

    info = server_socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    return struct.unpack("8B24I", info[:104])[8 + 5]


@pytest.mark.parametrize("name", sorted(HTTP_SIMULATORS))
def test_a_burst_of_parallel_admin_calls_is_queued_never_reset(running, name):
    # the listen backlog was Python's default 5: 20 clients calling /_sim/* at once saw
    # ConnectionResetError; the local gateway's is 1024, and so is every simulator's now
    import threading
    from pathlib import Path

    sim = running(HTTP_SIMULATORS[name])
    somaxconn = int(Path("/proc/sys/net/core/somaxconn").read_text())
    assert _listen_backlog(sim._server.socket) == min(1024, somaxconn)

    barrier = threading.Barrier(50)
    answers: list = []

    def call():
        barrier.wait()
        try:
            answers.append(post(sim, "/_sim/faults", "{}").status_code)
        except requests.ConnectionError as exc:
            answers.append(repr(exc))

    threads = [threading.Thread(target=call) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert answers == [200] * 50
