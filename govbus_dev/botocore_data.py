"""botocore's data for the services the functions call, made quick to load.

A boto3 client's creation reads its service's model (``service-2.json.gz``: decompressed,
then parsed, documentation and all) and its endpoint rules, and the first client of a
process reads ``endpoints.json`` (1.2 MB: every service in every region). That is most
of what a client costs a cold start. This writes, for the services govbus's functions
call, the same files uncompressed, the models without their documentation, and an
``endpoints.json`` that keeps every partition and region but only those services, plus
every other file botocore reads at run time for them (``partitions.json``,
``sdk-default-configuration.json``, ``_retry.json``, each service's paginators, waiters
and SDK extras), so the directory is whole.

Whole, it is the only place :mod:`govbus.aws` lets botocore look
(:func:`govbus.aws.data_loader`): botocore's own loader lists every directory of every
search path (400-odd services: ~2,700 ``stat`` calls, ~20 ms) before it loads a
process's first model. Any other ``AWS_DATA_PATH`` is searched the usual way, before
botocore's own data, file by file.

The layer ships the result (``make build``: ``/opt/python/botocore_data``, which the
template's ``AWS_DATA_PATH`` names); the local stack writes it once per botocore version
into the virtual environment and hands its workers the path.

Runs as a script too (the layer build does, against the layer's own botocore):
``python govbus_dev/botocore_data.py OUT_DIR``. Imports nothing but botocore.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

# every service a function (govbus/, functions/, adapters/) creates a client for;
# tests/unit/test_botocore_data.py fails when the code calls one that is missing
SERVICES = ("dynamodb", "events", "kms", "s3", "secretsmanager", "sqs", "ssm")
# what botocore never reads at run time: only its documentation generators do
_DOCUMENTATION_KEYS = frozenset({"documentation", "documentationUrl"})
GENERATION = "3"  # bump when what this writes changes
# the stamp's mark that the directory holds every file botocore reads for SERVICES
WHOLE = "whole"
# what the SDK never reads at run time (documentation examples)
_NOT_AT_RUN_TIME = frozenset({"examples-1"})


def _without_documentation(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: _without_documentation(value)
            for key, value in node.items()
            if key not in _DOCUMENTATION_KEYS
        }
    if isinstance(node, list):
        return [_without_documentation(value) for value in node]
    return node


def _slim_model(model: dict[str, Any]) -> dict[str, Any]:
    slim = _without_documentation(model)
    # botocore reads these parameters' documentation when it resolves an endpoint
    for name, parameter in model.get("clientContextParams", {}).items():
        slim["clientContextParams"][name] = parameter
    return slim


def _write(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")


def stamp(services: tuple[str, ...] = SERVICES) -> str:
    import botocore

    return (
        f"botocore {botocore.__version__}; services {','.join(services)}; gen {GENERATION}; {WHOLE}"
    )


def write(out: Path, services: tuple[str, ...] = SERVICES) -> Path:
    """Write the data for ``services`` into ``out`` (created; existing files replaced)."""
    from botocore.loaders import Loader

    loader = Loader()  # botocore's own data only (no AWS_DATA_PATH of a caller)
    loader.search_paths[:] = [loader.BUILTIN_DATA_PATH]
    for service in services:
        version = loader.determine_latest_version(service, "service-2")
        model = loader.load_data(f"{service}/{version}/service-2")
        _write(out / service / version / "service-2.json", _slim_model(model))
        rules = loader.load_data(f"{service}/{version}/endpoint-rule-set-1")
        _write(out / service / version / "endpoint-rule-set-1.json", rules)
        # paginators, waiters, SDK extras: as botocore has them
        for path in sorted((Path(loader.BUILTIN_DATA_PATH) / service / version).iterdir()):
            name = path.name.removesuffix(".gz").removesuffix(".json")
            if name in ("service-2", "endpoint-rule-set-1") or name in _NOT_AT_RUN_TIME:
                continue
            _write(
                out / service / version / f"{name}.json",
                loader.load_data(f"{service}/{version}/{name}"),
            )
    for path in sorted(Path(loader.BUILTIN_DATA_PATH).iterdir()):
        name = path.name.removesuffix(".gz").removesuffix(".json")
        if path.is_file() and name != "endpoints":  # the partitions, defaults, retry rules
            _write(out / f"{name}.json", loader.load_data(name))
    endpoints = loader.load_data("endpoints")
    wanted = set(services)
    for partition in endpoints["partitions"]:
        partition["services"] = {
            name: value for name, value in partition["services"].items() if name in wanted
        }
    _write(out / "endpoints.json", endpoints)
    (out / "STAMP").write_text(stamp(services) + "\n", encoding="utf-8")
    return out


def ensure(cache: Path, services: tuple[str, ...] = SERVICES) -> Path:
    """The data for this interpreter's botocore under ``cache``, written once.

    Several processes may ask at once (parallel test stacks): each writes into a
    directory of its own and renames it into place; the first rename wins.
    """
    import hashlib

    key = hashlib.sha256(stamp(services).encode()).hexdigest()[:12]
    target = cache / f"botocore-data-{key}"
    if (target / "STAMP").is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".botocore-data-", dir=cache))
    try:
        write(scratch, services)
        try:
            os.rename(scratch, target)
        except OSError:
            if not (target / "STAMP").is_file():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python govbus_dev/botocore_data.py OUT_DIR")
    where = write(Path(sys.argv[1]))
    print(f"{where}: {stamp()}")
