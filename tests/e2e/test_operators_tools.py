"""Every `govbus` command the README shows, run exactly as shown against a running
`govbus dev` (as `make run` starts it), from a shell with no AWS settings at all.

One `govbus dev` serves the whole module; it runs in a folder of its own (its state
file there), and every command runs in that folder, as an operator's would.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import boto3
import pytest
import requests

from tests.conftest import ROOT, wait_for
from tests.e2e.test_govbus_dev import free_port

GOVBUS = str(Path(sys.executable).parent / "govbus")
AGENCY = "11350100MB00000012"  # 福州市市场监督管理局 in the demo data
NO_AWS = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}


class DevStack:
    def __init__(self, folder: Path, port: int) -> None:
        self.folder = folder
        self.url = f"http://127.0.0.1:{port}"
        self.lines: list[str] = []
        self.health_seen: list[tuple[int, str, int | None]] = []
        self.proc = subprocess.Popen(
            [
                GOVBUS,
                "dev",
                "--port",
                str(port),
                "--no-schedules",
                "--root",
                str(ROOT),
                # where `make run` leaves it: in the folder the operator works in
                "--state-file",
                str(folder / ".govbus-dev.json"),
            ],
            cwd=folder,
            env=NO_AWS,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def is_up(self) -> bool:
        return any("govbus is up" in line for line in self.lines)

    def watch_until_up(self, timeout: float = 120) -> None:
        """Poll /health while it starts; note what it said and what the catalogue held."""
        deadline = time.monotonic() + timeout
        while not self.is_up():
            assert self.proc.poll() is None, "".join(self.lines)
            assert time.monotonic() < deadline, "govbus dev did not come up:\n" + "".join(
                self.lines
            )
            try:
                answer = requests.get(f"{self.url}/health", timeout=5)
            except requests.ConnectionError:
                time.sleep(0.1)
                continue
            items = None
            if answer.status_code == 200:
                items = requests.get(f"{self.url}/catalog/items", timeout=10).json()["count"]
            self.health_seen.append(
                (answer.status_code, answer.headers.get("content-type", ""), items)
            )
            time.sleep(0.05)

    def state(self) -> dict:
        return json.loads((self.folder / ".govbus-dev.json").read_text())

    def aws(self, service: str):
        info = self.state()
        return boto3.session.Session(
            region_name=info["region"],
            aws_access_key_id=info["credentials"]["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=info["credentials"]["AWS_SECRET_ACCESS_KEY"],
        ).client(service, endpoint_url=info["endpoint"])

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._reader.join(timeout=5)
        return "".join(self.lines)


@pytest.fixture(scope="module")
def dev(tmp_path_factory):
    stack = DevStack(tmp_path_factory.mktemp("ops"), free_port())
    try:
        stack.watch_until_up()
        yield stack
    finally:
        stack.stop()


def govbus(dev: DevStack, *args: str) -> subprocess.CompletedProcess:
    """`govbus ARGS` typed in the folder where `govbus dev` runs, no AWS settings."""
    return subprocess.run(
        [GOVBUS, *args], cwd=dev.folder, env=NO_AWS, capture_output=True, text=True, timeout=120
    )


def test_health_says_ready_only_once_the_catalogue_is_seeded(dev):
    answer = requests.get(f"{dev.url}/health", timeout=10)
    assert answer.status_code == 200
    assert answer.json()["status"] in ("up", "degraded")
    # while it was starting: 503 problem+json, never a 200 over an empty catalogue
    assert dev.health_seen, "the gateway answered /health before the stack was up"
    assert dev.health_seen[0][0] == 503, dev.health_seen
    ready = [seen for seen in dev.health_seen if seen[0] == 200]
    for status, content_type, _items in dev.health_seen:
        assert status in (200, 503), dev.health_seen
        if status == 503:
            assert content_type == "application/problem+json"
    assert all(items == 36 for _status, _type, items in ready), ready


def test_open_data_lists_yesterdays_downloads_as_soon_as_the_stack_is_up(dev):
    import datetime as dt

    yesterday = (dt.datetime.now(dt.timezone(dt.timedelta(hours=8))) - dt.timedelta(days=1)).date()
    document = requests.get(f"{dev.url}/open-data", timeout=20).json()
    for dataset in document["dcat:dataset"]:
        days = {d["dct:temporal"] for d in dataset["dcat:distribution"]}
        assert yesterday.isoformat() in days, dataset["dct:identifier"]
    assert any("govbus open-data publish" in line for line in dev.lines)
    # another day, from the command line, as the start-up line says
    done = govbus(dev, "open-data", "publish", "--day", "2026-01-05")
    assert done.returncode == 0, done.stderr
    document = requests.get(f"{dev.url}/open-data", timeout=20).json()
    for dataset in document["dcat:dataset"]:
        assert "2026-01-05" in {d["dct:temporal"] for d in dataset["dcat:distribution"]}


def test_govbus_adapters_lists_the_installed_adapters(dev):
    done = govbus(dev, "adapters")
    assert done.returncode == 0, done.stderr
    assert re.search(r"^ems\s", done.stdout, re.M) and "hooks" in done.stdout.splitlines()[0]
    listed = govbus(dev, "adapters", "--json")
    assert listed.returncode == 0, listed.stderr
    ems = next(a for a in json.loads(listed.stdout) if a["name"] == "ems")
    assert ems["entry_point"] == "adapters.ems.plugin"
    assert "delivery_create_waybill" in ems["hooks"]
    # with the stack's health and each partner's circuit
    checked = govbus(dev, "adapters", "--health", "--json")
    assert checked.returncode == 0, checked.stderr
    ems = next(a for a in json.loads(checked.stdout) if a["name"] == "ems")
    assert ems["health"] == "up" and ems["circuit"] == "closed", ems
    assert ems["latency_ms"] is not None


def test_the_state_file_and_the_start_up_table_name_every_simulator_at_a_reachable_url(dev):
    from govbus.plugins import adapter_names, create_plugin_manager, implements

    pm = create_plugin_manager()
    installed = {name for name in adapter_names(pm) if implements(pm, name, "govbus_simulator")}
    assert {"ca", "ems", "province", "nontax", "citizen_card"} <= installed
    simulators = dev.state()["simulators"]
    assert set(simulators) == installed
    table = "".join(dev.lines)
    for name, url in simulators.items():
        assert re.search(rf"^simulator\s+{name}\s+{re.escape(url)}$", table, re.M), name
        assert url not in (dev.url, dev.state()["endpoint"])
        # it answers over HTTP (a refused connection raises), as a loopback simulator
        answer = requests.get(url + "/", timeout=10)
        assert answer.headers.get("Server", "").startswith("BaseHTTP"), (name, answer.headers)
    # the sensor feeds' MQTT broker, for devices and outside tools
    brokers = dev.state()["brokers"]
    assert set(brokers) == {"iot"} and brokers["iot"].startswith("mqtt://127.0.0.1:")
    assert re.search(rf"^broker\s+iot \(MQTT\)\s+{re.escape(brokers['iot'])}$", table, re.M)
    # devices authenticate: the key their passwords derive from is printed beside it
    key = dev.state()["device_keys"]["iot"]
    assert re.search(rf"^\s+device key\s+iot devices\s+{key}\s", table, re.M), table


def test_govbus_audit_verify_finds_the_local_stack_and_its_chain(dev):
    done = govbus(dev, "audit", "verify")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "using the local stack" in done.stderr
    match = re.search(r"audit chain intact: (\d+) entries", done.stdout)
    assert match and int(match.group(1)) > 0, done.stdout


def test_govbus_clients_create_then_revoke(dev):
    created = govbus(dev, "clients", "create", "--agency", AGENCY, "--scope", "subjects:read")
    assert created.returncode == 0, created.stdout + created.stderr
    lines = dict(
        line.split(None, 1)
        for line in created.stdout.splitlines()
        if line.startswith(("client_id ", "client_secret "))
    )
    credentials = {"client_id": lines["client_id"], "client_secret": lines["client_secret"]}
    token = requests.post(f"{dev.url}/auth/token", json=credentials, timeout=10)
    assert token.status_code == 200, token.text
    bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
    records = f"{dev.url}/subjects/350102199003071234/records?purpose=ops+check"
    assert requests.get(records, headers=bearer, timeout=10).status_code == 200

    revoked = govbus(dev, "clients", "revoke", lines["client_id"])
    assert revoked.returncode == 0, revoked.stdout + revoked.stderr
    assert requests.get(records, headers=bearer, timeout=10).status_code in (401, 403)
    # both are in the audit chain, which still verifies
    done = govbus(dev, "audit", "verify")
    assert done.returncode == 0, done.stdout + done.stderr


def test_govbus_clients_create_an_ops_client_that_opens_only_the_ops_routes(dev):
    # as the README shows it: an ops client's unit defaults to ops-duty
    created = govbus(dev, "clients", "create", "--role", "ops")
    assert created.returncode == 0, created.stdout + created.stderr
    lines = dict(
        line.split(None, 1)
        for line in created.stdout.splitlines()
        if line.startswith(("client_id ", "client_secret ", "scopes "))
    )
    assert lines["client_id"].startswith("ops-") and lines["scopes"].strip() == "ops"
    credentials = {"client_id": lines["client_id"], "client_secret": lines["client_secret"]}
    token = requests.post(f"{dev.url}/auth/token", json=credentials, timeout=10)
    assert token.status_code == 200, token.text
    bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
    assert requests.get(f"{dev.url}/ops/dlq", headers=bearer, timeout=10).status_code == 200
    records = f"{dev.url}/subjects/350102199003071234/records?purpose=ops+check"
    assert requests.get(records, headers=bearer, timeout=10).status_code == 403

    refused = govbus(dev, "clients", "create", "--agency", AGENCY)
    assert refused.returncode == 2 and "at least one --scope" in refused.stderr
    sneaky = govbus(dev, "clients", "create", "--agency", AGENCY, "--scope", "ops")
    assert sneaky.returncode == 2 and "Traceback" not in sneaky.stderr
    assert "belongs to ops clients only" in sneaky.stderr
    unknown = govbus(dev, "dlq", "list", "no-such-queue")
    assert unknown.returncode == 2 and "Traceback" not in unknown.stderr, unknown.stderr


def test_govbus_webhooks_rotate_twice_keeps_the_partners_current_secret(dev):
    sm = dev.aws("secretsmanager")
    name = "govbus/dev/webhooks/ems"

    def secrets() -> dict:
        return json.loads(sm.get_secret_value(SecretId=name)["SecretString"])

    before = secrets()
    in_use = (before.get("secrets") or [before.get("secret")])[0]
    assert in_use

    first = govbus(dev, "webhooks", "rotate", "ems")
    assert first.returncode == 0, first.stdout + first.stderr
    new = re.search(r"^new secret\s+(\S+)", first.stdout, re.M).group(1)
    assert secrets() == {"secret": new, "previous_secret": in_use}

    # a second rotation before drop-previous changes nothing: the one in use stays
    again = govbus(dev, "webhooks", "rotate", "ems")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "already pending" in again.stdout
    assert secrets() == {"secret": new, "previous_secret": in_use}

    dropped = govbus(dev, "webhooks", "drop-previous", "ems")
    assert dropped.returncode == 0, dropped.stdout + dropped.stderr
    assert secrets() == {"secret": new}
    done = govbus(dev, "audit", "verify")
    assert done.returncode == 0, done.stdout + done.stderr


def test_govbus_dlq_list_and_redrive(dev):
    listed = govbus(dev, "dlq", "list")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    queues = [line.split()[0] for line in listed.stdout.splitlines() if "message(s)" in line]
    assert queues, listed.stdout
    redriven = govbus(dev, "dlq", "redrive", queues[0])
    assert redriven.returncode == 0, redriven.stdout + redriven.stderr
    assert redriven.stdout.startswith("redrove 0 message(s)")
    one = govbus(dev, "dlq", "list", queues[0])
    assert one.returncode == 0 and f"0 message(s) in {queues[0]}" in one.stdout
    as_json = govbus(dev, "dlq", "list", "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert [q["name"] for q in json.loads(as_json.stdout)] == queues


def test_govbus_events_tail_and_replay_find_the_local_stack(dev):
    from contracts.events import Event

    event = Event.create(
        "platform.heartbeat",
        {"emitted_by": "ops-check"},
        source="govbus.test",
        subject="350102199003071234",
    )
    put = dev.aws("events").put_events(
        Entries=[
            {
                "EventBusName": f"{dev.state()['stack_name']}-bus",
                "Source": event.source,
                "DetailType": event.type,
                "Detail": event.model_dump_json(),
            }
        ]
    )
    assert put["FailedEntryCount"] == 0

    def archived():
        done = govbus(dev, "events", "tail", "--no-follow", "--type", "platform.*", "--json")
        assert done.returncode == 0, done.stderr
        return [e for e in map(json.loads, done.stdout.splitlines()) if e["id"] == event.id]

    (seen,) = wait_for(archived, timeout=60, what="the heartbeat in the event log")
    assert seen["subject"].startswith("3501") and seen["subject"] != event.subject
    followed = govbus(dev, "events", "tail", "--timeout", "1")
    assert followed.returncode == 0, followed.stderr
    assert "following" in followed.stderr
    replayed = govbus(dev, "replay", "--consumer", "eventlog", "--id", event.id, "--dry-run")
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert "would replay 1 event(s) to eventlog" in replayed.stdout


def test_govbus_adapter_new_scaffolds_a_package(dev, tmp_path):
    name = f"ops{uuid.uuid4().hex[:6]}"
    done = govbus(dev, "adapter", "new", name, "--dir", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / f"govbus-adapter-{name}" / "pyproject.toml").exists()


@pytest.mark.parametrize(
    "path, clear",
    [
        ("/subjects/91350100ma2y0ab1cb/records", "91350100ma2y0ab1cb"),
        ("/subjects/%2091350100MA2Y0AB1CB/records", "91350100MA2Y0AB1CB"),
        ("/subjects/%E2%80%8F350102199003071234/records", "350102199003071234"),
    ],
    ids=["lower-case credit code", "encoded space before", "encoded bidi mark before"],
)
def test_the_gateway_access_log_masks_identifiers_in_every_form(dev, path, clear):
    answer = requests.get(f"{dev.url}{path}?purpose=log+check", timeout=10)
    assert answer.status_code == 401  # no token: refused, but logged
    marker = f"/subjects/marker-{uuid.uuid4().hex}"
    requests.get(f"{dev.url}{marker}", timeout=10)

    wait_for(
        lambda: any(marker in line for line in dev.lines),
        timeout=10,
        what="the access log line of the marker request",
    )
    output = "".join(dev.lines)
    assert clear not in output
    assert "/subjects/" in output and "*" in output
