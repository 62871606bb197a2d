"""What a person reads in an answer: UTF-8 text as it is, and nothing from the caller's
input that could fool a terminal or a log (control and bidi-override characters)."""

from __future__ import annotations

import json

from pydantic import BaseModel

from contracts.errors import NotFound, ValidationFailed
from govbus.http import install_problem_handlers, json_response
from govbus.routing import HttpResolver
from tests.unit.test_routing import http_event


class Guide(BaseModel):
    name: str


def guides_app() -> HttpResolver:
    app = HttpResolver()
    install_problem_handlers(app)

    @app.get("/guides")
    def listing():
        return {"count": 1, "items": [{"name": "食品经营许可证核发"}]}

    @app.get("/guides/listed")
    def listed():
        return json_response({"items": [{"name": "食品经营许可证核发"}]})

    @app.get("/guides/one")
    def one():
        return Guide(name="食品经营许可证核发")

    @app.get("/guides/<code>")
    def missing(code: str):
        raise NotFound(f"no published item {code}")

    @app.post("/guides/<code>")
    def refused(code: str):
        raise ValidationFailed(f"code {code} is not a code", field=code)

    return app


def test_every_json_answer_is_utf8_text_a_list_as_a_single_item():
    app = guides_app()
    for path in ("/guides", "/guides/listed", "/guides/one"):
        answer = app.resolve(http_event("GET", path), None)
        assert answer["statusCode"] == 200, path
        assert "食品经营许可证核发" in answer["body"], (path, answer["body"])
        assert "\\u" not in answer["body"], path


def test_a_path_value_with_a_bidi_override_or_line_break_is_written_out_in_the_detail():
    app = guides_app()
    answer = app.resolve(http_event("GET", "/guides/\u202eabc\nINFO forged\x1b[2J"), None)
    assert answer["statusCode"] == 404
    detail = json.loads(answer["body"])["detail"]
    assert detail == "no published item \\u202eabc\\u000aINFO forged\\u001b[2J"


def test_a_field_named_from_the_input_is_written_out_too():
    answer = guides_app().resolve(http_event("POST", "/guides/a\u2066b\u2028c"), None)
    problem = json.loads(answer["body"])
    assert answer["statusCode"] == 422
    assert problem["field"] == "a\\u2066b\\u2028c"
    assert problem["detail"] == "code a\\u2066b\\u2028c is not a code"


def test_chinese_text_and_ordinary_punctuation_pass_through_unchanged():
    answer = guides_app().resolve(http_event("GET", "/guides/福州·鼓楼（一）"), None)
    assert json.loads(answer["body"])["detail"] == "no published item 福州·鼓楼（一）"
