"""`govbus changed --since REF` and `govbus deploy --function NAME`, run as the docs show
them: the console script in a shell, on a scratch git repository (changed) and on this
project's template (deploy), with no network and no AWS account."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import ROOT

GOVBUS = str(Path(sys.executable).parent / "govbus")

TEMPLATE = textwrap.dedent(
    """\
    AWSTemplateFormatVersion: "2010-09-09"
    Transform: AWS::Serverless-2016-10-31
    Globals:
      Function:
        Runtime: python3.13
        Timeout: 10
        Layers: [!Ref SharedLayer]
    Resources:
      SharedLayer:
        Type: AWS::Serverless::LayerVersion
        Properties:
          ContentUri: .
      Table:
        Type: AWS::DynamoDB::Table
        Properties:
          TableName: !Sub ${AWS::StackName}-cases
      HotlineFunction:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: functions/hotline/
          Handler: app.lambda_handler
      CasesFunction:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: functions/cases/
          Handler: app.lambda_handler
          Environment:
            Variables:
              CASES_TABLE: !Ref Table
      StandaloneFunction:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: functions/standalone/
          Handler: app.lambda_handler
          Layers: []
    """
)


PYPROJECT = textwrap.dedent(
    """\
    [project]
    name = "scratch"
    dependencies = ["boto3"]

    [project.optional-dependencies]
    dev = ["pytest"]
    """
)


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=ops", "-c", "user.email=ops@example.org", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def commit(repo: Path, files: dict[str, str], message: str) -> None:
    for path, text in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q")
    commit(
        tmp_path,
        {
            "template.yaml": TEMPLATE,
            "functions/hotline/app.py": "def lambda_handler(e, c): ...\n",
            "functions/cases/app.py": "def lambda_handler(e, c): ...\n",
            "functions/standalone/app.py": "def lambda_handler(e, c): ...\n",
            "govbus/bus.py": "BUS = 1\n",
            "pyproject.toml": PYPROJECT,
            "docs/operations.md": "# ops\n",
            "tests/test_x.py": "def test_x(): ...\n",
        },
        "initial",
    )
    return tmp_path


def changed(repo: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [GOVBUS, "changed", "--since", "HEAD~1", *extra],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=60,
    )


def named(done: subprocess.CompletedProcess) -> list[str]:
    assert done.returncode == 0, done.stdout + done.stderr
    return [row["function"] for row in json.loads(done.stdout)]


@pytest.mark.parametrize(
    "files, affected",
    [
        ({"functions/hotline/app.py": "X = 2\n"}, ["HotlineFunction"]),
        # the shared layer: every function using it, and none that does not
        ({"govbus/bus.py": "BUS = 2\n"}, ["CasesFunction", "HotlineFunction"]),
        ({"contracts/events.py": "E = 1\n"}, ["CasesFunction", "HotlineFunction"]),
        (
            {"pyproject.toml": PYPROJECT.replace('"boto3"', '"boto3", "zeep"')},
            ["CasesFunction", "HotlineFunction"],
        ),
        # a dev extra is not in the layer (`pip install .` does not read it)
        ({"pyproject.toml": PYPROJECT.replace('"pytest"', '"pytest", "rich"')}, []),
        ({"docs/operations.md": "# changed\n", "tests/test_x.py": "X = 1\n"}, []),
        # a function's own resource in the template, and nothing else
        (
            {"template.yaml": TEMPLATE.replace("CASES_TABLE: !Ref Table", "CASES_TABLE: other")},
            ["CasesFunction"],
        ),
        # the Globals every function inherits
        (
            {"template.yaml": TEMPLATE.replace("Timeout: 10", "Timeout: 20")},
            [
                "CasesFunction",
                "HotlineFunction",
                "StandaloneFunction",
            ],
        ),
    ],
    ids=[
        "own code",
        "runtime",
        "contracts",
        "layer requirements",
        "dev extra",
        "docs and tests",
        "own resource",
        "globals",
    ],
)
def test_changed_names_exactly_the_functions_the_last_commit_affects(repo, files, affected):
    commit(repo, files, "a change")
    assert named(changed(repo, "--json")) == affected


def test_changed_prints_a_table_for_people_and_counts_uncommitted_work(repo):
    (repo / "functions/standalone/app.py").write_text("X = 3\n")  # not committed yet
    commit(repo, {"functions/hotline/app.py": "X = 2\n"}, "hotline")
    done = changed(repo)
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line for line in done.stdout.splitlines() if line.strip()}
    assert set(rows) == {"function", "HotlineFunction", "StandaloneFunction"}
    assert "functions/hotline/app.py" in rows["HotlineFunction"]
    assert "\x1b[" not in done.stdout, "no colour codes when no terminal is attached"


def test_shell_completion_is_offered_by_the_console_script():
    done = subprocess.run(
        [GOVBUS, "--show-completion", "bash"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "_GOVBUS_COMPLETE" in done.stdout and "complete " in done.stdout


def test_changed_refuses_a_ref_git_does_not_know(repo):
    done = subprocess.run(
        [GOVBUS, "changed", "--since", "no-such-ref"], cwd=repo, capture_output=True, text=True
    )
    assert done.returncode == 2
    assert done.stderr.startswith("govbus changed:") and "no-such-ref" in done.stderr


def no_aws(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A shell with no AWS credentials anywhere (no variables, no files, no metadata)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        {
            "HOME": str(tmp_path),
            "AWS_CONFIG_FILE": str(tmp_path / "none"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    env.update(extra)
    return env


def deploy(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [GOVBUS, "deploy", *args],
        cwd=ROOT,
        env=no_aws(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_deploy_dry_run_prints_the_sam_commands_for_one_function(tmp_path):
    done = deploy(tmp_path, "--function", "hotline", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "$ sam build HotlineFunction --config-env default",
        "$ sam deploy --config-env default --no-confirm-changeset --no-fail-on-empty-changeset",
    ]
    synced = deploy(tmp_path, "--function", "HotlineFunction", "--sync", "--dry-run")
    assert synced.stdout.splitlines() == [
        "$ sam sync --code --resource-id HotlineFunction --no-watch --config-env default"
    ]


def test_deploy_refuses_without_aws_credentials_in_one_line(tmp_path):
    done = deploy(tmp_path, "--function", "hotline")
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith("govbus deploy: no AWS credentials")
    assert "$ sam" not in done.stdout, "nothing is printed as if it ran"


def test_deploy_refuses_a_function_the_template_does_not_have(tmp_path):
    done = deploy(tmp_path, "--function", "nosuch", "--dry-run")
    assert done.returncode == 2
    assert "no function 'nosuch'" in done.stderr and "HotlineFunction" in done.stderr


def test_deploy_runs_sam_build_then_deploy_with_credentials(tmp_path):
    # a stand-in `sam` that notes how it was called: no network, no account
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    sam = bin_dir / "sam"
    sam.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    sam.chmod(0o755)
    done = deploy(
        tmp_path,
        "--function",
        "hotline",
        "--config-env",
        "prod",
        PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        AWS_ACCESS_KEY_ID="AKIDEXAMPLE",
        AWS_SECRET_ACCESS_KEY="example",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert calls.read_text().splitlines() == [
        "build HotlineFunction --config-env prod",
        "deploy --config-env prod --no-confirm-changeset --no-fail-on-empty-changeset",
    ]
    assert "deployed HotlineFunction" in done.stdout
