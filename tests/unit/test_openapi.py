"""docs/openapi.json: generated from the functions' routes, valid OpenAPI 3.1, current, and
listing every HTTP route of template.yaml with its method, its token scopes and its
problem+json refusals."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator

from govbus_dev import openapi
from govbus_dev.local.template import function_specs, load_template

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "docs" / "openapi.json"


@pytest.fixture(scope="module")
def document() -> dict:
    return json.loads(DOCUMENT.read_text(encoding="utf-8"))


def template_routes() -> dict[tuple[str, str], bool]:
    """(method, path) -> public?"""
    routes = {}
    for spec in function_specs(load_template(ROOT / "template.yaml"), ROOT):
        for _name, props in spec.events_of("HttpApi", "Api"):
            public = (props.get("Auth") or {}).get("Authorizer") == "NONE"
            routes[(props["Method"].lower(), props["Path"])] = public
    return routes


def test_the_document_is_valid_openapi_3_1(document):
    assert document["openapi"].startswith("3.1")
    errors = list(OpenAPIV31SpecValidator(document).iter_errors())
    assert not errors, errors[:3]


def test_the_document_is_what_the_code_generates_today():
    assert openapi.render(openapi.build(ROOT)) == DOCUMENT.read_text(encoding="utf-8"), (
        "docs/openapi.json is out of date: run `make openapi`"
    )


def test_every_route_of_the_template_is_documented_with_its_method_and_no_other(document):
    routes = template_routes()
    assert len(routes) > 50
    documented = {
        (method, path) for path, operations in document["paths"].items() for method in operations
    }
    assert documented == set(routes)


def test_protected_operations_name_the_token_scheme_and_public_ones_none(document):
    for (method, path), public in template_routes().items():
        operation = document["paths"][path][method]
        if public:
            assert "security" not in operation, f"{method} {path} is public"
        else:
            [requirement] = operation["security"]
            assert list(requirement) == ["govbusToken"], f"{method} {path}"
            assert "401" in operation["responses"], f"{method} {path} documents no 401"


def test_operations_with_a_body_document_its_model_and_their_refusals_as_problems(document):
    schemas = document["components"]["schemas"]
    with_body = 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status.startswith("4"):
                    problem = response["content"]["application/problem+json"]["schema"]
                    assert problem == {"$ref": "#/components/schemas/Problem"}, (method, path)
            if "requestBody" in operation:
                with_body += 1
                ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                assert ref.rsplit("/", 1)[1] in schemas
                assert {"400", "413", "422"} <= set(operation["responses"]), (method, path)
    assert with_body > 20
    assert set(schemas["Problem"]["required"]) == {"type", "title", "status", "detail"}


def test_path_parameters_are_named_as_the_template_names_them(document):
    operation = document["paths"]["/applications/{id}"]["get"]
    assert [p["name"] for p in operation["parameters"] if p["in"] == "path"] == ["id"]


def scratch_root(tmp_path: Path, template_paths: list[str], code_paths: list[str]) -> Path:
    events = "".join(
        f"""
        E{i}:
          Type: HttpApi
          Properties: {{ApiId: !Ref Api, Method: GET, Path: "{path}"}}"""
        for i, path in enumerate(template_paths)
    )
    (tmp_path / "template.yaml").write_text(
        textwrap.dedent(
            """\
            Resources:
              Api:
                Type: AWS::Serverless::HttpApi
              ThingsFunction:
                Type: AWS::Serverless::Function
                Properties:
                  CodeUri: fn/
                  Handler: app.lambda_handler
                  Events:"""
        )
        + textwrap.indent(textwrap.dedent(events), "        ")
        + "\n",
        encoding="utf-8",
    )
    routes = "".join(
        f'\n\n@app.get("{path}", **documented("a thing", scopes=None))\n'
        f"def r{i}({', '.join(f'{p}: str' for p in re.findall('<([a-z_]+)>', path))}):\n"
        "    return {}\n"
        for i, path in enumerate(code_paths)
    )
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "app.py").write_text(
        "from aws_lambda_powertools.event_handler import APIGatewayHttpResolver\n"
        "from govbus.http import documented\n\napp = APIGatewayHttpResolver()\n" + routes,
        encoding="utf-8",
    )
    (tmp_path / "pyproject.toml").write_text('version = "1.2.3"\n', encoding="utf-8")
    return tmp_path


def test_a_template_route_no_code_serves_fails_the_build(tmp_path):
    root = scratch_root(tmp_path, ["/things", "/things/{id}"], ["/things"])
    with pytest.raises(openapi.OpenAPIDrift, match=r"GET /things/\{id\} is in template.yaml"):
        openapi.build(root)


def test_a_route_of_the_code_the_template_lacks_fails_the_build(tmp_path):
    root = scratch_root(tmp_path, ["/things"], ["/things", "/other"])
    with pytest.raises(openapi.OpenAPIDrift, match="GET /other is in the code"):
        openapi.build(root)


def test_matching_routes_build_with_the_template_s_parameter_names(tmp_path):
    root = scratch_root(tmp_path, ["/things/{id}"], ["/things/<thing_id>"])
    document = openapi.build(root)
    [parameter] = document["paths"]["/things/{id}"]["get"]["parameters"]
    assert parameter["name"] == "id"
    assert document["info"]["version"] == "1.2.3"


def test_two_different_request_bodies_of_one_name_fail_the_build(tmp_path):
    root = scratch_root(tmp_path, ["/things", "/others"], [])
    template = root / "template.yaml"
    template.write_text(template.read_text(encoding="utf-8").replace("GET", "POST"))
    (root / "fn" / "app.py").write_text(
        textwrap.dedent(
            """\
            from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
            from pydantic import BaseModel

            from govbus.http import documented

            app = APIGatewayHttpResolver()


            class Publish(BaseModel):
                version: int


            @app.post("/things", **documented("a thing", body=Publish, scopes=None))
            def things():
                return {}


            class Publish(BaseModel):
                version: str


            @app.post("/others", **documented("another", body=Publish, scopes=None))
            def others():
                return {}
            """
        ),
        encoding="utf-8",
    )
    with pytest.raises(openapi.OpenAPIDrift, match=r"two different request bodies .* 'Publish'"):
        openapi.build(root)
