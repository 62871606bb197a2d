"""One OpenAPI 3.1 document for the whole API, generated from the functions' routes.

Each HTTP function's resolver documents its own routes (``**documented(...)`` on every
route decorator, govbus/http.py; govbus/routing.py keeps each route's arguments); this
imports every function that template.yaml gives an ``HttpApi`` event, declares its routes
again on a Powertools resolver (whose OpenAPI generator a function never loads), asks it
for that function's document, and merges them. Paths
are written as template.yaml writes them (``/applications/{id}``, where the code says
``<case_id>``), so the document describes the API that is deployed, and a route that is in
the template but not in the code (or the other way round) is an error, not a silent gap.

``python -m govbus_dev.openapi`` (``make openapi``) writes docs/openapi.json;
``--check`` exits 1 when the file on disk is not what the code generates.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic.json_schema import models_json_schema

from govbus_dev.local.template import (
    FunctionSpec,
    function_specs,
    load_template,
    parameter_defaults,
)

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "openapi.json"
REF = "#/components/schemas/{model}"
TITLE = "govbus API"
DESCRIPTION = (
    "The HTTP API of govbus, the integration bus of the city's Internet + government services "
    "(互联网+政务服务) platform. Every refusal is RFC 9457 problem+json "
    "(`application/problem+json`), except the API Gateway's own answer to a missing or "
    'refused token (`{"message": ...}`). Generated from the code by `make openapi`.'
)
SECURITY_SCHEMES = {
    "govbusToken": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": (
            "A token from POST /auth/login (a citizen's or an enterprise's certificate login: "
            "scope `self`) or POST /auth/token (a department's client credentials: the "
            "scopes its client was granted). The gateway's Lambda authorizer verifies it; "
            "an operation's listed scopes are the ones its route checks, any one enough."
        ),
    }
}


class OpenAPIDrift(Exception):
    """The code's routes and template.yaml's events disagree."""


def _template_path(code_path: str, template_paths: list[str]) -> str | None:
    """The template path with the same shape as ``code_path`` (parameter names may differ)."""
    shape = re.sub(r"\{[^}]+\}", "{}", code_path)
    for path in template_paths:
        if re.sub(r"\{[^}]+\}", "{}", path) == shape:
            return path
    return None


@contextlib.contextmanager
def _function_environment(
    spec: FunctionSpec, parameters: dict[str, str] | None = None
) -> Iterator[None]:
    """The function's own environment variables while it is imported: parameters at their
    defaults, other references (tables, queues) as placeholder names."""
    from govbus import settings

    saved = dict(os.environ)
    for name, value in spec.environment.items():
        if isinstance(value, str | int | float | bool):
            os.environ[name] = str(value)
        elif isinstance(value, dict) and value.get("Ref") in (parameters or {}):
            os.environ[name] = (parameters or {})[value["Ref"]]
        else:
            os.environ[name] = f"{spec.logical_id}-{name}"
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    settings.reset()
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        settings.reset()


def _resolver(spec: FunctionSpec, parameters: dict[str, str]) -> Any:
    name = f"_govbus_openapi_{spec.logical_id}"
    loader = importlib.util.spec_from_file_location(name, spec.module_file)
    assert loader and loader.loader
    module = importlib.util.module_from_spec(loader)
    sys.path.insert(0, str(spec.code_dir))
    try:
        with _function_environment(spec, parameters):
            loader.loader.exec_module(module)
    finally:
        sys.path.remove(str(spec.code_dir))
    return _powertools_resolver(module.app)


def _powertools_resolver(app: Any) -> Any:
    """Powertools' resolver with ``app``'s routes, declared in the same order with the
    same arguments and handlers (the handlers' signatures name the path parameters)."""
    if hasattr(app, "get_openapi_schema"):  # already one of Powertools' resolvers
        return app
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

    rebuilt = APIGatewayHttpResolver()
    for route in app.routes:
        rebuilt.route(route.rule, route.method, **route.options)(route.func)
    return rebuilt


def _rename_parameters(operation: dict[str, Any], code_path: str, path: str) -> None:
    names = dict(
        zip(re.findall(r"\{([^}]+)\}", code_path), re.findall(r"\{([^}]+)\}", path), strict=True)
    )
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "path":
            parameter["name"] = names.get(parameter["name"], parameter["name"])


def _merge_schema(schemas: dict[str, Any], name: str, schema: Any, where: str) -> None:
    if name in schemas and schemas[name] != schema:
        raise OpenAPIDrift(
            f"two different schemas are both called {name!r} ({where}): rename one model"
        )
    schemas[name] = schema


def build(root: Path = ROOT) -> dict[str, Any]:
    from govbus import http

    template = load_template(root / "template.yaml")
    parameters = parameter_defaults(template)
    http.BODY_MODELS.clear()  # filled again as each function's routes are declared
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {}
    problems: list[str] = []
    for spec in sorted(function_specs(template, root), key=lambda s: s.logical_id):
        events = spec.events_of("HttpApi", "Api")
        if not events:
            continue
        declared = {(props["Method"].lower(), props["Path"]) for _, props in events}
        template_paths = sorted({path for _, path in declared})
        app = _resolver(spec, parameters)
        document = app.get_openapi_schema(security_schemes=SECURITY_SCHEMES).model_dump(
            mode="json", by_alias=True, exclude_none=True
        )
        seen = set()
        for code_path, operations in document.get("paths", {}).items():
            path = _template_path(code_path, template_paths)
            for method, operation in operations.items():
                if path is None or (method, path) not in declared:
                    problems.append(
                        f"{spec.logical_id}: {method.upper()} {code_path} is in the code "
                        "but not in template.yaml"
                    )
                    continue
                seen.add((method, path))
                for response in operation.get("responses", {}).values():
                    if response.get("content") == {}:
                        del response["content"]  # a response with no body (204)
                query = operation.pop("x-govbus-query", [])
                if query:
                    operation["parameters"] = operation.get("parameters", []) + query
                if path != code_path:
                    _rename_parameters(operation, code_path, path)
                operation["operationId"] = _operation_id(method, path)
                operation.setdefault("tags", [spec.logical_id.removesuffix("Function")])
                paths.setdefault(path, {})[method] = operation
        for method, path in sorted(declared - seen):
            problems.append(
                f"{spec.logical_id}: {method.upper()} {path} is in template.yaml but no "
                "route of the code serves it"
            )
        for name, schema in (document.get("components") or {}).get("schemas", {}).items():
            if name in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
                continue  # Powertools' own validation errors: govbus answers problem+json
            _merge_schema(schemas, name, schema, spec.logical_id)
    if problems:
        raise OpenAPIDrift("; ".join(problems))
    _, problem = models_json_schema(
        [(http.Problem, "serialization"), (http.GatewayMessage, "serialization")],
        ref_template=REF,
    )
    for name, schema in problem["$defs"].items():
        _merge_schema(schemas, name, schema, "problem+json")
    for name, models in http.BODY_MODELS.items():
        if len({json.dumps(m.model_json_schema(), sort_keys=True) for m in models}) > 1:
            raise OpenAPIDrift(
                f"two different request bodies are both called {name!r} "
                f"({', '.join(m.__module__ for m in models)}): rename one model"
            )
    _, bodies = models_json_schema(
        [(models[0], "validation") for models in http.BODY_MODELS.values()], ref_template=REF
    )
    # a model read as a body and written in a response has two schemas (defaults, computed
    # fields): the request's is then called ``<Name>Input``, as pydantic itself would
    defs = bodies.get("$defs", {})
    renamed = {n for n, schema in defs.items() if n in schemas and schemas[n] != schema}

    def inputs(part: Any) -> Any:
        text = json.dumps(part)
        for name in renamed:
            text = text.replace(
                f'"{REF.format(model=name)}"', f'"{REF.format(model=name + "Input")}"'
            )
        return json.loads(text)

    for operations in paths.values():
        for operation in operations.values():
            if "requestBody" in operation:
                operation["requestBody"] = inputs(operation["requestBody"])
    for name, schema in inputs(defs).items():
        _merge_schema(schemas, name + "Input" if name in renamed else name, schema, "bodies")
    return {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": _version(root), "description": DESCRIPTION},
        "servers": [{"url": "/", "description": "the API's own origin (the local gateway too)"}],
        "paths": {path: paths[path] for path in sorted(paths)},
        "components": {
            "schemas": {name: schemas[name] for name in sorted(schemas)},
            "securitySchemes": SECURITY_SCHEMES,
        },
    }


def _operation_id(method: str, path: str) -> str:
    words = re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_")
    return f"{method}_{words}" if words else method


def _version(root: Path) -> str:
    text = (root / "pyproject.toml").read_text(encoding="utf-8")
    found = re.search(r'^version\s*=\s*"([^"]+)"', text, re.MULTILINE)
    return found.group(1) if found else "0"


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m govbus_dev.openapi", description=__doc__)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the file differs from the code's"
    )
    args = parser.parse_args(argv)
    text = render(build())
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date: run `make openapi`", file=sys.stderr)
            return 1
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output} ({len(text):,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
