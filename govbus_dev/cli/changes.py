"""``govbus changed`` and ``govbus deploy``: one function at a time, from a git diff.

Which functions a change affects is read from template.yaml, never from a list kept by
hand: a function's own code is its ``CodeUri`` folder; the shared layer (every
``AWS::Serverless::LayerVersion`` built from the project, ``SharedLayer``) holds the
runtime packages and their requirements, so a change there affects every function
that uses the layer; a change to a function's own resource in template.yaml (or to
the ``Globals`` every function inherits) affects that function. Docs and tests affect
none.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path, PurePosixPath
from typing import Annotated, Any

import typer

from govbus_dev.cli.app import app
from govbus_dev.cli.output import print_json, say, table, warn

TEMPLATE = "template.yaml"


def _project(root: str) -> Path:
    """``root``; or, left at ".", the nearest folder at or above here with template.yaml
    (a command run inside the project finds it, as git finds its repository)."""
    if root != ".":
        return Path(root)
    from govbus_dev.cli.stack import find_upward

    found = find_upward(TEMPLATE)
    return found.parent if found is not None else Path(root)


# what the shared layer is built from (Makefile build-SharedLayer: `pip install .`):
# the runtime packages and what decides their dependencies (of pyproject.toml, only
# what `pip install .` reads: a dev extra or a console script changes no function)
LAYER_PATHS = ("contracts/", "govbus/", "adapters/", "pyproject.toml", "requirements.txt")
# never shipped in a function or the layer
INERT_PATHS = ("docs/", "tests/", "bench/", "tools/", "govbus_dev/", ".ci/")


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(  # noqa: S603 - git with arguments, no shell
        ["git", *args],  # noqa: S607 - the operator's git, as they would type it
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise LookupError(done.stderr.strip() or f"git {' '.join(args)} failed")
    return done.stdout


def _functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Logical id -> the function's properties, ``Globals`` applied."""
    globals_fn = (template.get("Globals") or {}).get("Function") or {}
    return {
        logical: {**globals_fn, **(res.get("Properties") or {})}
        for logical, res in (template.get("Resources") or {}).items()
        if res.get("Type") == "AWS::Serverless::Function"
    }


def _layers(template: dict[str, Any]) -> set[str]:
    return {
        logical
        for logical, res in (template.get("Resources") or {}).items()
        if res.get("Type") == "AWS::Serverless::LayerVersion"
    }


def _uses_layer(props: dict[str, Any], layers: set[str]) -> bool:
    return any(
        isinstance(ref, dict) and ref.get("Ref") in layers for ref in props.get("Layers") or []
    )


def _code_dir(props: dict[str, Any]) -> str:
    code = str(props.get("CodeUri", ".")).strip("/")
    return "" if code in ("", ".") else code + "/"


def _layer_part(text: str) -> tuple[Any, ...]:
    """What of pyproject.toml goes into the layer: `pip install .` reads only this."""
    import tomllib

    doc = tomllib.loads(text) if text else {}
    project = doc.get("project") or {}
    return (
        project.get("dependencies"),
        project.get("requires-python"),
        project.get("entry-points"),  # the adapters' registrations
        (doc.get("tool") or {}).get("setuptools"),
        doc.get("build-system"),
    )


def _layer_build_changed(root: Path, since: str) -> bool:
    try:
        before = _git(root, "show", f"{since}:pyproject.toml")
    except LookupError:
        before = ""
    path = root / "pyproject.toml"
    now = path.read_text() if path.exists() else ""
    return _layer_part(before) != _layer_part(now)


def affected_functions(root: Path, since: str) -> dict[str, list[str]]:
    """Logical id -> the changed paths that affect it, for the diff from ``since``.

    The diff is ``since`` against the working tree (committed or not), as a deploy
    from this folder would ship it.
    """
    import yaml

    from govbus_dev.local.template import _CfnLoader, load_template

    template = load_template(root / TEMPLATE)
    functions = _functions(template)
    layers = _layers(template)
    changed = [p for p in _git(root, "diff", "--name-only", since, "--").splitlines() if p]
    # untracked files are part of what a build would ship too
    changed += [
        p for p in _git(root, "ls-files", "--others", "--exclude-standard").splitlines() if p
    ]
    found: dict[str, list[str]] = {}

    def note(logical: str, why: str) -> None:
        found.setdefault(logical, [])
        if why not in found[logical]:
            found[logical].append(why)

    for path in sorted(set(changed)):
        if path == TEMPLATE:
            continue  # judged resource by resource below
        if path == "pyproject.toml" and not _layer_build_changed(root, since):
            continue  # the dev extras, the console scripts: not in the layer
        if path.startswith(INERT_PATHS) or PurePosixPath(path).suffix == ".md":
            continue
        for logical, props in functions.items():
            code = _code_dir(props)
            if code and path.startswith(code):
                note(logical, path)
            elif path.startswith(LAYER_PATHS) and _uses_layer(props, layers):
                note(logical, path)
    if TEMPLATE in changed:
        try:
            before_text = _git(root, "show", f"{since}:{TEMPLATE}")
        except LookupError:
            before_text = ""
        before = yaml.load(before_text, Loader=_CfnLoader) or {}  # noqa: S506 - SafeLoader subclass
        before_functions = _functions(before)
        before_resources = before.get("Resources") or {}
        now_resources = template.get("Resources") or {}
        changed_layers = {
            layer for layer in layers if before_resources.get(layer) != now_resources.get(layer)
        }
        for logical, props in functions.items():
            if before_functions.get(logical) != props:
                note(logical, f"{TEMPLATE} ({logical})")
            elif changed_layers & {
                ref.get("Ref") for ref in props.get("Layers") or [] if isinstance(ref, dict)
            }:
                note(logical, f"{TEMPLATE} ({', '.join(sorted(changed_layers))})")
    return {logical: found[logical] for logical in sorted(found)}


@app.command()
def changed(
    since: Annotated[str, typer.Option(help="a git ref: what changed since it (e.g. HEAD~1)")],
    root: Annotated[str, typer.Option(help="project folder holding template.yaml")] = ".",
    as_json: Annotated[bool, typer.Option("--json", help="one JSON document, for scripts")] = False,
) -> int:
    """The functions a git diff affects, through their CodeUri and the shared layer."""
    folder = _project(root)
    if not (folder / TEMPLATE).is_file():
        warn(f"govbus changed: no {TEMPLATE} in {folder.resolve()}")
        return 2
    try:
        found = affected_functions(folder, since)
    except LookupError as exc:
        warn(f"govbus changed: {exc}")
        return 2
    if as_json:
        print_json([{"function": logical, "because": why} for logical, why in found.items()])
        return 0
    if not found:
        say(f"no function is affected by the changes since {since}")
        return 0
    table(["function", "because"], [(logical, ", ".join(why)) for logical, why in found.items()])
    return 0


def resolve_function(template: dict[str, Any], name: str) -> str | None:
    """A function's logical id from its logical id, its CodeUri folder or its short name."""
    functions = _functions(template)
    if name in functions:
        return name
    wanted = name.lower().replace("-", "_")
    for logical, props in functions.items():
        folder = _code_dir(props).rstrip("/").rsplit("/", 1)[-1]
        if wanted in (folder.lower(), logical.lower().removesuffix("function")):
            return logical
    return None


def _has_credentials() -> bool:
    import boto3

    return boto3.session.Session().get_credentials() is not None


@app.command()
def deploy(
    function: Annotated[
        str, typer.Option(help="logical id (HotlineFunction) or short name (hotline)")
    ],
    config_env: Annotated[
        str, typer.Option(help="the samconfig.toml environment (default, prod, ...)")
    ] = "default",
    sync: Annotated[
        bool, typer.Option("--sync", help="`sam sync --code` instead of build and deploy")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the commands only")] = False,
    root: Annotated[str, typer.Option(help="project folder holding template.yaml")] = ".",
) -> int:
    """Build and deploy one function with sam; its canary and alarms do the rest."""
    from govbus_dev.local.template import load_template

    folder = _project(root)
    if not (folder / TEMPLATE).is_file():
        warn(f"govbus deploy: no {TEMPLATE} in {folder.resolve()}")
        return 2
    template = load_template(folder / TEMPLATE)
    logical = resolve_function(template, function)
    if logical is None:
        known = ", ".join(sorted(_functions(template)))
        warn(f"govbus deploy: no function {function!r} in {TEMPLATE} (there are: {known})")
        return 2
    env = ["--config-env", config_env]
    if sync:
        commands = [["sam", "sync", "--code", "--resource-id", logical, "--no-watch", *env]]
    else:
        commands = [
            ["sam", "build", logical, *env],
            ["sam", "deploy", *env, "--no-confirm-changeset", "--no-fail-on-empty-changeset"],
        ]
    if dry_run:
        for command in commands:
            say("$ " + shlex.join(command))
        return 0
    # checked before anything runs (or is printed as if it ran): a half-done deploy is
    # worse than none
    if not _has_credentials():
        warn(
            "govbus deploy: no AWS credentials: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY), or add --dry-run to print the commands only"
        )
        return 2
    sam = shutil.which("sam") or shutil.which("sam", path=str(folder / ".sam-venv" / "bin"))
    if sam is None:
        warn("govbus deploy: no `sam` on PATH: install the AWS SAM CLI (make build installs one)")
        return 2
    for command in commands:
        say("$ " + shlex.join(command))
        done = subprocess.run(  # noqa: S603 - sam with arguments, no shell
            [sam, *command[1:]], cwd=folder, env=os.environ.copy(), check=False
        )
        if done.returncode:
            warn(f"govbus deploy: `{shlex.join(command)}` exited {done.returncode}")
            return done.returncode
    say(f"deployed {logical}: its live alias shifts through the canary")
    return 0
