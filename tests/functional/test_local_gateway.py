"""The local stack's API Gateway over HTTP on 127.0.0.1, spoken to as clients do, well or badly:
any method, malformed request lines, bad or oversized bodies, the template's gateway responses and
per-route keys. Each test serves on an ephemeral loopback port and stops its server."""

from __future__ import annotations

import http.client
import json
import socket
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from moto import mock_aws

from devstack.api import MAX_BODY_BYTES, ApiGateway, ApiServer
from devstack.provision import ApiRoute, gateway_responses, provision
from devstack.template import Stack, load_template
from tests.unit.devstack.test_local_api import (
    GATEWAY_RESPONSES,
    SETTINGS,
    RecordingFunction,
    docs_routes,
    gateway,
)

# ---------------------------------------------------------------------------------------------------
# Framing: methods, request lines and bodies.
# ---------------------------------------------------------------------------------------------------

ERROR_SHAPE = {"error", "message", "fields", "retryable"}


@contextmanager
def serving(api):
    server = ApiServer(api, "127.0.0.1", 0)
    server.start()
    try:
        yield server.port
    finally:
        server.stop()


@dataclass
class Received:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        assert self.headers["content-type"] == "application/json"
        return json.loads(self.body)


def exchange(port, data):
    """Send `data` as is, read the answer up to the server's close; a reset fails the test."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(data)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    assert status_line.startswith("HTTP/1.1 "), received[:200]
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    assert len(body) == int(headers["content-length"])
    return Received(int(status_line.split()[1]), headers, body)


def request(port, method, path, body=None, headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        answer = connection.getresponse()
        return Received(answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read())
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("path", "recipient_id"),
    [
        ("/recipients/ana%40example.com", "ana@example.com"),
        ("/recipients/team%2Fops", "team/ops"),
        ("/recipients/caf%C3%A9%20bar+1", "café bar+1"),
    ],
)
def test_path_parameters_arrive_url_decoded_and_the_path_as_sent(path, recipient_id):
    function = RecordingFunction()
    api = ApiGateway(
        [ApiRoute("Fn", "GET", "/recipients/{recipientId}")],
        {"Fn": function},
        **SETTINGS,
    )

    with serving(api) as port:
        answer = request(port, "GET", path, headers={"x-api-key": "k"})

    assert answer.status == 202
    [event] = function.events
    assert event["pathParameters"] == {"recipientId": recipient_id}
    assert (event["path"], event["resource"]) == (path, "/recipients/{recipientId}")
    assert event["requestContext"]["path"] == f"/prod{path}"


def test_an_unencoded_slash_is_two_segments_and_matches_no_single_parameter():
    function = RecordingFunction()
    api = ApiGateway([ApiRoute("Fn", "GET", "/recipients/{recipientId}")], {"Fn": function}, **SETTINGS)

    with serving(api) as port:
        answer = request(port, "GET", "/recipients/team/ops", headers={"x-api-key": "k"})

    assert (answer.status, answer.json()["message"]) == (403, "Missing Authentication Token")
    assert function.events == []


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "post", "FOO", "PROPFIND"])
def test_a_method_the_template_does_not_declare_is_403_in_the_error_shape_never_a_501(method):
    function = RecordingFunction()

    with serving(gateway(function)) as port:
        answer = exchange(
            port, f"{method} /event HTTP/1.1\r\nHost: x\r\nx-api-key: k\r\nConnection: close\r\n\r\n".encode()
        )

    assert answer.status == 403
    body = answer.json()
    assert set(body) == ERROR_SHAPE
    assert (body["error"], body["message"]) == (
        "missing_authentication_token",
        "Missing Authentication Token",
    )
    assert answer.headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"
    assert answer.headers["x-amzn-requestid"]
    assert function.events == []


@pytest.mark.parametrize(
    "line",
    [
        b"GET /event HTTP/abc",
        b"GET /event HTTP/2.0",
        b"GET /event",
        b"GET /event HTTP/1.1 extra",
        b"\x16\x03\x01",
    ],
)
def test_a_malformed_request_line_is_a_json_400_and_the_connection_is_closed(line):
    with serving(gateway(RecordingFunction())) as port:
        answer = exchange(port, line + b"\r\nHost: x\r\n\r\n")

    assert (answer.status, answer.headers["connection"]) == (400, "close")
    body = answer.json()
    assert set(body) == ERROR_SHAPE
    assert body["error"] == "bad_request"
    assert answer.headers["x-amzn-errortype"] == "BadRequestException"


@pytest.mark.parametrize(
    "framing",
    [
        ["Content-Length: abc"],
        ["Content-Length: -5"],
        ["Content-Length: +5"],
        ["Content-Length: 5", "Content-Length: 6"],
        ["Content-Length: 5, 6"],
        ["Content-Length: 5", "Transfer-Encoding: chunked"],
        ["Transfer-Encoding: gzip"],
    ],
)
def test_a_bad_body_framing_is_a_json_400_and_the_connection_closes_cleanly(framing):
    function = RecordingFunction()

    with serving(gateway(function)) as port:
        head = "\r\n".join(["POST /event HTTP/1.1", "Host: x", "x-api-key: k", *framing])
        answer = exchange(port, f"{head}\r\n\r\nhello".encode())
        after = request(port, "GET", "/_local/health")

    assert (answer.status, answer.headers["connection"]) == (400, "close")
    assert set(answer.json()) == ERROR_SHAPE
    assert answer.json()["error"] == "bad_request"
    assert function.events == []
    assert after.status == 200  # the server is unharmed


def test_twice_the_same_content_length_is_one_length():
    function = RecordingFunction()

    with serving(gateway(function)) as port:
        answer = exchange(
            port,
            b"POST /event HTTP/1.1\r\nx-api-key: k\r\nContent-Length: 5\r\nContent-Length: 5\r\n"
            b"Connection: close\r\n\r\nhello",
        )

    assert answer.status == 202
    assert function.events[0]["body"] == "hello"


def test_a_declared_body_over_the_limit_is_413_before_a_byte_of_it_is_read():
    function = RecordingFunction()

    with serving(gateway(function)) as port:
        # Expect: 100-continue: the client waits for the go-ahead, which must not come.
        answer = exchange(
            port,
            f"POST /event HTTP/1.1\r\nx-api-key: k\r\nContent-Length: {MAX_BODY_BYTES + 1}\r\n"
            "Expect: 100-continue\r\n\r\n".encode(),
        )

    assert (answer.status, answer.headers["connection"]) == (413, "close")
    assert answer.json()["error"] == "request_too_large"
    assert answer.json()["message"] == "Request Too Long"
    assert answer.headers["x-amzn-errortype"] == "RequestTooLargeException"
    assert function.events == []


def test_a_client_that_sends_an_oversized_body_anyway_reads_the_413_not_a_reset():
    with serving(gateway(RecordingFunction())) as port:
        answer = request(port, "POST", "/event", body=b"x" * (MAX_BODY_BYTES + 1), headers={"x-api-key": "k"})

    assert (answer.status, json.loads(answer.body)["message"]) == (413, "Request Too Long")


def test_a_body_at_the_limit_and_a_chunked_body_reach_the_function():
    function = RecordingFunction()

    with serving(gateway(function)) as port:
        at_limit = request(port, "POST", "/event", body=b"y" * MAX_BODY_BYTES, headers={"x-api-key": "k"})
        chunked = exchange(
            port,
            b"POST /event HTTP/1.1\r\nx-api-key: k\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n",
        )

    assert (at_limit.status, chunked.status) == (202, 202)
    assert len(function.events[0]["body"]) == MAX_BODY_BYTES
    assert function.events[1]["body"] == "hello world"


def test_a_connection_is_kept_alive_across_requests_and_gateway_answers():
    function = RecordingFunction()

    with serving(gateway(function)) as port:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        statuses = []
        for method, path in [
            ("POST", "/event"),
            ("TRACE", "/event"),
            ("GET", "/nowhere"),
            ("POST", "/event"),
        ]:
            connection.request(method, path, body=b"{}", headers={"x-api-key": "k"})
            answer = connection.getresponse()
            answer.read()
            statuses.append(answer.status)
        connection.close()

    assert statuses == [202, 403, 403, 202]
    assert len(function.events) == 2


# ---------------------------------------------------------------------------------------------------
# Gateway responses and per-route keys, from a template.
# ---------------------------------------------------------------------------------------------------


def test_the_templates_gateway_responses_give_status_body_and_headers_over_http():
    failing = RecordingFunction(fail=True)
    api = ApiGateway(
        [ApiRoute("Fn", "POST", "/event"), ApiRoute("Failing", "POST", "/fail")],
        {"Fn": RecordingFunction(), "Failing": failing},
        **SETTINGS,
        gateway_responses=GATEWAY_RESPONSES,
    )

    with serving(api) as port:
        unknown = request(port, "GET", "/nowhere")
        no_key = request(port, "POST", "/event", body=b"{}")
        bad_length = exchange(port, b"POST /event HTTP/1.1\r\nx-api-key: k\r\nContent-Length: x\r\n\r\n")
        too_large = exchange(
            port, f"POST /event HTTP/1.1\r\nContent-Length: {MAX_BODY_BYTES + 1}\r\n\r\n".encode()
        )
        failed = request(port, "POST", "/fail", body=b"{}", headers={"x-api-key": "k"})

    # Its own response: its status, its template, its headers (and not DEFAULT_4XX's).
    assert unknown.status == 404
    assert unknown.json() == {
        "error": "not_found",
        "message": "Missing Authentication Token",
        "fields": [],
        "retryable": False,
    }
    assert unknown.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "x-family" not in unknown.headers
    assert unknown.headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"
    # Not declared: its family's response, with API Gateway's status code for the type.
    for answer, status, message in [
        (no_key, 403, "Forbidden"),
        (bad_length, 400, "Bad Request: Content-Length"),
        (too_large, 413, "Request Too Long"),
    ]:
        assert (answer.status, answer.json()["error"], answer.json()["message"]) == (
            status,
            "client_error",
            message,
        )
        assert answer.headers["x-family"] == "4xx"
    assert no_key.headers["x-amzn-errortype"] == "ForbiddenException"
    assert failed.status == 502
    assert failed.json() == {
        "error": "server_error",
        "message": "Internal server error",
        "fields": [],
        "retryable": True,
    }
    assert failed.headers["x-amzn-errortype"] == "InternalServerErrorException"


def test_a_route_with_empty_security_answers_without_a_key_and_the_others_still_need_it():
    routes, responses = docs_routes("Disabled")
    function = RecordingFunction()
    api = ApiGateway(routes, {"Fn": function}, **SETTINGS, gateway_responses=responses)

    with serving(api) as port:
        docs = request(port, "GET", "/docs")
        event = request(port, "POST", "/event", body=b"{}")
        status = request(port, "GET", "/event/abc")
        removed = request(port, "GET", "/openapi.json")
        with_key = request(port, "POST", "/event", body=b"{}", headers={"x-api-key": "k"})

    assert docs.status == 202
    assert (event.status, event.json()["message"], event.headers["x-docs"]) == (401, "Forbidden", "Disabled")
    assert status.status == 401
    assert (removed.status, removed.json()["message"]) == (403, "Missing Authentication Token")
    assert with_key.status == 202
    assert [e["resource"] for e in function.events] == ["/docs", "/event"]


# ---------------------------------------------------------------------------------------------------
# template.yaml itself.
# ---------------------------------------------------------------------------------------------------

ORIGIN = "https://app.example.com"


def test_the_templates_publishing_routes_need_the_key_and_only_its_documents_and_inboxes_may_go_without(
    deployment,
):
    routes = {
        (r.method, r.path): r.api_key_required for r in deployment.functions["PublishFunction"].api_routes
    }

    assert routes[("POST", "/event")] is True
    assert routes[("POST", "/api/v1/notifications/publish")] is True
    assert routes[("GET", "/event/{event_id}")] is True
    assert routes[("POST", "/recipients/{recipientId}/inbox/token")] is True
    # An inbox takes the key or a recipient's token: the function checks either (notifier/inbox/access.py).
    assert {route for route, required in routes.items() if not required} <= {
        ("GET", "/docs"),
        ("GET", "/openapi.json"),
        ("GET", "/recipients/{recipientId}/inbox"),
        ("POST", "/recipients/{recipientId}/inbox/{notificationId}/{mark}"),
        ("POST", "/recipients/{recipientId}/inbox/mark-all/{mark}"),
    }


@pytest.mark.parametrize(("api_docs", "key_required"), [("Enabled", False), ("Disabled", True)])
def test_the_documents_need_no_key_exactly_while_api_docs_is_enabled(api_docs, key_required):
    with mock_aws():
        deployed = provision(Stack(load_template(), overrides={"ApiDocs": api_docs}))

    routes = {
        (r.method, r.path): r.api_key_required for r in deployed.functions["PublishFunction"].api_routes
    }
    assert routes[("GET", "/docs")] is key_required
    assert routes[("GET", "/openapi.json")] is key_required
    assert routes[("POST", "/event")] is True


def _expected(responses, response_type, message):
    """What the template's gateway response for `response_type` says, API Gateway's way."""
    template = responses[response_type]["responseTemplates"]["application/json"]
    return json.loads(template.replace("$context.error.messageString", json.dumps(message)))


def test_the_local_gateway_answers_with_the_templates_gateway_responses(deployment):
    routes = [route for spec in deployment.functions.values() for route in spec.api_routes]
    stack = Stack(load_template(), overrides={"CorsAllowOrigin": ORIGIN})
    responses = gateway_responses(stack, "NotificationApi")
    function = RecordingFunction()
    failing = RecordingFunction(fail=True)
    api = ApiGateway(
        routes,
        {name: failing if name == "PublishFunction" else function for name in deployment.functions},
        **SETTINGS,
        gateway_responses=responses,
    )

    with serving(api) as port:
        no_key = request(port, "POST", "/event", body=b"{}")
        unknown = request(port, "GET", "/nowhere", headers={"x-api-key": "k"})
        bad_length = exchange(port, b"POST /event HTTP/1.1\r\nContent-Length: abc\r\n\r\n")
        too_large = exchange(
            port, f"POST /event HTTP/1.1\r\nContent-Length: {MAX_BODY_BYTES + 1}\r\n\r\n".encode()
        )
        failed = request(port, "POST", "/event", body=b"{}", headers={"x-api-key": "k"})

    for answer, status, response_type, message in [
        (no_key, 403, "INVALID_API_KEY", "Forbidden"),
        (unknown, 403, "MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token"),
        (bad_length, 400, "DEFAULT_4XX", "Bad Request: Content-Length"),
        (too_large, 413, "REQUEST_TOO_LARGE", "Request Too Long"),
        (failed, 502, "DEFAULT_5XX", "Internal server error"),
    ]:
        assert answer.status == status
        assert set(answer.json()) == ERROR_SHAPE
        if response_type in responses:  # else API Gateway's default, in the error shape
            assert answer.json() == _expected(responses, response_type, message)
        # A browser can read the gateway's own answers too: they carry the CORS origin.
        assert answer.headers["access-control-allow-origin"] == ORIGIN
    assert len(failing.events) == 1
