"""What `sam build` makes is what runs: every function of template.yaml, from its artefact.

One `sam build` per module, of a copy of this checkout (what a fresh clone holds: no
virtual environments, caches or earlier builds), into a temporary folder: the SAM CLI of
``.sam-venv`` (the Makefile makes it), python3.13 first on PATH, as ``make build`` does.
Then, for every function, a clean interpreter (``python -I -S``: no site-packages, no
PYTHON* variables, no checkout on sys.path, cwd elsewhere) with only the function's
folder and the built layer's ``python/`` on sys.path imports the handler and serves one
sample event (bench/samples.py: an API Gateway v2 event for an HTTP function, an SQS or
schedule event otherwise) against the local stack's AWS endpoint (moto server). A
missing dependency fails naming the function and the module. The open-data function
also runs its daily job from the artefact, and pyarrow reads back the Parquet it wrote.
The build is held to Lambda's size limit (tools/build_report.py), function by function.

Cost: the build (~40 s warm, a few minutes with an empty pip cache) and 31 interpreters,
four at a time (~1 s each).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.e2e.test_shared_layer import NOT_THE_PROJECT
from tools import build_report

FUNCTIONS = build_report.functions(ROOT / "template.yaml")
CHILD = Path(__file__).with_name("artefact_child.py")
OPEN_DATA_DAY = "2026-11-26"
# the local stack's test wiring: an adapter module of tests/ that no artefact carries
TEST_ONLY_VARIABLES = ("GOVBUS_DEV_ADAPTERS", "GOVBUS_ACME_HEALTH_FILE")
PARALLEL = 4
UNCHECKED = ["unchecked-hash"]  # as the Makefile compiles a build (COMPILE)


def _python313() -> str:
    """The interpreter the build used: the .venv's base python3.13 (no site-packages
    reach it with -S either way)."""
    base = getattr(sys, "_base_executable", sys.executable)
    assert sys.version_info[:2] == (3, 13), "the functions run on python3.13"
    return base


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sam = ROOT / ".sam-venv/bin/sam"
    if not sam.exists():
        made = subprocess.run(
            ["make", "--no-print-directory", ".sam-venv/bin/sam"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert made.returncode == 0, made.stderr[-3000:]
    project = tmp_path_factory.mktemp("clone") / "govbus"
    shutil.copytree(ROOT, project, ignore=shutil.ignore_patterns(*NOT_THE_PROJECT))
    python = Path(_python313())
    env = {
        **os.environ,
        "PATH": f"{python.parent}:{os.environ.get('PATH', '')}",
        "SAM_CLI_TELEMETRY": "0",
        "PYTHON": str(python),
    }
    started = time.monotonic()
    done = subprocess.run(
        [str(sam), "build", "--cached", "--parallel"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
    built = project / ".aws-sam/build"
    compiled = subprocess.run(
        [
            str(python),
            "-m",
            "compileall",
            "-q",
            "-j",
            "0",
            "--invalidation-mode",
            *UNCHECKED,
            str(built),
        ],
        capture_output=True,
        text=True,
    )
    assert compiled.returncode == 0, compiled.stderr[-2000:]
    print(f"\nsam build of a clean copy: {time.monotonic() - started:.0f} s")
    return built


def _invoke(build: Path, name: str, module: str, handler: str, event: dict, env: dict, tmp: Path):
    event_path = tmp / f"{name}-{len(list(tmp.iterdir()))}.json"
    event_path.write_text(json.dumps(event), encoding="utf-8")
    argv = [_python313(), "-I", "-S", "-c", CHILD.read_text(encoding="utf-8")]
    argv += [str(build / name), str(build / "SharedLayer/python"), module, handler, str(event_path)]
    done = subprocess.run(argv, env=env, cwd=tmp, capture_output=True, text=True, timeout=120)
    lines = done.stdout.strip().splitlines()
    if done.returncode or not lines:
        return {"ok": False, "error": f"exit {done.returncode}", "detail": done.stderr[-3000:]}
    return json.loads(lines[-1])


@pytest.fixture(scope="module")
def answers(build: Path, local_stack_session: Any, tmp_path_factory: pytest.TempPathFactory):
    """Every function's answer to its sample event, and the open-data job's, served from
    the artefact in clean interpreters, four at a time."""
    from bench.samples import samples

    stack = local_stack_session
    stack.reset()
    events = samples(stack)
    tmp = tmp_path_factory.mktemp("invocations")
    layer = build / "SharedLayer/python"
    jobs: dict[str, tuple[str, dict, dict]] = {}
    for name in FUNCTIONS:
        fn = stack.functions[name]
        env = {k: v for k, v in fn.environment.items() if k not in TEST_ONLY_VARIABLES}
        env.update(
            {
                # what the template names: /opt/python/botocore_data, here the built one
                "AWS_DATA_PATH": str(layer / "botocore_data"),
                "LAMBDA_TASK_ROOT": str(build / name),
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_SESSION_TOKEN": "testing",
                "POWERTOOLS_LOG_LEVEL": "ERROR",
                "POWERTOOLS_TRACE_DISABLED": "true",
            }
        )
        assert name in events, f"{name}: bench/samples.py has no sample event for it"
        jobs[name] = (fn.spec.handler, events[name], env)
    # the daily job (a schedule's backfill form) writes the Parquet with the artefact's writer
    jobs["OpenDataFunction:job"] = (
        stack.functions["OpenDataFunction"].spec.handler,
        {"day": OPEN_DATA_DAY},
        jobs["OpenDataFunction"][2],
    )

    def run(item: tuple[str, tuple[str, dict, dict]]) -> tuple[str, dict]:
        key, (handler, event, env) = item
        module, attribute = handler.rsplit(".", 1)
        return key, _invoke(build, key.split(":")[0], module, attribute, event, env, tmp)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        results = dict(pool.map(run, jobs.items()))
    print(f"\n{len(jobs)} invocations from the artefact: {time.monotonic() - started:.0f} s")
    return results


def _failure(name: str, answer: dict) -> str:
    if answer.get("missing"):
        return (
            f"{name}: the built artefact lacks module {answer['missing']!r} "
            f"({answer['error']}); add it to the function's requirements.txt or the layer\n"
            f"{answer['detail']}"
        )
    return f"{name}: {answer.get('error')}\n{answer.get('detail', '')}"


@pytest.mark.parametrize("name", FUNCTIONS)
def test_the_built_function_answers_its_sample_event(name: str, answers: dict, build: Path):
    answer = answers[name]
    assert answer["ok"], _failure(name, answer)
    result = answer["result"]
    assert isinstance(result, dict), f"{name} answered {result!r}"
    if "statusCode" in result:
        assert int(result["statusCode"]) < 500, f"{name}: {result}"
    assert not result.get("batchItemFailures"), f"{name}: {result}"
    for entry in answer["sys_path"]:
        assert not entry.startswith(str(ROOT)), f"{name} ran with the checkout on sys.path"
        assert "site-packages" not in entry, f"{name} ran with {entry} on sys.path"
    stdlib = Path(sys.base_prefix).resolve()
    outside = [
        f
        for f in answer["files"]
        if not Path(f).resolve().is_relative_to(build)
        and not Path(f).resolve().is_relative_to(stdlib)
    ]
    assert outside == [], f"{name} loaded code from outside its artefact: {outside[:5]}"


def test_the_open_data_job_writes_parquet_from_the_artefact(answers: dict, local_stack_session):
    import pyarrow.parquet as pq

    from contracts.open_data import DATASETS

    answer = answers["OpenDataFunction:job"]
    assert answer["ok"], _failure("OpenDataFunction (daily job)", answer)
    assert answer["result"]["day"] == OPEN_DATA_DAY
    assert not any("pyarrow" in f for f in answer["files"]), "the artefact's writer is arro3"
    stack = local_stack_session
    s3 = stack.session().client("s3")
    bucket = stack.resolver.refs["OpenDataBucket"]
    for dataset in DATASETS:
        key = f"datasets/{dataset.name}/day={OPEN_DATA_DAY}/{dataset.name}.parquet"
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        table = pq.read_table(io.BytesIO(body))
        assert table.schema.names == ["day"] + [c.name for c in dataset.columns], dataset.name
        assert str(table.schema.field("day").type) == "date32[day]"
        assert b"suppression" in table.schema.metadata


def test_every_function_fits_lambdas_unzipped_limit_with_its_layers(build: Path):
    rows = build_report.measure(build, ROOT / "template.yaml")
    assert {name for name, _, _ in rows} == set(FUNCTIONS)
    assert build_report.problems(rows) == []
    largest = rows[0]
    print(f"\nlargest: {largest[0]} {largest[2]:,} of {build_report.LIMIT_BYTES:,} bytes")
