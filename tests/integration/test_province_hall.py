"""The province adapter against its SOAP simulator over loopback (no AWS needed).

What a user of the adapter sees: SOAP faults as domain errors with their code, timeouts
as the retryable error, hostile answers refused unexpanded, the hall's own security
checks, one WSDL parse per process, and the simulator usable by any SOAP client.
"""

from __future__ import annotations

import base64
import datetime as _dt
import json
import logging
import os
import resource
import subprocess
import sys
import textwrap
import time

import pytest
import requests

from adapters.province import wire
from adapters.province.simulator import CATALOGUE, HallFaults, HallSimulator
from contracts.adapters import CallContext, InboundRequest
from contracts.errors import (
    PartnerError,
    PartnerTimeout,
    PartnerUnavailable,
    RetryableError,
    ValidationFailed,
)
from contracts.province import ProvinceCaseForward, ProvinceCaseStatus, ProvinceMaterial
from govbus import plugins
from tests.conftest import ROOT, wait_for

CITIZEN = "350102199003071234"
ITEM = CATALOGUE[0]["code"]


class Province:
    """The adapter loaded alone, configured against a simulator, as a function would."""

    def __init__(self, simulator: HallSimulator, **settings: str) -> None:
        self.simulator = simulator
        self.secrets = {k.replace("{stage}", "dev"): v for k, v in simulator.secrets().items()}
        self.pm = plugins.create_plugin_manager({"province"})
        self.configure(**settings)

    def configure(self, **settings: str) -> None:
        plugins.call(
            self.pm,
            "province",
            "govbus_adapter_configure",
            settings={"endpoint": self.simulator.url, "ping_cache_seconds": "0", **settings},
            get_secret=self.secrets.__getitem__,
        )

    def __call__(self, hook: str, **kwargs):
        if hook.startswith("govbus_province_"):
            kwargs.setdefault("ctx", ctx())
        return plugins.call(self.pm, "province", hook, **kwargs)


def ctx(timeout: float = 2.0, correlation_id: str = "corr-province-1") -> CallContext:
    return CallContext(
        correlation_id=correlation_id, idempotency_key="evt-1", timeout_seconds=timeout
    )


def forward(case_id: str = "CASE-H1", materials=()) -> ProvinceCaseForward:
    return ProvinceCaseForward(
        case_id=case_id,
        item_code=ITEM,
        applicant_code=CITIZEN,
        applicant_name="林小姐",
        summary="建筑业企业资质申请",
        materials=list(materials),
    )


@pytest.fixture
def hall():
    simulator = HallSimulator(hang_seconds=2.0, seed=7)
    simulator.start()
    try:
        yield simulator
    finally:
        simulator.stop()


@pytest.fixture
def push_sink():
    """A stand-in for the bus's webhook URL: records what the hall pushes, answers 202."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received: list[tuple[dict[str, str], bytes]] = []

    class Sink(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server_address[:2]
    server.url = f"http://{host}:{port}/webhooks/province"
    server.received = received
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def province(hall):
    try:
        yield Province(hall)
    finally:
        # the adapter keeps module state: hand every built plugin manager its own again
        plugins.reconfigure_all()


# --- faults and failures ------------------------------------------------------------------


def test_a_soap_fault_from_the_hall_is_a_partner_error_that_keeps_the_fault_code(province, hall):
    hall.set_faults(HallFaults(soap_fault="soap:Client.ItemSuspended"))
    with pytest.raises(PartnerError) as refused:
        province("govbus_province_forward_case", forward=forward())
    assert refused.value.code == "soap:Client.ItemSuspended"
    assert refused.value.partner == "province"
    assert "soap:Client.ItemSuspended" in str(refused.value)
    assert isinstance(refused.value.__cause__, Exception), "raised from the zeep Fault"


def test_the_halls_business_refusal_reads_as_the_halls_own_words(province):
    unknown = ITEM[:18] + "999999"
    with pytest.raises(PartnerError) as refused:
        province(
            "govbus_province_forward_case",
            forward=forward().model_copy(update={"item_code": unknown}),
        )
    assert refused.value.code == "soap:Client.UnknownItem"
    assert "no province item" in str(refused.value)


def test_a_server_fault_is_retryable_and_names_its_code(province, hall):
    hall.set_faults(HallFaults(error_rate=1.0))
    with pytest.raises(PartnerUnavailable) as failed:
        province("govbus_province_query_case", province_case_no="FJ1")
    assert wire.FAULT_SERVER_BUSY in str(failed.value)


def test_a_hall_that_hangs_is_a_timeout_the_dispatcher_retries(province, hall):
    hall.set_faults(HallFaults(timeout_rate=1.0))
    with pytest.raises(PartnerTimeout) as timed_out:
        province("govbus_province_forward_case", forward=forward(), ctx=ctx(timeout=0.3))
    # the dispatcher retries RetryableError (govbus/dispatch.py), with backoff and a breaker
    assert isinstance(timed_out.value, RetryableError)
    assert "did not answer SubmitCase in time" in str(timed_out.value)


def test_credentials_the_hall_does_not_know_are_refused_with_the_ws_security_code(province):
    province.secrets["govbus/dev/adapters/province"] = json.dumps(
        {"username": "govbus-fuzhou", "password": "not-the-password"}
    )
    province.configure()
    with pytest.raises(PartnerError) as refused:
        province("govbus_province_list_items")
    assert refused.value.code == wire.FAULT_FAILED_AUTHENTICATION
    assert "password digest does not match" in str(refused.value)


def _max_rss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def test_an_xml_bomb_in_an_answer_is_refused_without_expanding_it(province, hall):
    hall.set_faults(HallFaults(xml_bomb_rate=1.0))
    before = _max_rss_kb()
    with pytest.raises(PartnerUnavailable) as refused:
        province("govbus_province_query_case", province_case_no="FJ1")
    # a billion laughs expands to ~3 GB: the process's peak memory did not move by 50 MB
    assert _max_rss_kb() - before < 50 * 1024
    assert "declares a DTD or entities" in str(refused.value)
    assert "nothing was expanded" in str(refused.value)


def test_an_external_entity_in_an_answer_is_refused_and_never_fetched(province, hall):
    hall.set_faults(HallFaults(xxe_rate=1.0))
    with pytest.raises(PartnerUnavailable) as refused:
        province("govbus_province_query_case", province_case_no="FJ1")
    assert "declares a DTD or entities" in str(refused.value)
    state = requests.get(f"{hall.url}/_sim/state", timeout=5).json()
    assert state["canary_hits"] == 0, "the entity's URL was fetched"


def test_a_malformed_answer_is_retryable(province, hall):
    hall.set_faults(HallFaults(malformed_rate=1.0))
    with pytest.raises(PartnerUnavailable) as failed:
        province("govbus_province_list_items")
    assert "no SOAP envelope" in str(failed.value) or "malformed" in str(failed.value)


def test_an_attachment_over_the_halls_limit_is_refused_before_anything_is_sent(province, hall):
    big = ProvinceMaterial(
        name="施工图 drawings",
        content=b"\0" * (wire.MAX_ATTACHMENT_BYTES + 1),
        file_name="drawings.pdf",
    )
    calls_before = hall.calls
    with pytest.raises(ValidationFailed) as refused:
        province("govbus_province_forward_case", forward=forward(materials=[big]))
    assert refused.value.field == "materials[0]"
    assert "send a reference instead" in str(refused.value)
    assert hall.calls == calls_before


def test_attachments_within_the_limit_reach_the_hall(province, hall):
    form = ProvinceMaterial(name="申请表", content=b"%PDF-1.4 form", file_name="form.pdf")
    receipt = province("govbus_province_forward_case", forward=forward(materials=[form]))
    assert hall.cases[receipt.province_case_no]["materials"] == 1


# --- the case at the province ------------------------------------------------------------------


def test_a_case_moves_on_at_the_simulators_pace_and_queries_show_it(province, hall, push_sink):
    receipt = province("govbus_province_forward_case", forward=forward("CASE-PACE"))
    hall.push_url = push_sink.url
    hall.decide(receipt.province_case_no, "REJECTED", "材料不全 materials incomplete")
    hall.set_pace(0.05)

    def decided():
        got = province("govbus_province_query_case", province_case_no=receipt.province_case_no)
        return got if got.status.is_final else None

    final = wait_for(decided, what="the province's decision")
    assert final.status == ProvinceCaseStatus.rejected
    assert final.reason == "材料不全 materials incomplete"
    with pytest.raises(PartnerError) as refused:
        province(
            "govbus_province_withdraw_case", province_case_no=receipt.province_case_no, reason="x"
        )
    assert refused.value.code == "soap:Client.AlreadyDecided"


def test_the_simulator_can_be_driven_over_http_and_its_pushes_verify(province, hall, push_sink):
    receipt = province("govbus_province_forward_case", forward=forward("CASE-HTTP"))
    hall.push_url = push_sink.url
    answer = requests.post(
        f"{hall.url}/_sim/advance",
        json={"case_no": receipt.province_case_no, "to": "APPROVED"},
        timeout=5,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["pushed"] == [202, 202]  # ACCEPTED, then APPROVED
    statuses = []
    for headers, body in push_sink.received:
        request = InboundRequest(
            partner="province", headers=headers, body=body, received_at=time.time()
        )
        push_password = json.loads(province.secrets["govbus/dev/webhooks/province"])["secrets"]
        assert province("govbus_webhook_verify", request=request, secrets=push_password)
        (event,) = province("govbus_webhook_parse", request=request)
        statuses.append((event.subject, event.data["status"]))
    assert statuses == [("CASE-HTTP", "accepted"), ("CASE-HTTP", "approved")]
    got = province("govbus_province_query_case", province_case_no=receipt.province_case_no)
    assert got.status == ProvinceCaseStatus.approved
    faults = requests.post(f"{hall.url}/_sim/faults", json={"down": True}, timeout=5)
    assert faults.status_code == 200 and faults.json()["down"] is True
    with pytest.raises(RetryableError):
        province("govbus_province_list_items")


# --- the hall's own WS-Security checks ------------------------------------------------------


def _raw_call(hall, *, password=None, username=None, created=None, security=None):
    from lxml import etree

    query = etree.Element(wire.q(wire.HALL_NS, "ListItems"), nsmap={"hall": wire.HALL_NS})
    header = security
    if header is None:
        header = wire.security_header(
            username or hall.username, password or hall.password, now=created
        )
    body = wire.envelope(query, [header])
    return body, requests.post(
        f"{hall.url}/", data=body, headers={"Content-Type": "text/xml; charset=utf-8"}, timeout=5
    )


def _fault(answer) -> tuple[str, str]:
    from lxml import etree

    doc = etree.fromstring(answer.content)
    return doc.findtext(".//faultcode"), doc.findtext(".//faultstring")


@pytest.mark.parametrize(
    ("case", "code", "words"),
    [
        ("wrong digest", wire.FAULT_FAILED_AUTHENTICATION, "password digest does not match"),
        ("stale created", wire.FAULT_MESSAGE_EXPIRED, "s off; at most 300 s allowed"),
    ],
)
def test_the_hall_refuses_a_bad_username_token_with_a_clear_fault(hall, case, code, words):
    kwargs = {}
    if case == "wrong digest":
        kwargs["password"] = "guessed"
    elif case == "unknown user":
        kwargs["username"] = "somebody"
    else:
        kwargs["created"] = _dt.datetime.now(_dt.UTC) - _dt.timedelta(minutes=10)
    _, answer = _raw_call(hall, **kwargs)
    assert answer.status_code == 500
    assert _fault(answer)[0] == code
    assert words in _fault(answer)[1]


def test_an_unknown_user_gets_the_same_fault_as_a_wrong_password(hall):
    """No user enumeration: the fault does not tell whether the user exists."""
    _, unknown_user = _raw_call(hall, username="city")
    _, wrong_password = _raw_call(hall, password="guessed")
    assert unknown_user.status_code == wrong_password.status_code == 500
    assert _fault(unknown_user) == _fault(wrong_password)
    assert _fault(unknown_user)[0] == wire.FAULT_FAILED_AUTHENTICATION
    assert "city" not in _fault(unknown_user)[1]


def test_the_hall_refuses_a_reused_nonce(hall):
    body, first = _raw_call(hall)
    assert first.status_code == 200, first.text
    again = requests.post(
        f"{hall.url}/", data=body, headers={"Content-Type": "text/xml"}, timeout=5
    )
    assert again.status_code == 500
    assert _fault(again) == (
        wire.FAULT_FAILED_AUTHENTICATION,
        "WS-Security: the nonce was already used",
    )


# --- one parse per process, logs, other SOAP clients ---------------------------------------------


def test_the_wsdl_is_parsed_once_per_process_for_many_calls_and_reconfigurations(hall):
    script = textwrap.dedent(
        """
        import json, sys
        import zeep.wsdl.wsdl as wsdl
        parses = []
        original = wsdl.Document.__init__
        def counting(self, *a, **k):
            parses.append(a[0] if a else k.get("location"))
            original(self, *a, **k)
        wsdl.Document.__init__ = counting

        from govbus import plugins
        from contracts.adapters import CallContext, InboundRequest
        url, secrets = sys.argv[1], json.loads(sys.argv[2])
        pm = plugins.create_plugin_manager({"province"})
        ctx = CallContext(correlation_id="c", idempotency_key="k")
        for round in range(3):  # a reconfiguration builds a new client, not a new parse
            plugins.call(pm, "province", "govbus_adapter_configure",
                         settings={"endpoint": url}, get_secret=secrets.__getitem__)
            for _ in range(10):
                assert plugins.call(pm, "province", "govbus_province_list_items", ctx=ctx)
        print(json.dumps(parses))
        """
    )
    secrets = {k.replace("{stage}", "dev"): v for k, v in hall.secrets().items()}
    done = subprocess.run(
        [sys.executable, "-c", script, hall.url, json.dumps(secrets)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    parses = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(parses) == 1 and parses[0].endswith("hall.wsdl"), parses
    assert hall.calls == 30


def test_each_exchange_is_logged_with_its_correlation_id_and_no_personal_data(province, caplog):
    caplog.set_level(logging.DEBUG, logger="adapters.province")
    province(
        "govbus_province_forward_case",
        forward=forward("CASE-LOG"),
        ctx=ctx(correlation_id="corr-log-42"),
    )
    records = [r for r in caplog.records if r.name == "adapters.province"]
    assert [r.getMessage().split(" ", 3)[:3] for r in records if r.levelno == logging.INFO] == [
        ["province", "->", "SubmitCase"],
        ["province", "<-", "SubmitCase"],
    ]
    assert {getattr(r, "correlation_id", None) for r in records} == {"corr-log-42"}
    text = "\n".join(r.getMessage() for r in records)
    assert "SubmitCase" in text and "3501**********1234" in text and "林**" in text
    assert CITIZEN not in text and "林小姐" not in text
    assert province.simulator.password not in text


def test_plain_zeep_uses_the_simulator_from_its_wsdl_alone(hall):
    import zeep
    from zeep.wsse import utils
    from zeep.wsse.username import UsernameToken

    now = _dt.datetime.now(_dt.UTC)
    timestamp = utils.WSU.Timestamp(
        utils.WSU.Created(wire.utc_stamp(now)),
        utils.WSU.Expires(wire.utc_stamp(now + _dt.timedelta(minutes=5))),
    )
    client = zeep.Client(
        f"{hall.url}?wsdl",
        wsse=UsernameToken(
            hall.username, hall.password, use_digest=True, timestamp_token=timestamp
        ),
    )
    record = client.service.SubmitCase(
        applicantCode=CITIZEN,
        applicantName="林小姐",
        itemCode=ITEM,
        cityCaseId="CASE-ZEEP",
        summary="from the WSDL alone",
    )
    assert record.status == "RECEIVED" and record.caseNo
    items = client.service.ListItems()
    assert {i.code for i in items} == {i["code"] for i in CATALOGUE}
    with pytest.raises(zeep.exceptions.Fault) as fault:
        client.service.QueryCase(caseNo="FJ-NONE")
    assert fault.value.code == "soap:Client.CaseNotFound"


def test_suds_uses_the_simulator_from_its_wsdl_alone(hall):
    import os as _os

    from suds.client import Client
    from suds.sax.date import DateTime
    from suds.wsse import Security, Timestamp, UsernameToken

    created = _dt.datetime.now(_dt.UTC).replace(microsecond=0)
    nonce = _os.urandom(16)
    token = UsernameToken(hall.username)
    token.setnonce(base64.b64encode(nonce).decode())
    token.setnonceencoding(True)
    token.setcreated(created)
    token.setpassworddigest(wire.password_digest(nonce, str(DateTime(created)), hall.password))
    security = Security()
    security.tokens.append(Timestamp(validity=300))
    security.tokens.append(token)
    client = Client(f"{hall.url}?wsdl", cache=None, wsse=security)
    items = client.service.ListItems()
    assert sorted(i.code for i in items) == sorted(i["code"] for i in CATALOGUE)
