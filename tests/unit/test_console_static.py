"""The local gateway serves the ops console's page and files (as CloudFront serves them
from S3), by exact name only, under a content security policy; nothing else."""

from __future__ import annotations

from govbus_dev.local.gateway import Gateway, IncomingRequest
from tests.conftest import ROOT


def get(gateway: Gateway, path: str, method: str = "GET"):
    return gateway.handle(IncomingRequest(method, path, "", [], b"", "127.0.0.1"))


def header(response, name: str) -> str:
    return next(v for k, v in response.headers if k.lower() == name)


def test_the_console_page_and_its_files_are_served_with_a_content_security_policy():
    gateway = Gateway([], console_dir=ROOT / "console")
    page = get(gateway, "/console")
    assert page.status == 200
    assert header(page, "content-type") == "text/html; charset=utf-8"
    assert b'src="console/console.js"' in page.body
    policy = header(page, "content-security-policy")
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    script = get(gateway, "/console/console.js")
    assert script.status == 200 and header(script, "content-type").startswith("text/javascript")
    assert script.body == (ROOT / "console" / "console.js").read_bytes()
    style = get(gateway, "/console/console.css")
    assert style.status == 200 and header(style, "content-type").startswith("text/css")


def test_the_trailing_slash_redirects_to_the_one_address_the_page_links_from():
    answer = get(Gateway([], console_dir=ROOT / "console"), "/console/")
    assert answer.status == 301 and header(answer, "location") == "/console"


def test_no_path_outside_the_console_files_is_served():
    gateway = Gateway([], console_dir=ROOT / "console")
    for path in (
        "/console/../template.yaml",
        "/console/%2e%2e/template.yaml",
        "/console/nothing.js",
        "/console/sub/console.js",
        "/consolex",
    ):
        answer = get(gateway, path)
        assert answer.status == 404, path
        assert b"template" not in answer.body.lower()
    assert get(gateway, "/console", "POST").status == 404


def test_without_a_console_folder_the_path_is_an_unknown_route():
    assert get(Gateway([]), "/console").status == 404


def test_the_page_by_its_file_name_redirects_to_the_address_its_links_work_from():
    gateway = Gateway([], console_dir=ROOT / "console")
    answer = get(gateway, "/console/index.html")
    assert answer.status == 301 and header(answer, "location") == "/console"


def test_head_answers_as_get_does_without_the_body():
    gateway = Gateway([], console_dir=ROOT / "console")
    for path in ("/console", "/console/console.js", "/docs", "/docs/swagger-ui.css"):
        got, head = get(gateway, path), get(gateway, path, "HEAD")
        assert head.status == got.status == 200, path
        assert head.body == b"", path
        assert [h for h in head.headers if h[0] != "content-length"] == got.headers, path
        assert header(head, "content-length") == str(len(got.body)), path
