"""govbus.routing: the functions' HTTP resolver answers as Powertools' did, without it."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel

from contracts.errors import Conflict, GovbusError, NotFound
from govbus.auth import caller
from govbus.http import install_problem_handlers, parse_json
from govbus.routing import HttpResolver, NotFoundError, Response


def http_event(
    method: str,
    path: str,
    body: str | bytes | None = None,
    *,
    base64_body: bool = False,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    stage: str = "$default",
    authorizer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event, as the local gateway builds one."""
    if isinstance(body, bytes) or base64_body:
        raw = body if isinstance(body, bytes) else (body or "").encode()
        body, base64_body = base64.b64encode(raw).decode(), True
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path if stage == "$default" else f"/{stage}{path}",
        "rawQueryString": "",
        "headers": headers or {},
        "requestContext": {
            "requestId": "req-1",
            "stage": stage,
            "http": {"method": method, "path": path},
        },
        "body": body,
        "isBase64Encoded": base64_body,
    }
    if query:
        event["queryStringParameters"] = query
    if authorizer is not None:
        event["requestContext"]["authorizer"] = {"lambda": authorizer}
    return event


class Thing(BaseModel):
    code: str
    price: Decimal


def things_app() -> HttpResolver:
    app = HttpResolver()
    install_problem_handlers(app)
    return declare_things(app, Response)


def declare_things(app, Response):  # ours or Powertools' Response class
    """The routes of the tests, on our resolver or (to compare) on Powertools'."""

    @app.get("/things")
    def listing():
        return {"count": 0, "items": []}

    @app.get("/things/report")
    def report():
        return {"report": True}

    @app.get("/things/<code>")
    def one(code: str):
        return Thing(code=code, price=Decimal("1.50"))

    @app.post("/things/<code>/parts/<part>")
    def part(code: str, part: str):
        return Response(201, "application/json", json.dumps({"code": code, "part": part}))

    @app.put("/things/<code>")
    def replace(code: str):
        return {"code": code, "body": app.current_event.json_body}

    @app.delete("/things/<code>")
    def remove(code: str):
        raise NotFound(f"no thing {code}")

    @app.patch("/things/<code>")
    def amend(code: str):
        raise ZeroDivisionError("a bug")

    return app


def answer_json(answer: dict[str, Any]) -> Any:
    return json.loads(answer["body"])


# --- matching ------------------------------------------------------------------------


def test_a_path_parameter_reaches_the_route_as_a_keyword_argument():
    answer = things_app().resolve(http_event("POST", "/things/A1/parts/p-2"), None)
    assert answer["statusCode"] == 201
    assert answer_json(answer) == {"code": "A1", "part": "p-2"}


def test_a_parameter_arrives_as_the_client_encoded_it():
    answer = things_app().resolve(http_event("GET", "/things/a%20b~c"), None)
    assert answer_json(answer)["code"] == "a%20b~c"


def test_a_static_route_wins_over_a_parameter_whatever_the_order_declared():
    app = HttpResolver()

    @app.get("/things/<code>")
    def one(code: str):
        return {"route": "one"}

    @app.get("/things/report")
    def report():
        return {"route": "report"}

    assert answer_json(app.resolve(http_event("GET", "/things/report"), None)) == {
        "route": "report"
    }
    assert answer_json(app.resolve(http_event("GET", "/things/other"), None)) == {"route": "one"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/things/"),  # no trailing-slash tolerance on an HTTP API
        ("GET", "/things/a/b"),  # a parameter is one segment
        ("POST", "/things"),  # a path served, but not for this method
        ("GET", "/nothing"),
    ],
)
def test_what_no_route_serves_is_404_problem_json(method, path):
    answer = things_app().resolve(http_event(method, path), None)
    assert answer["statusCode"] == 404
    assert answer["headers"]["Content-Type"] == "application/problem+json"
    assert answer_json(answer)["detail"] == "no route matches this path and method"


def test_without_a_not_found_handler_the_answer_is_powertools_default_404():
    app = HttpResolver()
    answer = app.resolve(http_event("GET", "/nothing"), None)
    assert answer["statusCode"] == 404
    assert answer_json(answer) == {"statusCode": 404, "message": "Not found"}


def test_a_named_stage_is_not_part_of_the_path_matched():
    answer = things_app().resolve(http_event("GET", "/things/report", stage="prod"), None)
    assert answer_json(answer) == {"report": True}


# --- what a route returns --------------------------------------------------------------


def test_a_dict_is_answered_as_compact_json_200():
    answer = things_app().resolve(http_event("GET", "/things"), None)
    assert answer == {
        "statusCode": 200,
        "body": '{"count":0,"items":[]}',
        "isBase64Encoded": False,
        "headers": {"Content-Type": "application/json"},
        "cookies": [],
    }


def test_a_model_is_answered_as_its_json():
    answer = things_app().resolve(http_event("GET", "/things/A1"), None)
    assert answer["statusCode"] == 200
    assert answer_json(answer) == {"code": "A1", "price": "1.50"}


def test_a_bytes_body_is_sent_base64_encoded():
    app = HttpResolver()

    @app.get("/file")
    def file():
        return Response(200, "application/octet-stream", b"\x00\xffpdf", {"X-Kind": ["a", "b"]})

    answer = app.resolve(http_event("GET", "/file"), None)
    assert answer["isBase64Encoded"] is True
    assert base64.b64decode(answer["body"]) == b"\x00\xffpdf"
    assert answer["headers"] == {"Content-Type": "application/octet-stream", "X-Kind": "a, b"}


# --- errors ---------------------------------------------------------------------------


def test_a_domain_error_becomes_its_problem_json():
    answer = things_app().resolve(http_event("DELETE", "/things/A1"), None)
    assert answer["statusCode"] == 404
    assert answer_json(answer)["detail"] == "no thing A1"


def test_the_handler_of_the_most_specific_class_answers():
    app = HttpResolver()

    @app.exception_handler(GovbusError)
    def general(exc):
        return Response(500, "text/plain", "general")

    @app.exception_handler(Conflict)
    def specific(exc):
        return Response(409, "text/plain", "specific")

    @app.get("/conflict")
    def conflict():
        raise Conflict("taken")

    @app.get("/other")
    def other():
        raise NotFound("gone")

    assert app.resolve(http_event("GET", "/conflict"), None)["body"] == "specific"
    assert app.resolve(http_event("GET", "/other"), None)["body"] == "general"


def test_an_error_no_handler_takes_propagates():
    with pytest.raises(ZeroDivisionError):
        things_app().resolve(http_event("PATCH", "/things/A1"), None)


# --- the request ----------------------------------------------------------------------


def test_a_base64_body_is_read_as_json():
    answer = things_app().resolve(
        http_event("PUT", "/things/A1", '{"name": "水"}', base64_body=True), None
    )
    assert answer_json(answer) == {"code": "A1", "body": {"name": "水"}}


def test_a_body_that_is_not_utf8_is_400_problem_json():
    answer = things_app().resolve(http_event("PUT", "/things/A1", b"\xff\xfe{}"), None)
    assert answer["statusCode"] == 400
    assert answer_json(answer)["detail"] == "the body is not valid UTF-8"


def test_a_body_nested_too_deep_is_refused_by_the_bounded_parser():
    deep = "[" * 200 + "]" * 200
    answer = things_app().resolve(http_event("PUT", "/things/A1", deep), None)
    assert answer["statusCode"] == 400
    assert "levels deep" in answer_json(answer)["detail"]


@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded", "text/plain; charset=utf-8", "application/xml"],
)
def test_a_json_route_refuses_a_body_sent_as_another_media_type_with_415(content_type):
    event = http_event("PUT", "/things/A1", '{"a": 1}', headers={"content-type": content_type})
    answer = things_app().resolve(event, None)
    assert answer["statusCode"] == 415
    assert answer["headers"]["Content-Type"] == "application/problem+json"
    problem = answer_json(answer)
    assert problem["type"].endswith("/unsupported-media-type")
    assert content_type.split(";")[0] in problem["detail"]


@pytest.mark.parametrize("content_type", ["; text/plain", ";", " ; charset=utf-8"])
def test_a_content_type_naming_no_media_type_is_415(content_type):
    event = http_event("PUT", "/things/A1", '{"a": 1}', headers={"content-type": content_type})
    answer = things_app().resolve(event, None)
    assert answer["statusCode"] == 415
    assert "names no media type" in answer_json(answer)["detail"]


@pytest.mark.parametrize("number", ["1" * 41, "1e999999", "NaN", "-Infinity"])
def test_a_number_the_parser_refuses_names_the_body(number):
    event = http_event("PUT", "/things/A1", '{"a": ' + number + "}")
    answer = things_app().resolve(event, None)
    assert answer["statusCode"] == 400
    assert answer_json(answer)["field"] == "(body)"


def test_a_415_shows_a_long_media_type_only_in_part():
    sent = "text/" + "x" * 5000
    event = http_event("PUT", "/things/A1", '{"a": 1}', headers={"content-type": sent})
    answer = things_app().resolve(event, None)
    assert answer["statusCode"] == 415
    detail = answer_json(answer)["detail"]
    assert len(detail) < 200 and sent[:80] in detail


@pytest.mark.parametrize(
    "headers",
    [
        {"content-type": "application/json"},
        {"Content-Type": "Application/JSON; charset=utf-8"},
        {"content-type": "application/merge-patch+json"},
        {},  # no Content-Type: read as JSON, as before
    ],
)
def test_a_json_route_reads_a_json_or_untyped_body(headers):
    event = http_event("PUT", "/things/A1", '{"a": 1}', headers=headers)
    answer = things_app().resolve(event, None)
    assert answer["statusCode"] == 200
    assert answer_json(answer)["body"] == {"a": 1}


def test_a_route_that_reads_no_json_takes_any_media_type():
    app = HttpResolver()
    install_problem_handlers(app)

    @app.post("/raw")
    def raw():
        return {"length": len(app.current_event.decoded_body or "")}

    event = http_event("POST", "/raw", "a=1", headers={"content-type": "text/plain"})
    assert answer_json(app.resolve(event, None)) == {"length": 3}


def test_no_body_reads_as_none():
    answer = things_app().resolve(http_event("PUT", "/things/A1"), None)
    assert answer_json(answer) == {"code": "A1", "body": None}


def test_the_event_s_parts_are_read_as_powertools_read_them():
    app = HttpResolver()
    seen: dict[str, Any] = {}

    @app.get("/me")
    def me():
        event = app.current_event
        seen.update(
            header=event.headers.get("X-Correlation-Id"),
            query=event.get_query_string_value("q"),
            missing=event.get_query_string_value("nope", "default"),
            request_id=event.request_context.request_id,
            path=event.path,
            raw=event.raw_event["rawPath"],
            who=caller(app).subject,
            context=app.lambda_context,
        )
        return {}

    app.resolve(
        http_event(
            "GET",
            "/me",
            headers={"x-correlation-id": "c-1"},
            query={"q": "水"},
            authorizer={"sub": "dept-client", "kind": "department", "scopes": "a b"},
            stage="prod",
        ),
        "the-context",
    )
    assert seen == {
        "header": "c-1",
        "query": "水",
        "missing": "default",
        "request_id": "req-1",
        "path": "/me",
        "raw": "/prod/me",
        "who": "dept-client",
        "context": "the-context",
    }


def test_a_route_without_an_authorizer_context_is_unauthenticated():
    app = HttpResolver()
    install_problem_handlers(app)

    @app.get("/me")
    def me():
        return {"sub": caller(app).subject}

    answer = app.resolve(http_event("GET", "/me"), None)
    assert answer["statusCode"] == 401


def test_each_route_keeps_its_decorator_arguments():
    app = HttpResolver()

    @app.get("/a", summary="A", responses={200: {"description": "ok"}})
    def a():
        return {}

    [route] = app.routes
    assert (route.method, route.rule, route.func) == ("GET", "/a", a)
    assert route.options == {"summary": "A", "responses": {200: {"description": "ok"}}}


# --- the same answers as Powertools' resolver ------------------------------------------

SAME_AS_POWERTOOLS = [
    ("GET", "/things"),
    ("GET", "/things/"),
    ("GET", "/things/report"),
    ("GET", "/things/A1"),
    ("GET", "/things/%E6%B0%B4"),
    ("GET", "/things/水"),
    ("GET", "/things/a%2Fb"),
    ("GET", "/things/a.b"),
    ("GET", "/things/a b"),
    ("GET", "/things/a?b"),
    ("GET", "/things/a#b"),
    ("GET", "/things/a/b"),
    ("GET", "/things//"),
    ("POST", "/things"),
    ("POST", "/things/A1/parts/p"),
    ("post", "/things/A1/parts/p"),
    ("DELETE", "/things/A1"),
    ("PUT", "/things/A1"),
    ("HEAD", "/things"),
    ("GET", "/"),
    ("GET", ""),
]


def powertools_things_app():
    """The same routes and problem handlers on Powertools' resolver, as before govbus.routing."""
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
    from aws_lambda_powertools.event_handler import Response as PowertoolsResponse

    app = APIGatewayHttpResolver(json_body_deserializer=parse_json)
    problems = HttpResolver()
    install_problem_handlers(problems)
    for cls, handler in problems._exception_handlers.items():

        def powertools_handler(exc, handler=handler):
            ours = handler(exc)
            return PowertoolsResponse(ours.status_code, ours.content_type, ours.body)

        if cls is NotFoundError:
            app.not_found(powertools_handler)
        else:
            app.exception_handler(cls)(powertools_handler)
    return declare_things(app, PowertoolsResponse)


@pytest.mark.parametrize(("method", "path"), SAME_AS_POWERTOOLS)
def test_the_answer_is_the_one_powertools_gave(method, path):
    ours = things_app()
    theirs = powertools_things_app()
    event = http_event(method, path, '{"a": [1, 2]}')
    assert comparable(ours.resolve(event, None)) == comparable(theirs.resolve(event, None))


def comparable(answer: dict[str, Any]) -> dict[str, Any]:
    """An answer with its JSON body read: ours writes 水 where Powertools wrote \\u6c34
    (every answer is UTF-8 text, as a pydantic model's is), the same JSON either way."""
    try:
        return {**answer, "body": json.loads(answer["body"])}
    except (TypeError, ValueError):
        return answer


def test_a_dict_answer_is_utf8_text_where_powertools_escaped_it():
    event = http_event("GET", "/things/水")
    assert '"code":"水"' in things_app().resolve(event, None)["body"]
    assert '"code":"\\u6c34"' in powertools_things_app().resolve(event, None)["body"]


def test_a_refusal_quoting_a_long_input_is_cut_to_a_readable_detail():
    app = HttpResolver()
    install_problem_handlers(app)

    @app.get("/items/<code>")
    def item(code: str):
        from contracts.errors import NotFound

        raise NotFound(f"no item {code}")

    answer = app.resolve(http_event("GET", "/items/" + "A" * 5000), None)
    assert answer["statusCode"] == 404
    detail = answer_json(answer)["detail"]
    assert detail.startswith("no item AAAA") and detail.endswith("...")
    assert len(detail) == 300
