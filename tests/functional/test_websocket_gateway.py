"""The local stack's WebSocket API (`devstack.websocket`), driven by real clients: `websockets`' client on
the WebSocket side and boto3's `apigatewaymanagementapi` on the @connections side of one port, with a
fake socket function; and how the template's WebSocket API is read and served (`devstack.provision`,
`devstack.stack`)."""

from __future__ import annotations

import contextlib
import copy
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerResponseWebSocket,
)
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayWebSocketConnectEventModel,
    APIGatewayWebSocketDisconnectEventModel,
    APIGatewayWebSocketMessageEventModel,
)
from botocore.config import Config
from moto import mock_aws
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from devstack.lambda_runtime import InvocationError, ProcessPool
from devstack.provision import Deployment, FunctionSpec, WebSocketApiSpec, provision
from devstack.stack import LocalConfig, LocalStack, StartupError
from devstack.template import Stack, load_template
from devstack.websocket import WebSocketGateway, WebSocketServer

TIMEOUT = 5.0  # every wait of these tests: a receive, a handshake, an event (a loaded CI machine)


GATEWAY_ID = re.compile(r"[A-Za-z0-9_-]{15}=")  # API Gateway's connection ids: BFHPhfCWIAMCKlQ=


def allow(event: dict[str, Any]) -> dict[str, Any]:
    """The authorizer's answer for a good token, as the socket function builds it with Powertools."""
    policy = APIGatewayAuthorizerResponseWebSocket.from_route_arn(
        event["methodArn"], "ana", context={"recipient_id": "ana", "expires": 1234, "fresh": True}
    )
    policy.allow_all_routes()
    return policy.asdict()


def fail(message: str) -> Any:
    """What ProcessPool raises when the handler raises Exception(message)."""
    raise InvocationError(f"notifier-SocketFunction raised Exception: {message}", error_message=message)


class SocketFunction:
    """A fake socket function: the authorizer, $connect, $disconnect and the message routes, each event
    recorded in order."""

    def __init__(
        self,
        authorize: Callable[[dict[str, Any]], Any] = allow,
        connect_status: int = 200,
        on_message: Callable[[dict[str, Any]], Any] | None = None,
    ) -> None:
        self.authorize = authorize
        self.connect_status = connect_status
        self.on_message = on_message
        self.events: list[dict[str, Any]] = []
        self._recorded = threading.Condition()

    def invoke(self, event: dict[str, Any]) -> Any:
        with self._recorded:
            self.events.append(event)
            self._recorded.notify_all()
        if event.get("type") == "REQUEST":
            return self.authorize(event)
        route_key = event["requestContext"]["routeKey"]
        if route_key == "$connect":
            return {"statusCode": self.connect_status}
        if route_key != "$disconnect" and self.on_message is not None:
            return self.on_message(event)
        return {"statusCode": 200, "body": "never sent back"}

    def routes(self) -> list[str]:
        return [e["requestContext"]["routeKey"] if "type" not in e else "authorizer" for e in self.events]

    def wait_for(self, route_key: str, count: int = 1) -> dict[str, Any]:
        """The `count`th event of that route, once it came."""
        with self._recorded:
            found = self._recorded.wait_for(lambda: self.routes().count(route_key) >= count, TIMEOUT)
            assert found, f"no {route_key} event #{count} within {TIMEOUT} s; events: {self.routes()}"
            routed = [
                e for e in self.events if "type" not in e and e["requestContext"]["routeKey"] == route_key
            ]
            return routed[count - 1]


def api(*, authorizer: str | None = "Fn", routes: tuple[str, ...] = ("$connect", "$disconnect", "$default")):
    return WebSocketApiSpec(
        logical_id="InboxSocketApi",
        api_id="localws",
        stage="prod",
        route_selection_expression="$request.body.action",
        routes=dict.fromkeys(routes, "Fn"),
        authorizer=authorizer,
        identity_sources=("route.request.querystring.token",) if authorizer else (),
    )


ServerFactory = Callable[..., WebSocketServer]


@pytest.fixture
def serve() -> Iterator[ServerFactory]:
    """Starts a WebSocket server on a free port for `function`; every one is stopped after the test."""
    servers: list[WebSocketServer] = []

    def start(function: Any, spec: WebSocketApiSpec | None = None, **limits: float) -> WebSocketServer:
        gateway = WebSocketGateway(
            spec or api(), {"Fn": function}, region="us-east-1", account_id="123456789012", **limits
        )
        server = WebSocketServer(gateway, "127.0.0.1", 0)
        servers.append(server)
        server.start()
        return server

    yield start
    for server in servers:
        server.stop()


def management(server: WebSocketServer, url: str | None = None) -> Any:
    """boto3's @connections client, as the functions make it (an explicit endpoint_url)."""
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=url or server.management_url(),
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}, connect_timeout=TIMEOUT, read_timeout=TIMEOUT),
    )


def open_socket(server: WebSocketServer, query: str = "?token=good") -> ClientConnection:
    return connect(server.url() + query, open_timeout=TIMEOUT, close_timeout=TIMEOUT)


def refused(server: WebSocketServer, query: str) -> int:
    with pytest.raises(InvalidStatus) as caught, open_socket(server, query):
        pass
    return int(caught.value.response.status_code)


def connection_id(function: SocketFunction) -> str:
    return str(function.wait_for("$connect")["requestContext"]["connectionId"])


def closed_with(client: ClientConnection) -> tuple[int | None, str | None]:
    """The close frame the server sent, once the connection closed."""
    with pytest.raises(ConnectionClosed) as caught:
        client.recv(timeout=TIMEOUT)
    sent = caught.value.rcvd
    return (sent.code, sent.reason) if sent else (None, None)


# ------------------------------------------------------------------------------ the handshake


@pytest.mark.parametrize("query", ["", "?token=", "?other=1"])
def test_a_handshake_without_its_token_is_401_and_invokes_nothing(serve, query):
    function = SocketFunction()

    assert refused(serve(function), query) == 401

    assert function.events == []


def test_an_authorizer_raising_unauthorized_is_401_and_connect_is_not_invoked(serve):
    function = SocketFunction(authorize=lambda event: fail("Unauthorized"))

    assert refused(serve(function), "?token=bad") == 401

    assert function.routes() == ["authorizer"]


def test_unauthorized_from_a_real_handler_is_401_too(serve, tmp_path: Path):
    (tmp_path / "app.py").write_text('def handler(event, context):\n    raise Exception("Unauthorized")\n')
    spec = FunctionSpec("Fn", str(tmp_path), "app.handler", timeout=3, memory_size=128, environment={})
    pool = ProcessPool(
        spec, stack_name="unit", region="us-east-1", account_id="1", max_environments=1, import_path=[]
    )
    try:
        assert refused(serve(pool), "?token=bad") == 401
    finally:
        pool.stop()


def deny(event: dict[str, Any]) -> dict[str, Any]:
    policy = APIGatewayAuthorizerResponseWebSocket.from_route_arn(event["methodArn"], "ana")
    policy.deny_all_routes()
    return policy.asdict()


def allow_another_api(event: dict[str, Any]) -> dict[str, Any]:
    other = event["methodArn"].replace("localws", "otherapi")
    return {
        "principalId": "ana",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": other}],
        },
    }


def allow_then_deny(event: dict[str, Any]) -> dict[str, Any]:
    answer = allow(event)
    answer["policyDocument"]["Statement"].append(
        {
            "Action": "execute-api:*",
            "Effect": "Deny",
            "Resource": "arn:aws:execute-api:*:*:localws/prod/$con*",
        }
    )
    return answer


@pytest.mark.parametrize("authorize", [deny, allow_another_api, allow_then_deny])
def test_a_policy_that_does_not_allow_the_method_arn_is_403(serve, authorize):
    function = SocketFunction(authorize=authorize)

    assert refused(serve(function), "?token=good") == 403

    assert function.routes() == ["authorizer"]


@pytest.mark.parametrize(
    "authorize",
    [
        lambda event: fail("database down"),
        lambda event: {"principalId": "ana"},  # no policy
        lambda event: {**allow(event), "context": {"nested": {"no": "objects"}}},
        lambda event: {**allow(event), "principalId": None},
    ],
)
def test_an_authorizer_that_fails_or_answers_a_malformed_policy_is_500(serve, authorize):
    assert refused(serve(SocketFunction(authorize=authorize)), "?token=good") == 500


def test_an_allowed_handshake_reaches_connect_with_the_authorizers_principal_and_context(serve):
    function = SocketFunction()
    server = serve(function)

    with open_socket(server, "?token=good&x=1&x=2"):
        connect_event = function.wait_for("$connect")

    authorizer_event, _ = function.events[:2]
    assert authorizer_event["type"] == "REQUEST"
    assert authorizer_event["methodArn"] == "arn:aws:execute-api:us-east-1:123456789012:localws/prod/$connect"
    assert authorizer_event["queryStringParameters"] == {"token": "good", "x": "2"}
    assert authorizer_event["multiValueQueryStringParameters"]["x"] == ["1", "2"]
    assert authorizer_event["headers"]["Host"] == f"127.0.0.1:{server.port}"
    assert authorizer_event["requestContext"]["eventType"] == "CONNECT"
    parsed = APIGatewayWebSocketConnectEventModel.model_validate(connect_event)
    context = connect_event["requestContext"]
    assert context["authorizer"] == {
        "principalId": "ana",
        "recipient_id": "ana",
        "expires": "1234",
        "fresh": "true",
    }
    assert parsed.request_context.connection_id == authorizer_event["requestContext"]["connectionId"]
    assert GATEWAY_ID.fullmatch(parsed.request_context.connection_id)
    assert (context["apiId"], context["stage"], context["domainName"]) == (
        "localws",
        "prod",
        f"127.0.0.1:{server.port}",
    )
    assert connect_event["queryStringParameters"]["token"] == "good"


@pytest.mark.parametrize("status", [401, 403])
def test_connect_answering_an_error_status_refuses_the_handshake_with_it(serve, status):
    function = SocketFunction(connect_status=status)

    assert refused(serve(function), "?token=good") == status

    assert function.routes() == ["authorizer", "$connect"]  # no $disconnect: it never connected


def test_an_api_without_an_authorizer_connects_without_a_token(serve):
    function = SocketFunction()

    with open_socket(serve(function, api(authorizer=None)), ""):
        assert "authorizer" not in function.wait_for("$connect")["requestContext"]


def test_a_handshake_to_another_stage_is_403(serve):
    server = serve(SocketFunction())

    with (
        pytest.raises(InvalidStatus) as caught,
        connect(server.url().replace("/prod", "/dev") + "?token=good"),
    ):
        pass

    assert caught.value.response.status_code == 403


# ------------------------------------------------------------------------------ messages


def test_each_frame_is_a_message_event_routed_by_its_action_in_order(serve):
    function = SocketFunction()
    server = serve(function, api(routes=("$connect", "$disconnect", "$default", "mark")))
    frames = [
        '{"action":"ping"}',
        '{"action":"mark","id":"n1"}',
        "not json",
        '{"action":"$connect"}',
        '{"action":7}',
    ]

    with open_socket(server) as client:
        for frame in frames:
            client.send(frame)
        function.wait_for("$default", count=4)
        with pytest.raises(TimeoutError):  # the functions' answers are not sent back
            client.recv(timeout=0.2)

    messages = [e for e in function.events if e["requestContext"].get("eventType") == "MESSAGE"]
    assert [(e["requestContext"]["routeKey"], e["body"]) for e in messages] == [
        ("$default", frames[0]),
        ("mark", frames[1]),
        ("$default", frames[2]),
        ("$default", frames[3]),
        ("$default", frames[4]),
    ]
    parsed = APIGatewayWebSocketMessageEventModel.model_validate(messages[0])
    assert parsed.request_context.connection_id == connection_id(function)
    assert parsed.request_context.event_type == "MESSAGE"
    assert parsed.is_base64_encoded is False
    assert len({e["requestContext"]["messageId"] for e in messages}) == len(frames)


def test_a_frame_nested_deeper_than_the_parser_goes_is_routed_to_default_and_the_connection_stays(serve):
    """10 KB of brackets: Python's JSON parser raises RecursionError on it, which ended the connection
    with 1001 and a traceback in the log before (found by a hostile client)."""
    function = SocketFunction()
    server = serve(function, api(routes=("$connect", "$disconnect", "$default", "mark")))
    deep = "[" * 5000 + "]" * 5000

    with open_socket(server) as client:
        client.send(deep)
        client.send('{"action":"mark"}')
        function.wait_for("mark")
        with pytest.raises(TimeoutError):  # open, and nothing sent back
            client.recv(timeout=0.2)

    messages = [e for e in function.events if e["requestContext"].get("eventType") == "MESSAGE"]
    assert [(e["requestContext"]["routeKey"], e["body"]) for e in messages] == [
        ("$default", deep),
        ("mark", '{"action":"mark"}'),
    ]


def test_a_failing_route_sends_api_gateways_error_frame(serve):
    function = SocketFunction(on_message=lambda event: fail("boom"))

    with open_socket(serve(function)) as client:
        client.send('{"action":"ping"}')
        answer = json.loads(client.recv(timeout=TIMEOUT))

    assert answer["message"] == "Internal server error"
    assert answer["connectionId"] == connection_id(function)


def test_a_frame_no_route_takes_is_forbidden(serve):
    function = SocketFunction()

    with open_socket(serve(function, api(routes=("$connect",)))) as client:
        client.send('{"action":"ping"}')
        assert json.loads(client.recv(timeout=TIMEOUT))["message"] == "Forbidden"


def test_connections_are_served_side_by_side(serve):
    release = threading.Event()

    def slow_for_the_first(event: dict[str, Any]) -> None:
        if event["body"] == "wait":
            release.wait(TIMEOUT)

    function = SocketFunction(on_message=slow_for_the_first)
    server = serve(function)

    with open_socket(server) as first, open_socket(server) as second:
        first.send("wait")
        second.send("go")  # handled while the first connection's message still runs
        assert function.wait_for("$default", count=2)["body"] in ("go", "wait")
        release.set()


# ------------------------------------------------------------------------------ @connections


def test_post_to_connection_sends_one_text_frame_even_with_a_global_endpoint(serve, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # the local stack's moto, elsewhere
    function = SocketFunction()
    server = serve(function)

    with open_socket(server) as client:
        target = connection_id(function)
        management(server).post_to_connection(ConnectionId=target, Data=b'{"type":"counts","unread":2}')
        management(server).post_to_connection(ConnectionId=target, Data=b"\xff\xfe")

        assert client.recv(timeout=TIMEOUT) == '{"type":"counts","unread":2}'  # str: a text frame
        assert client.recv(timeout=TIMEOUT) == b"\xff\xfe"  # not UTF-8: a binary frame


def test_get_connection_says_when_it_connected_was_active_and_who_it_is(serve):
    function = SocketFunction()
    server = serve(function)

    with open_socket(server) as client:
        target = connection_id(function)
        client.send("hello")
        function.wait_for("$default")
        answer = management(server).get_connection(ConnectionId=target)

    assert answer["ConnectedAt"] <= answer["LastActiveAt"]
    assert answer["Identity"]["SourceIp"] == "127.0.0.1"
    assert answer["Identity"]["UserAgent"].startswith("Python/")


def test_delete_connection_closes_it_then_disconnect_is_invoked(serve):
    function = SocketFunction()
    server = serve(function)

    with open_socket(server) as client:
        target = connection_id(function)
        answer = management(server).delete_connection(ConnectionId=target)
        assert answer["ResponseMetadata"]["HTTPStatusCode"] == 204
        assert closed_with(client) == (1000, "")

    disconnect = function.wait_for("$disconnect")
    assert disconnect["requestContext"]["connectionId"] == target
    assert disconnect["requestContext"]["disconnectStatusCode"] == 1000


def test_a_client_closing_is_disconnected_and_then_gone(serve):
    function = SocketFunction()
    server = serve(function)

    with open_socket(server) as client:
        target = connection_id(function)
        client.close(4000, "bye")
    disconnect = function.wait_for("$disconnect")

    parsed = APIGatewayWebSocketDisconnectEventModel.model_validate(disconnect)
    assert (parsed.request_context.disconnect_status_code, parsed.request_context.disconnect_reason) == (
        4000,
        "bye",
    )
    assert parsed.request_context.connection_id == target
    assert disconnect["headers"]["Host"] == f"127.0.0.1:{server.port}"
    client_api = management(server)
    for call in (client_api.post_to_connection, client_api.get_connection, client_api.delete_connection):
        arguments = {
            "ConnectionId": target,
            **({"Data": b"x"} if call == client_api.post_to_connection else {}),
        }
        with pytest.raises(client_api.exceptions.GoneException):
            call(**arguments)


def test_a_close_frame_without_a_code_is_1005_as_api_gateway_reports_it(serve):
    function = SocketFunction()

    with open_socket(serve(function)) as client:
        connection_id(function)
        with client.send_context():  # how close() sends its frame, here one with no code
            client.protocol.send_close()

    context = function.wait_for("$disconnect")["requestContext"]
    assert (context["disconnectStatusCode"], context["disconnectReason"]) == (
        1005,
        "Client-side close frame status not set",
    )


def test_an_unknown_connection_is_gone_with_the_error_type_boto3_needs(serve):
    server = serve(SocketFunction())

    with pytest.raises(management(server).exceptions.GoneException) as caught:
        management(server).post_to_connection(ConnectionId="BFHPhfCWIAMCKlQ=", Data=b"{}")

    headers = caught.value.response["ResponseMetadata"]["HTTPHeaders"]
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410
    assert headers["x-amzn-errortype"] == "GoneException"


def test_a_post_over_128_kb_is_413(serve):
    function = SocketFunction()
    server = serve(function)

    with open_socket(server) as client:
        target = connection_id(function)
        client_api = management(server)
        with pytest.raises(client_api.exceptions.PayloadTooLargeException):
            client_api.post_to_connection(ConnectionId=target, Data=b"x" * (128 * 1024 + 1))
        client_api.post_to_connection(ConnectionId=target, Data=b"y" * (128 * 1024))  # the largest
        assert client.recv(timeout=TIMEOUT) == "y" * (128 * 1024)


def test_ids_are_url_encoded_in_paths_with_or_without_the_stage(serve):
    function = SocketFunction()
    server = serve(function)

    with open_socket(server) as client:
        target = connection_id(function)
        assert target.endswith("=")
        without_stage = management(server, url=f"http://127.0.0.1:{server.port}")
        without_stage.post_to_connection(ConnectionId=target, Data=b"one")
        assert client.recv(timeout=TIMEOUT) == "one"
        with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as raw:
            encoded = target.replace("=", "%3D")
            raw.sendall(
                f"POST /prod/@connections/{encoded} HTTP/1.1\r\nContent-Length: 3\r\n\r\ntwo".encode()
            )
            assert raw.recv(1024).startswith(b"HTTP/1.1 200")
        assert client.recv(timeout=TIMEOUT) == "two"
        with pytest.raises(management(server).exceptions.ForbiddenException):
            management(server, url=f"http://127.0.0.1:{server.port}/dev").get_connection(ConnectionId=target)


# ------------------------------------------------------------------------------ limits


def test_a_frame_over_32_kb_closes_the_connection_with_1009(serve):
    function = SocketFunction()

    with open_socket(serve(function)) as client:
        client.send("x" * (32 * 1024 + 1))
        assert closed_with(client)[0] == 1009

    assert function.wait_for("$disconnect")["requestContext"]["disconnectStatusCode"] == 1009
    assert "$default" not in function.routes()


def test_a_message_over_128_kb_in_small_frames_closes_the_connection_with_1009(serve):
    function = SocketFunction()

    with open_socket(serve(function)) as client:
        # One message of five 32 KB frames; the server may close before the client has sent the last.
        with contextlib.suppress(ConnectionClosed):
            client.send(iter(["x" * (32 * 1024)] * 5))
        assert closed_with(client)[0] == 1009


def test_a_binary_frame_closes_the_connection_with_1003(serve):
    function = SocketFunction()

    with open_socket(serve(function)) as client:
        client.send(b"\x00\x01")
        assert closed_with(client)[0] == 1003

    assert "$default" not in function.routes()


def test_an_idle_connection_is_closed_and_disconnected(serve):
    function = SocketFunction()

    with open_socket(serve(function, idle_timeout=0.3)) as client:
        started = time.monotonic()
        assert closed_with(client) == (1001, "Going away")

    assert 0.25 < time.monotonic() - started < TIMEOUT
    context = function.wait_for("$disconnect")["requestContext"]
    assert (context["disconnectStatusCode"], context["disconnectReason"]) == (1001, "Going away")


def keep_talking(client: ClientConnection, seconds: float) -> None:
    """A message every 0.1 s for `seconds`, which keeps the connection from idling."""
    ends = time.monotonic() + seconds
    while time.monotonic() < ends:
        client.send("still here")
        time.sleep(0.1)


def test_a_connection_is_closed_at_its_longest_however_active(serve):
    function = SocketFunction()

    with open_socket(serve(function, idle_timeout=0.3, max_connection_time=0.6)) as client:
        started = time.monotonic()
        with pytest.raises(ConnectionClosed):
            keep_talking(client, TIMEOUT)

    assert 0.5 < time.monotonic() - started < TIMEOUT
    assert function.wait_for("$disconnect")["requestContext"]["disconnectStatusCode"] == 1001


# ------------------------------------------------------------------------------ the server


def test_stop_closes_every_connection_and_the_port(serve):
    function = SocketFunction()
    server = serve(function)
    port = server.port

    with open_socket(server) as client:
        connection_id(function)
        server.stop()
        assert closed_with(client)[0] == 1001

    function.wait_for("$disconnect")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT).close()
    assert [t.name for t in threading.enumerate() if t.name.startswith("websocket")] == []


def test_a_stop_between_the_handshake_and_its_connection_being_served_still_closes_it_with_1001(
    serve, monkeypatch
):
    """The client has its 101 and $connect has run, but the connection's thread has not taken it up
    yet (here: held back 0.3 s) when the stack stops: it is closed as every open one is, not cut."""
    taken_up = WebSocketGateway.serve

    def late(gateway: WebSocketGateway, connection: Any) -> None:
        time.sleep(0.3)
        taken_up(gateway, connection)

    monkeypatch.setattr(WebSocketGateway, "serve", late)
    function = SocketFunction()
    server = serve(function)

    with open_socket(server) as client:
        connection_id(function)
        server.stop()
        assert closed_with(client) == (1001, "Going away")

    assert function.wait_for("$disconnect")["requestContext"]["disconnectStatusCode"] == 1001


def test_a_server_never_started_stops_at_once():
    server = WebSocketServer(None, "127.0.0.1", 0)

    server.stop()

    assert server.listener.fileno() == -1


# ------------------------------------------------------------------------------ the template


@pytest.fixture(scope="module")
def deployed() -> tuple[Deployment, list[tuple[str, str]]]:
    """template.yaml provisioned once (in moto, in-process) with the local API key: the deployment,
    and the (usage plan name, key value) pairs then in the emulator."""
    with mock_aws():
        deployment = provision(Stack(load_template()), api_key="local-development-key")
        return deployment, usage_plan_keys()


def usage_plan_keys() -> list[tuple[str, str]]:
    apigateway = boto3.client("apigateway", region_name="us-east-1")
    return [
        (plan["name"], apigateway.get_api_key(apiKey=key["id"], includeValue=True)["value"])
        for plan in apigateway.get_usage_plans()["items"]
        for key in apigateway.get_usage_plan_keys(usagePlanId=plan["id"])["items"]
    ]


def test_the_templates_websocket_api_is_the_socket_functions(deployed):
    deployment, _ = deployed

    spec = deployment.websocket_apis["InboxSocketApi"]

    assert set(spec.routes) == {"$connect", "$disconnect", "$default"}
    assert set(spec.routes.values()) == {"SocketFunction"}
    assert spec.authorizer == "SocketFunction"
    assert spec.identity_sources == ("route.request.querystring.token",)
    assert (spec.api_id, spec.stage) == ("localws", "prod")
    assert spec.route_selection_expression == "$request.body.action"
    assert deployment.functions["PublishFunction"].environment["WEBSOCKET_MANAGEMENT_URL"] == (
        "https://localws.execute-api.us-east-1.amazonaws.com/prod"
    )


def test_the_templates_usage_plan_holds_the_local_key(deployed):
    _, keys = deployed

    assert keys == [("notifier-usage-plan", "local-development-key")]


def test_a_usage_plan_already_in_the_emulator_is_kept_with_its_key():
    api = {
        "Type": "AWS::Serverless::Api",
        "Properties": {"Auth": {"UsagePlan": {"CreateUsagePlan": "PER_API", "UsagePlanName": "unit-plan"}}},
    }
    with mock_aws():
        for _ in range(2):  # an emulator kept running
            provision(Stack({"Parameters": {}, "Resources": {"Api": api}}, name="unit"), api_key="k" * 24)

        assert usage_plan_keys() == [("unit-plan", "k" * 24)]


def test_every_function_is_told_the_local_management_url(deployed, monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI", raising=False)  # restored after
    deployment = copy.deepcopy(deployed[0])
    local = LocalStack(LocalConfig(api_port=0, ws_port=0))
    local._websocket = WebSocketServer(None, "127.0.0.1", 0)
    try:
        local._websocket_api(deployment)

        url = f"http://127.0.0.1:{local._websocket.port}/prod"
        assert {spec.environment["WEBSOCKET_MANAGEMENT_URL"] for spec in deployment.functions.values()} == {
            url
        }
        assert local.websocket_url == f"ws://127.0.0.1:{local._websocket.port}/prod"
    finally:
        local._websocket.stop()


def test_a_websocket_port_in_use_is_refused_naming_the_option():
    with socket.create_server(("127.0.0.1", 0)) as taken:
        local = LocalStack(LocalConfig(api_port=0, ws_port=taken.getsockname()[1]))
        try:
            with pytest.raises(StartupError, match="--ws-port"):
                local.start()
        finally:
            local.stop()
