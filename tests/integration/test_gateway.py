"""The local gateway turns requests into the proxy events API Gateway sends."""

import base64
from pathlib import Path

import pytest
import requests

from govbus_dev.local.stack import LocalStack

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "authz_stack"


@pytest.fixture(scope="module")
def small_stack(local_stack_session):
    stack = LocalStack(
        FIXTURE,
        port=0,
        endpoint=local_stack_session.endpoint,
        stack_name="authz",
        simulators=False,
        pollers=False,
        schedules=False,
    )
    stack.start()
    yield stack
    stack.stop()


def echo(answer):
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_route_behind_the_authorizer_needs_the_identity_header(small_stack):
    answer = requests.get(f"{small_stack.url}/private/x", timeout=10)
    assert answer.status_code == 401


def test_the_authorizer_denying_gives_403(small_stack):
    answer = requests.get(
        f"{small_stack.url}/private/x", headers={"Authorization": "Bearer bad"}, timeout=10
    )
    assert answer.status_code == 403


def test_an_authorized_request_gets_a_v2_event_with_the_authorizer_context(small_stack):
    body = echo(
        requests.get(
            f"{small_stack.url}/private/a%20b?x=1&x=2",
            headers={"Authorization": "Bearer good"},
            timeout=10,
        )
    )
    event = body["event"]
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /private/{thing}"
    assert event["pathParameters"] == {"thing": "a b"}, "HTTP API decodes path parameters"
    assert event["rawPath"] == "/private/a b"
    assert event["queryStringParameters"] == {"x": "1,2"}
    assert event["requestContext"]["authorizer"]["lambda"] == {"subject": "dept-1"}
    assert event["requestContext"]["http"]["method"] == "GET"
    assert body["greeting"] == "hello from authz"


def test_a_public_route_skips_the_authorizer_and_binary_bodies_arrive_base64(small_stack):
    raw = bytes(range(256))
    event = echo(
        requests.post(
            f"{small_stack.url}/public",
            data=raw,
            headers={"content-type": "application/octet-stream"},
            timeout=10,
        )
    )["event"]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == raw
    assert "authorizer" not in event["requestContext"]


def test_an_api_event_gets_payload_format_1(small_stack):
    event = echo(requests.put(f"{small_stack.url}/legacy/a/b", json={"k": "v"}, timeout=10))[
        "event"
    ]
    assert event["httpMethod"] == "PUT"
    assert event["resource"] == "/legacy/{proxy+}"
    assert event["pathParameters"] == {"proxy": "a/b"}
    assert event["body"] == '{"k": "v"}' and event["isBase64Encoded"] is False
    assert event["requestContext"]["resourcePath"] == "/legacy/{proxy+}"


def raw_exchange(stack, request: bytes) -> bytes:
    """Send bytes as they are; read every answer until the gateway closes the connection."""
    import socket
    from urllib.parse import urlsplit

    where = urlsplit(stack.url)
    with socket.create_connection((where.hostname, where.port), timeout=20) as conn:
        conn.sendall(request)
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
    return received


def test_a_chunked_body_is_the_body_not_a_second_request(small_stack):
    """Seen: a chunked POST whose body was `GET /health ...` got two answers (smuggling)."""
    smuggled = b"GET /public HTTP/1.1\r\nHost: x\r\n\r\n"
    body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(smuggled), smuggled)
    answer = raw_exchange(
        small_stack,
        b"POST /public HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Type: text/plain\r\nConnection: close\r\n\r\n" + body,
    )
    assert answer.count(b"HTTP/1.1 ") == 1, answer
    assert answer.startswith(b"HTTP/1.1 200")
    assert b"GET /public" in answer, "the handler saw the chunked body as the body"


def test_a_path_that_starts_with_two_slashes_matches_no_route(small_stack):
    """Seen: POST //public answered 200 (http.server folds a leading // into /); API
    Gateway matches the path as sent, and no route of the template is //public."""
    answer = raw_exchange(
        small_stack, b"POST //public HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert answer.startswith(b"HTTP/1.1 404"), answer
    assert answer.endswith(b'{"message": "Not Found"}'), answer
    same = raw_exchange(
        small_stack, b"POST /public?x=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert same.startswith(b"HTTP/1.1 200"), same


def test_the_path_is_decoded_as_http_api_decodes_it_and_utf8_urls_are_read_as_utf8(small_stack):
    """Seen: GET /catalog/items/食品 (percent-encoded, as browsers send it) looked up the
    item "%E9%A3%9F%E5%93%81", and curl's ?q=食品 (UTF-8 sent as it is) searched for
    mojibake. HTTP API decodes the path before it routes, and reads the URL as UTF-8."""
    good = {"Authorization": "Bearer good"}
    encoded = echo(
        requests.get(f"{small_stack.url}/private/%E9%A3%9F%E5%93%81", headers=good, timeout=10)
    )["event"]
    assert encoded["pathParameters"] == {"thing": "食品"}
    raw = raw_exchange(
        small_stack,
        "GET /private/食品?q=食品 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer good\r\n"
        "Connection: close\r\n\r\n".encode(),
    )
    assert raw.startswith(b"HTTP/1.1 200"), raw
    body = raw.split(b"\r\n\r\n", 1)[1].decode()
    assert '"thing": "\\u98df\\u54c1"' in body or '"thing": "食品"' in body, body
    assert '"q": "\\u98df\\u54c1"' in body or '"q": "食品"' in body, body
    # an encoded slash separates segments once decoded: it names no path parameter
    climbed = requests.get(f"{small_stack.url}/private/..%2F..%2Fx", headers=good, timeout=10)
    assert climbed.status_code == 404 and climbed.json() == {"message": "Not Found"}


@pytest.mark.parametrize("text", ["执照", "堀江", "食品"])
def test_a_utf8_url_sent_as_it_is_reads_as_its_percent_encoded_form(small_stack, text):
    """Seen: curl "localhost:3000/catalog/items?q=执照" got 400 with garbled text, where
    ?q=食品 worked. 照 is E7 85 A7 and 堀 E5 A0 80: read as ISO-8859-1, 0x85 is NEL and
    0xA0 NBSP, which str.split() takes for spaces, so http.server saw a request line of
    four words and refused it before the gateway could re-read it as UTF-8."""
    from urllib.parse import quote

    good = {"Authorization": "Bearer good"}
    encoded = echo(
        requests.get(
            f"{small_stack.url}/private/{quote(text)}?q={quote(text)}", headers=good, timeout=10
        )
    )["event"]
    raw = raw_exchange(
        small_stack,
        f"GET /private/{text}?q={text} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer good\r\n"
        "Connection: close\r\n\r\n".encode(),
    )
    assert raw.startswith(b"HTTP/1.1 200"), raw
    import json

    event = json.loads(raw.split(b"\r\n\r\n", 1)[1])["event"]
    assert event["pathParameters"] == encoded["pathParameters"] == {"thing": text}
    assert event["queryStringParameters"] == encoded["queryStringParameters"] == {"q": text}
    assert event["rawQueryString"] == encoded["rawQueryString"]


def test_a_catalog_search_in_raw_utf8_answers_as_the_percent_encoded_one(stack):
    """The probe's own request: the search a citizen typed, through the real stack."""
    import json
    from urllib.parse import quote

    expected = requests.get(f"{stack.url}/catalog/items?q={quote('执照')}", timeout=20)
    assert expected.status_code == 200, expected.text
    raw = raw_exchange(
        stack, "GET /catalog/items?q=执照 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
    )
    assert raw.startswith(b"HTTP/1.1 200"), raw
    assert json.loads(raw.split(b"\r\n\r\n", 1)[1]) == expected.json()


@pytest.mark.parametrize(
    "framing",
    [
        b"Content-Length: abc\r\n",
        b"Content-Length: -1\r\n",
        b"Content-Length: 2\r\nContent-Length: 40\r\n",
        b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n",
    ],
    ids=["not-a-number", "negative", "two-lengths", "length-and-chunked"],
)
def test_untrustworthy_framing_is_refused_once_and_the_connection_closed(small_stack, framing):
    answer = raw_exchange(
        small_stack, b"POST /public HTTP/1.1\r\nHost: x\r\n" + framing + b"\r\nab"
    )
    assert answer.startswith(b"HTTP/1.1 400"), answer
    assert answer.count(b"HTTP/1.1 ") == 1


@pytest.mark.parametrize("path", ["/docs", "/console"])
def test_head_of_a_page_sends_its_headers_and_no_body_on_the_wire(path):
    """Seen: HEAD /docs wrote the page after the headers, bytes a kept-alive client then
    read as the start of its next answer."""
    from govbus_dev.local.gateway import Gateway

    root = Path(__file__).resolve().parents[2]
    gateway = Gateway([], console_dir=root / "console")
    url = gateway.serve("127.0.0.1", 0)
    try:
        with requests.Session() as session:
            got = session.get(f"{url}{path}", timeout=10)
            head = session.head(f"{url}{path}", timeout=10)
            again = session.get(f"{url}{path}", timeout=10)  # the same connection
        assert head.status_code == got.status_code == 200
        assert head.headers["content-length"] == str(len(got.content))
        for name in ("content-type", "content-security-policy"):
            assert head.headers[name] == got.headers[name]
        assert head.content == b""
        assert again.status_code == 200 and again.content == got.content
    finally:
        gateway.stop()


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        # RFC 9112 5.1: whitespace between a field name and its colon is refused (400),
        # or a proxy that reads it as Transfer-Encoding frames the body otherwise
        (
            b"POST /public HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
            400,
        ),
        # a transfer coding other than chunked alone: not implemented (501)
        (
            b"POST /public HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n"
            b"0\r\n\r\n",
            501,
        ),
        (
            b"POST /public HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            501,
        ),
        (b"POST /public HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\nab", 501),
        # a chunk size is hex digits: -1 read the connection to its end
        (b"POST /public HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\nab", 400),
        # HTTP/0.9 has no status line to answer with: refused with one
        (b"GET /public\r\n", 400),
    ],
    ids=[
        "space-before-colon",
        "chunked-identity",
        "two-te",
        "xchunked",
        "negative-chunk",
        "http09",
    ],
)
def test_framing_rfc_9112_refuses_is_refused_at_once_with_a_status_line(
    small_stack, request_bytes, status
):
    """Seen from outside: each of these was read as something else (a second request,
    chunked, a body to the connection's end) or answered with no status line."""
    import time

    started = time.monotonic()
    answer = raw_exchange(small_stack, request_bytes)
    assert answer.startswith(b"HTTP/1.1 %d" % status), answer
    assert answer.count(b"HTTP/1.1 ") == 1, answer
    assert time.monotonic() - started < 5, "answered at once, not at the client's timeout"


def test_a_bad_request_line_is_refused_without_echoing_an_identifier(small_stack):
    """Seen: a CR inside the request line got a 400 whose message echoed the raw line,
    a citizen's ID number in it."""
    answer = raw_exchange(small_stack, b"GET /subjects/350102199003071234\rX HTTP/1.1\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400"), answer
    assert b"350102199003071234" not in answer, answer
