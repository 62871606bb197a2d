"""The botocore data the layer ships: the same clients as botocore's own, quicker to load."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from govbus_dev import botocore_data

ROOT = Path(__file__).resolve().parents[2]

# a client made with the shipped data and one with botocore's own, in fresh interpreters
# clients as the functions make them: govbus.aws's session (its loader, when the data is
# whole, reads nothing else); without AWS_DATA_PATH that is botocore's own loader
MAKE_CLIENT = r"""
import json, sys
from govbus import aws
session = aws.session()


def make(name):
    return session.create_client(
        name, region_name=sys.argv[1], aws_access_key_id="x", aws_secret_access_key="y"
    )
"""
PROBE = (
    MAKE_CLIENT
    + r"""
out = {"_search_paths": session.get_component("data_loader").search_paths}
for name in sys.argv[2].split(","):
    client = make(name)
    model = client.meta.service_model
    out[name] = {
        "endpoint": client.meta.endpoint_url,
        "operations": sorted(model.operation_names),
        "api_version": model.api_version,
        "signing_name": model.signing_name,
        "shapes": sorted(model.shape_names),
        "put_input": sorted(model.operation_model(model.operation_names[0]).input_shape.members)
        if model.operation_model(model.operation_names[0]).input_shape else [],
        "has_docs": bool(model.documentation),
    }
print(json.dumps(out))
"""
)

# one call per service, stopped before it is sent: the endpoint it resolved and the
# request botocore built (serialisation, signing, every handler on the way)
CALLS = {
    "dynamodb": ("get_item", {"TableName": "t", "Key": {"id": {"S": "1"}}}),
    "events": ("put_events", {"Entries": [{"Source": "s", "DetailType": "d", "Detail": "{}"}]}),
    "kms": ("encrypt", {"KeyId": "alias/k", "Plaintext": b"x"}),
    "s3": ("put_object", {"Bucket": "govbus-bucket", "Key": "a/b.json", "Body": b"{}"}),
    "secretsmanager": ("get_secret_value", {"SecretId": "govbus/dev/x"}),
    "sqs": (
        "send_message",
        {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/1/q", "MessageBody": "m"},
    ),
    "ssm": ("get_parameter", {"Name": "/govbus/x"}),
}
SEND_PROBE = (
    MAKE_CLIENT
    + r"""
calls = json.loads(sys.argv[3])


class Stop(Exception):
    pass


out = {}
for name in sys.argv[2].split(","):
    client = make(name)
    seen = {}

    def stop(request, seen=seen, **_):
        seen["url"] = request.url
        seen["method"] = request.method
        seen["target"] = request.headers.get("X-Amz-Target", b"").decode() if isinstance(
            request.headers.get("X-Amz-Target", b""), bytes) else request.headers.get("X-Amz-Target", "")
        raise Stop()

    client.meta.events.register("before-send", stop)
    operation, params = calls[name]
    params = {k: v.encode() if isinstance(v, str) and k in ("Plaintext", "Body") else v
              for k, v in params.items()}
    try:
        getattr(client, operation)(**params)
    except Stop:
        pass
    out[name] = seen
print(json.dumps(out))
"""
)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return botocore_data.ensure(tmp_path_factory.mktemp("cache"))


def _clients(region: str, data_path: Path | None) -> dict:
    env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"}
    if data_path is not None:
        env["AWS_DATA_PATH"] = str(data_path)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, region, ",".join(botocore_data.SERVICES)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout)


def _sent(region: str, data_path: Path | None) -> dict:
    env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"}
    if data_path is not None:
        env["AWS_DATA_PATH"] = str(data_path)
    calls = {
        name: (op, {k: v.decode() if isinstance(v, bytes) else v for k, v in params.items()})
        for name, (op, params) in CALLS.items()
    }
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            SEND_PROBE,
            region,
            ",".join(botocore_data.SERVICES),
            json.dumps(calls),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


@pytest.mark.parametrize("region", ["us-east-1", "cn-north-1"])
def test_calls_resolve_and_build_the_same_requests(data: Path, region: str):
    """Endpoint rules read parts of the model at the first call (a data file that lost
    what they read fails there, not when the client is made)."""
    assert set(CALLS) == set(botocore_data.SERVICES)
    ours, stock = _sent(region, data), _sent(region, None)
    for name in botocore_data.SERVICES:
        assert ours[name] == stock[name] and ours[name]["url"], name


@pytest.mark.parametrize("region", ["us-east-1", "cn-north-1", "ap-east-1"])
def test_clients_are_the_same_as_with_botocores_own_data(data: Path, region: str):
    ours, stock = _clients(region, data), _clients(region, None)
    assert ours.pop("_search_paths") == [str(data)], "the whole data is the only place read"
    assert any(path.endswith("botocore/data") for path in stock.pop("_search_paths"))
    assert set(ours) == set(botocore_data.SERVICES)
    for name in botocore_data.SERVICES:
        assert stock[name]["has_docs"] and not ours[name]["has_docs"], "documentation left out"
        for key in ("endpoint", "operations", "api_version", "signing_name", "shapes", "put_input"):
            assert ours[name][key] == stock[name][key], (name, key)


def test_the_files_are_smaller_and_uncompressed(data: Path):
    model = data / "dynamodb/2012-08-10/service-2.json"
    assert json.loads(model.read_text())["metadata"]["serviceId"] == "DynamoDB"
    endpoints = json.loads((data / "endpoints.json").read_text())
    partitions = {p["partition"] for p in endpoints["partitions"]}
    assert {"aws", "aws-cn"} <= partitions, "every partition kept (a deployment in China too)"
    for partition in endpoints["partitions"]:
        assert set(partition["services"]) <= set(botocore_data.SERVICES)
    assert (data / "endpoints.json").stat().st_size < 200_000


def test_a_second_ensure_reuses_the_data(data: Path):
    assert botocore_data.ensure(data.parent) == data


def test_every_service_the_runtime_calls_is_shipped():
    """A client for a service missing here would load botocore's full data (slower) -
    and endpoints.json without it: add it to SERVICES."""
    called = set()
    for folder in ("govbus", "functions", "adapters", "contracts"):
        for path in (ROOT / folder).rglob("*.py"):
            called |= set(re.findall(r"""client\(\s*["']([a-z0-9-]+)["']""", path.read_text()))
    assert "dynamodb" in called, "the scan found the clients"
    assert called <= set(botocore_data.SERVICES), called - set(botocore_data.SERVICES)


def test_the_loader_reads_only_data_made_whole_for_this_botocore(data: Path, tmp_path: Path):
    """Anything else in AWS_DATA_PATH (another botocore's data, an older generation, a
    user's own models, several paths) is searched botocore's way, before its own data."""
    from govbus import aws, settings

    def loader_for(path: Path | str | None):
        with settings.override(aws_data_path=str(path) if path else None):
            return aws.data_loader()

    assert loader_for(data).search_paths == [str(data)]
    stale = tmp_path / "stale"
    stale.mkdir()
    stamp = (data / "STAMP").read_text()
    for text in (
        stamp.replace("botocore ", "botocore 0.", 1),  # made for another botocore
        stamp.replace("; whole", ""),  # an older generation: not every file
    ):
        (stale / "STAMP").write_text(text)
        assert loader_for(stale) is None, text
    assert loader_for(tmp_path / "missing") is None
    assert loader_for(f"{data}{os.pathsep}{stale}") is None
    assert loader_for(None) is None


def test_the_whole_data_holds_every_file_botocore_reads(data: Path):
    """Paginators, waiters and SDK extras too: with the loader reading nowhere else, a
    file missing here would be a DataNotFoundError in a function."""
    from botocore.loaders import Loader

    builtin = Path(Loader.BUILTIN_DATA_PATH)
    for service in botocore_data.SERVICES:
        (version,) = [p.name for p in (data / service).iterdir()]
        theirs = {
            p.name.removesuffix(".gz")
            for p in (builtin / service / version).iterdir()
            if not p.name.startswith("examples-1")
        }
        assert {p.name for p in (data / service / version).iterdir()} == theirs, service
    for name in ("_retry.json", "partitions.json", "sdk-default-configuration.json"):
        assert json.loads((data / name).read_text()) == json.loads((builtin / name).read_text())
