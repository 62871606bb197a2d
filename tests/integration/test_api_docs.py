"""The local gateway serves the API's contract and Swagger UI, offline (no CDN)."""

from __future__ import annotations

import json
import re

import pytest
import requests

from tests.conftest import ROOT

pytestmark = pytest.mark.integration


def test_the_openapi_document_is_served_as_make_openapi_wrote_it(local_stack_session):
    answer = requests.get(f"{local_stack_session.url}/openapi.json", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == json.loads((ROOT / "docs" / "openapi.json").read_text("utf-8"))


def test_swagger_ui_loads_its_assets_and_the_document_from_the_gateway_itself(
    local_stack_session,
):
    base = local_stack_session.url
    page = requests.get(f"{base}/docs", timeout=10)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    # every script, stylesheet and the document come from this origin: it works offline
    assert not re.search(r"(src|href)=\"https?://", page.text)
    assert 'url: "/openapi.json"' in page.text
    sources = re.findall(r"(?:src|href)=\"(/docs/[^\"]+)\"", page.text)
    assert sorted(sources) == ["/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css"]
    for source in sources:
        asset = requests.get(base + source, timeout=10)
        assert asset.status_code == 200, source
        assert len(asset.content) > 100_000, source  # the real bundle, not a stub
    bundle = requests.get(f"{base}/docs/swagger-ui-bundle.js", timeout=10)
    assert bundle.headers["content-type"] == "application/javascript"
    assert b"SwaggerUIBundle" in bundle.content


def test_the_developer_pages_do_not_shadow_api_routes(local_stack_session):
    # a POST to /docs is no page: the gateway answers as for any unknown route
    answer = requests.post(f"{local_stack_session.url}/docs", timeout=10)
    assert answer.status_code == 404


def test_swagger_ui_runs_under_a_content_security_policy_and_keeps_no_token(local_stack_session):
    page = requests.get(f"{local_stack_session.url}/docs", timeout=10)
    policy = page.headers["content-security-policy"]
    assert "script-src 'self' 'sha256-" in policy and "frame-ancestors 'none'" in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "persistAuthorization: false" in page.text


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("TRACE", "/health", 404), ("PROPFIND", "/docs", 404), ("GET", "/" + "a" * 70_000, 414)],
)
def test_what_the_gateway_refuses_itself_is_json_like_api_gateways_answers(
    local_stack_session, method, path, status
):
    answer = requests.request(method, f"{local_stack_session.url}{path}", timeout=10)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.json()["message"]
