"""Certificate login, tokens through the local gateway, accounts, the one-code index,
the audit chain, and personal data at rest."""

import datetime as dt
import json
import subprocess

import pytest
import requests

from govbus_dev.cli import main as govbus
from tests.conftest import wait_for
from tests.integration.conftest import (
    CITIZEN,
    OTHER_CITIZEN,
    bearer,
    delivery_requested,
    department_token,
    login,
    put_event,
)

DETAILS = {"name": "林小姐", "phone": "13812345678", "address": "福州市台江区五一中路88号"}


def problem(answer, status):
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    return answer.json()


def test_a_valid_certificate_logs_in_and_gets_a_short_lived_token(stack, ca):
    answer = login(stack, ca.issue(CITIZEN, "林小姐"))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] <= 900
    assert body["subject"] == "3501**********1234" and body["subject_kind"] == "citizen"


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("expired", "expired"),
        ("revoked", "revoked"),
        ("wrong CA", "not issued by a trusted CA"),
        ("bad check digit", "check character"),
        ("tampered signature", "does not match"),
    ],
)
def test_untrustworthy_logins_are_refused_with_a_clear_reason(stack, ca, case, reason):
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=10)
    issued = {
        "expired": lambda: ca.issue(
            CITIZEN, "林", not_before=past - dt.timedelta(days=1), not_after=past
        ),
        "revoked": lambda: ca.issue(CITIZEN, "林"),
        "wrong CA": lambda: ca.issue(CITIZEN, "林", trusted=False),
        "bad check digit": lambda: ca.issue("350102199003071235", "林"),
        "tampered signature": lambda: ca.issue(CITIZEN, "林"),
    }[case]()
    if case == "revoked":
        ca.revoke(issued.serial)
    body = problem(login(stack, issued, tamper=case == "tampered signature"), 401)
    assert reason in body["detail"]


def test_a_certificate_revoked_after_a_login_cannot_log_in_again_at_once(stack, ca, monkeypatch):
    """The owner of a stolen certificate revokes it between two publications of the CA's
    CRL (published hours apart): the CRL still lists it as good, the CA's status service
    does not, and the next login is refused at once."""
    issued = ca.issue(CITIZEN, "林小姐")
    first = login(stack, issued)
    assert first.status_code == 200, first.text
    published = ca.crl()  # the CRL as last published, before the revocation
    monkeypatch.setattr(ca, "crl", lambda: published)
    ca.revoke(issued.serial)
    assert published.get_revoked_certificate_by_serial_number(int(issued.serial, 16)) is None
    body = problem(login(stack, issued), 401)
    assert "revoked" in body["detail"]


def test_a_login_is_refused_while_the_cas_status_service_is_down(stack, ca, monkeypatch):
    """Fail closed: the CRL is served and lists nothing, but the status service does not
    answer: no login (503, try again), never an acceptance on the CRL alone."""
    issued = ca.issue(CITIZEN, "林小姐")
    assert login(stack, issued).status_code == 200
    dispatch = ca._dispatch

    def status_down(handler, method):
        if handler.path.startswith("/ocsp"):
            # the request read first: left in the socket, it would be taken for the start
            # of the next request on this kept-alive connection
            handler.rfile.read(int(handler.headers.get("content-length") or 0))
            return ca._send(handler, 503, b"down", "text/plain")
        return dispatch(handler, method)

    monkeypatch.setattr(ca, "_dispatch", status_down)
    body = problem(login(stack, issued), 503)
    assert "status" in body["detail"]


def test_the_cas_ocsp_responder_answers_openssl_as_it_answers_govbus(ca, tmp_path):
    """Any OCSP client can ask the simulator: openssl finds the responder in the
    certificate (authority information access), verifies the signed answer and its nonce,
    and sees a revocation at once."""
    from cryptography.hazmat.primitives import serialization

    issued = ca.issue(CITIZEN, "林小姐")
    pem = serialization.Encoding.PEM
    (tmp_path / "leaf.pem").write_bytes(issued.certificate.public_bytes(pem))
    (tmp_path / "issuing.pem").write_bytes(ca.issuing.public_bytes(pem))
    (tmp_path / "root.pem").write_bytes(ca.root.public_bytes(pem))
    aia = subprocess.run(
        ["openssl", "x509", "-in", tmp_path / "leaf.pem", "-noout", "-ocsp_uri"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert aia == f"{ca.url}/ocsp"

    def ask() -> str:
        done = subprocess.run(
            [
                "openssl",
                "ocsp",
                "-url",
                aia,
                "-issuer",
                tmp_path / "issuing.pem",
                "-cert",
                tmp_path / "leaf.pem",
                "-CAfile",
                tmp_path / "root.pem",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 0, done.stderr
        assert "Response verify OK" in done.stderr + done.stdout
        return done.stdout.splitlines()[0].rsplit(": ", 1)[1]

    assert ask() == "good"
    ca.revoke(issued.serial)
    assert ask() == "revoked"


def _forged_ocsp(ca, request_der: bytes) -> bytes:
    """A "good" for the request, signed by the untrusted root (with its own name)."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509 import OCSPNonce, ocsp

    request = ocsp.load_der_ocsp_request(request_der)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    return (
        ocsp.OCSPResponseBuilder()
        .add_response_by_hash(
            issuer_name_hash=request.issuer_name_hash,
            issuer_key_hash=request.issuer_key_hash,
            serial_number=request.serial_number,
            algorithm=request.hash_algorithm,
            cert_status=ocsp.OCSPCertStatus.GOOD,
            this_update=now,
            next_update=now + dt.timedelta(minutes=5),
            revocation_time=None,
            revocation_reason=None,
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, ca.rogue)
        .add_extension(request.extensions.get_extension_for_class(OCSPNonce).value, False)
        .sign(ca.rogue_key, hashes.SHA256())
        .public_bytes(serialization.Encoding.DER)
    )


@pytest.mark.parametrize("trick", ["signed by someone else", "altered", "replayed"])
def test_an_ocsp_answer_that_is_not_the_cas_own_for_this_login_lets_no_one_in(
    stack, ca, monkeypatch, trick
):
    """A forged "good" (signed by a key that is not the CA's), the CA's "revoked" with
    its signature's last byte changed, or the CA's own earlier "good" sent again after
    the certificate was revoked: none is taken (503, try again), as when the responder
    is down, and the certificate does not log in."""
    issued = ca.issue(CITIZEN, "林小姐")
    real = ca.ocsp_response
    first: list[bytes] = []

    def replayed(request_der: bytes) -> bytes:
        if not first:
            first.append(real(request_der))
        return first[0]

    def altered(request_der: bytes) -> bytes:
        answer = bytearray(real(request_der))
        answer[-1] ^= 0x01
        return bytes(answer)

    published = ca.crl()  # the CRL as last published, before any revocation
    monkeypatch.setattr(ca, "crl", lambda: published)
    if trick == "replayed":
        monkeypatch.setattr(ca, "ocsp_response", replayed)
        assert login(stack, issued).status_code == 200  # the answer recorded: "good"
        ca.revoke(issued.serial)
    elif trick == "altered":
        ca.revoke(issued.serial)
        monkeypatch.setattr(ca, "ocsp_response", altered)
    else:
        monkeypatch.setattr(ca, "ocsp_response", lambda der: _forged_ocsp(ca, der))
    body = problem(login(stack, issued), 503)
    assert "no usable answer" in body["detail"]


def test_a_challenge_works_once(stack, ca):
    issued = ca.issue(CITIZEN, "林小姐")
    import base64

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    nonce = requests.post(f"{stack.url}/auth/challenge", timeout=10).json()["nonce"]
    body = {
        "nonce": nonce,
        "certificate_pem": issued.chain_pem,
        "algorithm": "ECDSA-P256-SHA256",
        "signature": base64.b64encode(
            issued.private_key.sign(nonce.encode(), ec.ECDSA(hashes.SHA256()))
        ).decode(),
    }
    assert requests.post(f"{stack.url}/auth/login", json=body, timeout=10).status_code == 200
    replay = problem(requests.post(f"{stack.url}/auth/login", json=body, timeout=10), 401)
    assert "used or expired" in replay["detail"]


def test_no_token_is_401_and_a_forged_token_is_403_at_the_gateway(stack):
    assert requests.get(f"{stack.url}/accounts/me", timeout=10).status_code == 401
    forged = requests.get(
        f"{stack.url}/accounts/me", headers=bearer("eyJhbGciOiJub25lIn0.e30."), timeout=10
    )
    assert forged.status_code == 403


def test_account_lifecycle_and_details_encrypted_at_rest(stack, aws, citizen_token):
    before = problem(
        requests.get(f"{stack.url}/accounts/me", headers=bearer(citizen_token), timeout=10), 404
    )
    assert "POST /accounts" in before["detail"], "a new user is told what to do next"
    created = requests.post(
        f"{stack.url}/accounts", json=DETAILS, headers=bearer(citizen_token), timeout=10
    )
    assert created.status_code == 201, created.text
    assert created.json()["subject_code"] == "3501**********1234"
    again = problem(
        requests.post(
            f"{stack.url}/accounts", json=DETAILS, headers=bearer(citizen_token), timeout=10
        ),
        409,
    )
    assert "already exists" in again["detail"]

    mine = requests.get(f"{stack.url}/accounts/me", headers=bearer(citizen_token), timeout=10)
    assert mine.json()["details"] == {**DETAILS, "email": None}

    # at rest: neither the code nor any personal field is readable in the table
    stored = json.dumps(
        aws["dynamodb"].scan(TableName="govbus-local-accounts")["Items"], ensure_ascii=False
    )
    for raw in (CITIZEN, *DETAILS.values()):
        assert raw not in stored

    changed = requests.patch(
        f"{stack.url}/accounts/me",
        json={"phone": "13900001111"},
        headers=bearer(citizen_token),
        timeout=10,
    )
    assert changed.status_code == 200 and changed.json()["details"]["phone"] == "13900001111"
    bad = problem(
        requests.patch(
            f"{stack.url}/accounts/me",
            json={"phone": "12"},
            headers=bearer(citizen_token),
            timeout=10,
        ),
        422,
    )
    assert bad["field"] == "phone" and "12" not in bad["detail"]


def test_a_deregistered_account_is_refused_and_its_tokens_stop_working(stack, ca, citizen_token):
    requests.post(f"{stack.url}/accounts", json=DETAILS, headers=bearer(citizen_token), timeout=10)
    gone = requests.delete(f"{stack.url}/accounts/me", headers=bearer(citizen_token), timeout=10)
    assert gone.status_code == 200
    assert (
        requests.get(
            f"{stack.url}/accounts/me", headers=bearer(citizen_token), timeout=10
        ).status_code
        == 403
    )
    refused = problem(login(stack, ca.issue(CITIZEN, "林小姐")), 403)
    assert "deregistered" in refused["detail"]


def test_one_code_records_for_the_subject_and_entitled_departments_only(
    stack, aws, ca, citizen_token
):
    requests.post(f"{stack.url}/accounts", json=DETAILS, headers=bearer(citizen_token), timeout=10)
    url = f"{stack.url}/subjects/{CITIZEN}/records"
    own = wait_for(
        lambda: (
            (
                r := requests.get(
                    url,
                    params={"purpose": "check my records"},
                    headers=bearer(citizen_token),
                    timeout=10,
                )
            )
            .json()
            .get("records")
            and r
        ),
        what="the account in the index",
    )
    assert [(r["source"], r["record_id"]) for r in own.json()["records"]] == [
        ("accounts", "account")
    ]
    # another citizen's records: refused
    other = requests.get(
        f"{stack.url}/subjects/{OTHER_CITIZEN}/records",
        params={"purpose": "curiosity"},
        headers=bearer(citizen_token),
        timeout=10,
    )
    assert problem(other, 403)["type"].endswith("forbidden")
    # a department without the scope: refused; with it: allowed, and a purpose is required
    nosy = department_token(stack, ["catalog:write"])
    assert (
        requests.get(
            url, params={"purpose": "curiosity"}, headers=bearer(nosy), timeout=10
        ).status_code
        == 403
    )
    entitled = department_token(stack, ["subjects:read"])
    missing = problem(requests.get(url, headers=bearer(entitled), timeout=10), 422)
    assert missing["field"] == "purpose"
    seen = requests.get(
        url, params={"purpose": "business licence review"}, headers=bearer(entitled), timeout=10
    )
    assert seen.status_code == 200 and seen.json()["subject"] == "3501**********1234"
    # the subject sees who looked, and why
    log = requests.get(
        f"{stack.url}/subjects/{CITIZEN}/access-log", headers=bearer(citizen_token), timeout=10
    ).json()["accesses"]
    assert any(
        a["purpose"] == "business licence review" and a["who"].startswith("dept-") for a in log
    )
    assert (
        requests.get(
            f"{stack.url}/subjects/{CITIZEN}/access-log", headers=bearer(entitled), timeout=10
        ).status_code
        == 403
    )


def test_the_audit_chain_verifies_and_names_an_altered_entry(stack, aws, ca, citizen_token, capsys):
    requests.post(f"{stack.url}/accounts", json=DETAILS, headers=bearer(citizen_token), timeout=10)
    login(stack, ca.issue(CITIZEN, "林", trusted=False))  # a refusal is audited too
    assert govbus(["audit", "verify", "--stack", stack.stack_name]) == 0
    assert "audit chain intact" in capsys.readouterr().out

    items = aws["dynamodb"].scan(TableName="govbus-local-audit")["Items"]
    assert {i["action"]["S"] for i in items} >= {"auth.login", "account.registered"}
    assert CITIZEN not in json.dumps(items)
    victim = sorted(items, key=lambda i: (i["partition"]["S"], int(i["seq"]["N"])))[0]
    aws["dynamodb"].update_item(
        TableName="govbus-local-audit",
        Key={"partition": victim["partition"], "seq": victim["seq"]},
        UpdateExpression="SET outcome = :o",
        ExpressionAttributeValues={":o": {"S": "forged"}},
    )
    assert govbus(["audit", "verify", "--stack", stack.stack_name]) == 1
    out = capsys.readouterr().out
    assert f"entry {victim['seq']['N']} (id {victim['id']['S']})" in out and "altered" in out


def test_a_whole_flow_leaves_no_raw_identifier_in_the_logs(stack, aws, ca, ems, capfd):
    capfd.readouterr()
    token = login(stack, ca.issue(CITIZEN, "林小姐")).json()["access_token"]
    requests.post(f"{stack.url}/accounts", json=DETAILS, headers=bearer(token), timeout=10)
    requests.patch(
        f"{stack.url}/accounts/me",
        json={"address": DETAILS["address"] + "2号楼"},
        headers=bearer(token),
        timeout=10,
    )
    requests.get(
        f"{stack.url}/subjects/{CITIZEN}/records",
        params={"purpose": "my records"},
        headers=bearer(token),
        timeout=10,
    )
    requests.get(
        f"{stack.url}/subjects/{OTHER_CITIZEN}/records",
        params={"purpose": "peek"},
        headers=bearer(token),
        timeout=10,
    )
    put_event(aws, stack, delivery_requested("CASE-LOGS"))
    from govbus.stores.shipments import ShipmentStore

    store = ShipmentStore(stack.resolver.refs["ShipmentsTable"])
    waybill = wait_for(lambda: (s := store.get("CASE-LOGS")) and s.get("waybill_no"))
    ems.advance(waybill)
    wait_for(lambda: store.get("CASE-LOGS")["state"] == "delivered")
    captured = capfd.readouterr()
    logs = captured.out + captured.err
    assert "request refused" in logs or "command carried out" in logs, "logs were captured"
    for raw in (CITIZEN, OTHER_CITIZEN, "13812345678", "林小姐", "五一中路88号"):
        assert raw not in logs, f"{raw!r} appears in the logs"


def test_a_revoked_clients_token_stops_working_at_once(stack, capsys):
    token = department_token(stack, ["subjects:read"])
    url = f"{stack.url}/subjects/{CITIZEN}/records"
    assert (
        requests.get(
            url, params={"purpose": "licence review"}, headers=bearer(token), timeout=10
        ).status_code
        == 200
    )
    import jwt

    client_id = jwt.decode(token, options={"verify_signature": False})["sub"]
    assert govbus(["clients", "revoke", client_id, "--stack", stack.stack_name]) == 0
    assert (
        requests.get(
            url, params={"purpose": "licence review"}, headers=bearer(token), timeout=10
        ).status_code
        == 403
    )
    assert govbus(["clients", "revoke", "dept-nobody", "--stack", stack.stack_name]) == 2
    assert "no client dept-nobody" in capsys.readouterr().err
