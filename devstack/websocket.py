"""The WebSocket API on loopback, as API Gateway serves a WebSocket API with Lambda proxy integrations.

One TCP port serves both sides of the API, as one execute-api host does: the WebSocket endpoint
(`ws://127.0.0.1:<port>/<stage>`) and the `@connections` management endpoint the functions post to
(`http://127.0.0.1:<port>/<stage>/@connections/<url-encoded id>`). The `websockets` server cannot read
a request with a body (its HTTP parser refuses one), so each accepted socket's request line is peeked
at: a GET that is not to `@connections` is a WebSocket handshake, anything else goes to the management
endpoint's HTTP handler. Like API Gateway (developer guide: "WebSocket APIs", the Lambda REQUEST
authorizer, route selection, `@connections`, and the quotas table):

- **Opening handshake:** the authorizer's identity sources (`route.request.querystring.token`) are
  checked before anything runs: a missing or empty one is a 401 and no function is invoked. The
  authorizer function then gets a REQUEST event whose `methodArn` is
  `arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/$connect`. A function error whose message is
  `Unauthorized` is a 401; a policy with an explicit Deny of `methodArn`, or no Allow of it (`*` and
  `?` wildcards as IAM matches them), a 403; any other error or a malformed answer (no principalId,
  a context value that is not a string, number or boolean, over 8 KB) a 500. On Allow, `$connect` gets
  the CONNECT event with `requestContext.authorizer` = `{principalId, **context}`, the context's values
  stringified as API Gateway passes them (`true`, `12`); a non-2xx `statusCode` refuses the handshake
  with that status, an error with 500. Until `$connect` returns, the connection does not exist:
  `@connections` answers 410 for it, as "the upgrade request is pending" on AWS.
- **Connection ids** are shaped as API Gateway's (`BFHPhfCWIAMCKlQ=`: URL-safe base64 ending in `=`),
  so clients must URL-encode them in `@connections` paths, as on AWS.
- **Messages:** the route selection expression (`$request.body.action`) picks the route whose key is
  that string field of a JSON body; anything else goes to `$default` (with no `$default`, the client is
  sent `{"message": "Forbidden", ...}`). The route's function gets the MESSAGE event. Its answer is not
  sent back (no route responses: "API Gateway will not pass the backend response through to the route
  response, unless you set up a route response"); a function error sends the client
  `{"message": "Internal server error", "connectionId": ..., "requestId": ...}`. A connection's
  messages are handled in order, one at a time; connections run side by side. A binary frame closes
  the connection with 1003 ("API Gateway WebSocket APIs don't currently support binary frames in
  incoming message payloads").
- **Limits:** a frame over 32 KB or a message over 128 KB closes the connection with 1009; a connection
  idle for 10 minutes (no data frame either way) or open for 2 hours is closed with 1001. Both times
  are arguments of `WebSocketGateway`, so tests can make them short. Keepalive pings are not sent
  (API Gateway sends none); the client's pings are answered.
- **Disconnect:** however the connection ends (the client, `DELETE`, a limit, the server stopping),
  `$disconnect` gets the DISCONNECT event with `disconnectStatusCode` and `disconnectReason` (1005
  "Client-side close frame status not set" when the client's close frame has no code, 1006 when the
  TCP connection dropped without one). Best effort, as on AWS: it runs on the connection's own thread
  after the socket is released, and its failure is logged.
- **`@connections`** (`/{stage}/@connections/{id}`, or `/@connections/{id}` for an endpoint URL without
  the stage): `POST` sends the body as one frame (text when it is UTF-8, else binary) and answers 200;
  `GET` answers `connectedAt`, `lastActiveAt` (ISO 8601) and `identity`; `DELETE` closes the connection
  and answers 204. An id that is unknown or closed answers 410 with `x-amzn-ErrorType: GoneException`
  (what makes boto3 raise `GoneException`), a body over 128 KB 413 `PayloadTooLargeException`, another
  stage 403 `ForbiddenException`. SigV4 signatures are not checked.

Functions are invoked through the stack's `ProcessPool`s, as the REST API invokes them, but without
the REST API's one-request-at-a-time lock (that guards Powertools' REST resolver, which WebSocket
handlers do not use). The authorizer's context reaches `$connect` only: whether API Gateway repeats it
on later routes is not documented, so a function should keep what it needs with the connection.
"""

from __future__ import annotations

import contextlib
import http
import json
import logging
import re
import select
import socket
import socketserver
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.http11 import Request, Response
from websockets.protocol import OPEN
from websockets.sync.server import Server, ServerConnection, serve

from .lambda_events import (
    WebSocketConnection,
    epoch_ms,
    gateway_id,
    websocket_authorizer_event,
    websocket_event,
)
from .lambda_runtime import InvocationError
from .provision import WebSocketApiSpec

MAX_FRAME_BYTES = 32 * 1024
MAX_MESSAGE_BYTES = 128 * 1024  # also the largest @connections POST
IDLE_TIMEOUT_SECONDS = 10 * 60.0
MAX_CONNECTION_SECONDS = 2 * 60 * 60.0
AUTHORIZER_RESULT_MAX_BYTES = 8 * 1024
DEFAULT_PORT = 3001

_HANDSHAKE_SECONDS = 10.0  # for the request line to arrive, then for the whole handshake request
_CLOSE_SECONDS = 2.0  # how long a close waits for the client's close frame
_STOP_SECONDS = 5.0  # how long stop() waits for the connections' threads ($disconnect included)
_HTTP_IDLE_SECONDS = 60.0  # a keep-alive @connections client's idle socket is closed after this
_MAX_DRAINED_BYTES = 10 * 1024 * 1024  # a larger refused body closes the connection unread
_PEEK_BYTES = 8192  # API Gateway's URLs are at most 4096 characters


class Function(Protocol):
    """What the gateway invokes: `devstack.lambda_runtime.ProcessPool`, or a test's fake."""

    def invoke(self, event: dict[str, Any]) -> Any: ...


@dataclass
class _Client:
    """One open connection: what its events carry, and its socket."""

    info: WebSocketConnection
    socket: ServerConnection
    last_active: float = field(default_factory=time.time)  # epoch seconds, a data frame either way
    opened: float = field(default_factory=time.monotonic)

    def touch(self) -> None:
        self.last_active = time.time()


class _SocketConnection(ServerConnection):
    """websockets' connection, carrying the gateway's client from the handshake to its handler."""

    client: _Client | None = None


@dataclass(frozen=True)
class Answer:
    """An answer of the @connections endpoint."""

    status: int
    body: bytes = b""
    error_type: str | None = None  # x-amzn-ErrorType


def _error(status: int, error_type: str, message: str) -> Answer:
    return Answer(status, json.dumps({"message": message}).encode(), error_type)


GONE = _error(410, "GoneException", "Gone")


class _RefusedError(Exception):
    """The opening handshake is refused with this HTTP status."""

    def __init__(self, status: int, message: str, log: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.log = log


class WebSocketGateway:
    """What API Gateway does for one WebSocket API: the handshake's authorization and `$connect`,
    routing messages, `$disconnect`, the limits, and the @connections commands. `WebSocketServer`
    gives it the connections of its port."""

    def __init__(
        self,
        api: WebSocketApiSpec,
        functions: Mapping[str, Function],
        *,
        region: str,
        account_id: str,
        log: Callable[[str], None] = lambda message: None,
        idle_timeout: float = IDLE_TIMEOUT_SECONDS,
        max_connection_time: float = MAX_CONNECTION_SECONDS,
        max_frame_bytes: int = MAX_FRAME_BYTES,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
    ) -> None:
        missing = {*api.routes.values(), api.authorizer} - {None, *functions}
        if missing:
            raise ValueError(f"{api.logical_id}: no function {sorted(str(m) for m in missing)} to invoke")
        self.api = api
        self.functions = functions
        self.region = region
        self.account_id = account_id
        self.log = log
        self.idle_timeout = idle_timeout
        self.max_connection_time = max_connection_time
        self.max_frame_bytes = max_frame_bytes
        self.max_message_bytes = max_message_bytes
        self._selection = api.route_selection_expression.removeprefix("$request.body.").split(".")
        self._clients: dict[str, _Client] = {}
        self._accepted: set[socket.socket] = set()
        """The sockets of handshakes accepted (the client has, or is getting, its 101) that `serve` has not
        taken up yet: `close_all` waits for them, so a stop closes them with 1001 too."""
        self._closing = False
        self._lock = threading.Lock()
        self._taken_up = threading.Condition(self._lock)

    @property
    def stage(self) -> str:
        return self.api.stage

    # ------------------------------------------------------------------ the opening handshake

    def handshake(self, connection: ServerConnection, request: Request) -> Response | None:
        """websockets' `process_request`: None accepts the handshake, a Response refuses it."""
        url = urlsplit(request.path)
        try:
            if url.path.rstrip("/") != f"/{self.stage}":
                raise _RefusedError(
                    403, "Forbidden", f"{url.path}: no such stage (the stage is /{self.stage})"
                )
            info = WebSocketConnection(
                connection_id=gateway_id(),
                api_id=self.api.api_id,
                stage=self.stage,
                domain_name=request.headers.get("Host") or _address(connection.local_address),
                source_ip=str(connection.remote_address[0]),
                connected_at=epoch_ms(),
                headers=tuple(request.headers.raw_items()),
                query=tuple(parse_qsl(url.query, keep_blank_values=True)),
            )
            authorizer = self._authorize(info, request.headers) if self.api.authorizer else None
            self._connect(info, authorizer)
        except _RefusedError as refused:
            self.log(f"WebSocket $connect {url.path}: {refused.status}: {refused.log or refused.message}")
            return _refusal(connection, refused.status, refused.message)
        except Exception:  # a fault of the local stack itself: a 500, never a dropped handshake
            self.log(f"WebSocket $connect {url.path}: 500:\n{traceback.format_exc()}")
            return _refusal(connection, 500, "Internal server error")
        if isinstance(connection, _SocketConnection):
            connection.client = _Client(info, connection)
            with self._lock:
                self._accepted.add(connection.socket)
        return None

    def _authorize(self, info: WebSocketConnection, headers: Headers) -> dict[str, str]:
        """The authorizer's principal and context, as `requestContext.authorizer` carries them."""
        query = dict(info.query)
        for source in self.api.identity_sources:
            kind, name = source.removeprefix("route.request.").split(".", 1)
            value = query.get(name) if kind == "querystring" else headers.get(name)
            if not value:  # checked before the authorizer runs: missing, or empty
                raise _RefusedError(401, "Unauthorized", f"no {name} ({source})")
        method_arn = info.method_arn(self.region, self.account_id)
        event = websocket_authorizer_event(info, region=self.region, account_id=self.account_id)
        try:
            result = self.functions[str(self.api.authorizer)].invoke(event)
        except InvocationError as exc:
            if _function_message(exc) == "Unauthorized":
                raise _RefusedError(401, "Unauthorized", "the authorizer raised Unauthorized") from None
            raise _RefusedError(500, "Internal server error", f"the authorizer failed: {exc}") from None
        return _authorizer_context(result, method_arn)

    def _connect(self, info: WebSocketConnection, authorizer: dict[str, str] | None) -> None:
        function = self.api.routes.get("$connect")
        if function is None:
            return
        event = websocket_event(info, "$connect", authorizer=authorizer)
        try:
            result = self.functions[function].invoke(event)
        except InvocationError as exc:
            raise _RefusedError(500, "Internal server error", f"$connect failed: {exc}") from None
        status = result.get("statusCode") if isinstance(result, dict) else None
        if not isinstance(status, int):
            raise _RefusedError(500, "Internal server error", f"$connect answered {result!r:.200}")
        if not 200 <= status < 300:
            raise _RefusedError(status, _phrase(status), "refused by $connect")

    # ------------------------------------------------------------------ an open connection

    def serve(self, connection: ServerConnection) -> None:
        """websockets' handler, on the connection's own thread: its messages, in order, until it
        closes; then `$disconnect`."""
        client = connection.client if isinstance(connection, _SocketConnection) else None
        if client is None:  # never accepted by handshake()
            return
        connection_id = client.info.connection_id
        with self._lock:
            closing = self._closing
            if not closing:
                self._clients[connection_id] = client
        if closing:  # accepted as the stack began to stop: closed as every open connection is
            connection.close(CloseCode.GOING_AWAY, "Going away")
            self.forget(connection.socket)
            self._disconnect(client)
            return
        self.forget(connection.socket)
        try:
            self._receive(client)
        finally:
            with self._lock:
                self._clients.pop(connection_id, None)
            connection.close(CloseCode.GOING_AWAY, "Going away")  # a no-op once closed
            self._disconnect(client)

    def _receive(self, client: _Client) -> None:
        connection = client.socket
        while True:
            now = time.monotonic()
            idle_ends = now + self.idle_timeout - (time.time() - client.last_active)
            ends = min(idle_ends, client.opened + self.max_connection_time)
            try:
                message = connection.recv(timeout=max(0.0, ends - now))
            except TimeoutError:
                if time.monotonic() < client.opened + self.max_connection_time and (
                    time.time() - client.last_active < self.idle_timeout
                ):
                    continue  # a post to the connection kept it active
                connection.close(CloseCode.GOING_AWAY, "Going away")
                return
            except ConnectionClosed:
                return
            client.touch()
            if isinstance(message, bytes):
                connection.close(CloseCode.UNSUPPORTED_DATA, "Binary frames are not supported")
                return
            self._route(client, message)

    def _route(self, client: _Client, body: str) -> None:
        route_key = self._route_key(body)
        function = self.api.routes.get(route_key)
        event = websocket_event(client.info, route_key, body=body)
        request_id = event["requestContext"]["requestId"]
        if function is None:
            self._tell(client, "Forbidden", request_id)
            return
        try:
            self.functions[function].invoke(event)
        except InvocationError as exc:
            self.log(f"WebSocket {event['requestContext']['routeKey']} {client.info.connection_id}: {exc}")
            self._tell(client, "Internal server error", request_id)
        except Exception:  # a fault of the local stack itself
            self.log(f"WebSocket message {client.info.connection_id}:\n{traceback.format_exc()}")
            self._tell(client, "Internal server error", request_id)

    def _route_key(self, body: str) -> str:
        """The route selection expression's value: the field of a JSON body, when it is a string that
        names a route of this API (not $connect or $disconnect); else `$default`, as API Gateway routes a
        body it cannot read (one nested deeper than Python's parser goes among them)."""
        try:
            value: Any = json.loads(body)
        except (ValueError, RecursionError):
            return "$default"
        for name in self._selection:
            value = value.get(name) if isinstance(value, dict) else None
        if isinstance(value, str) and value in self.api.routes and value not in ("$connect", "$disconnect"):
            return value
        return "$default"

    def _tell(self, client: _Client, message: str, request_id: str) -> None:
        """API Gateway's own error frame to the client."""
        payload = {"message": message, "connectionId": client.info.connection_id, "requestId": request_id}
        with contextlib.suppress(ConnectionClosed):
            client.socket.send(json.dumps(payload))

    def _disconnect(self, client: _Client) -> None:
        function = self.api.routes.get("$disconnect")
        if function is None:
            return
        code, reason = _close_status(client.socket)
        event = websocket_event(
            client.info, "$disconnect", disconnect_status_code=code, disconnect_reason=reason
        )
        try:
            self.functions[function].invoke(event)
        except Exception as exc:  # best effort, as API Gateway's $disconnect
            self.log(f"WebSocket $disconnect {client.info.connection_id}: {exc}")

    # ------------------------------------------------------------------ @connections

    def post(self, connection_id: str, data: bytes) -> Answer:
        """POST @connections/{id}: `data` as one frame."""
        if len(data) > self.max_message_bytes:
            return _error(413, "PayloadTooLargeException", "Request Too Long")
        client = self._open(connection_id)
        if client is None:
            return GONE
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        try:
            client.socket.send(text if text is not None else data)
        except ConnectionClosed:
            return GONE
        client.touch()
        return Answer(200)

    def get(self, connection_id: str) -> Answer:
        """GET @connections/{id}: when it connected, when it was last active, and who it is."""
        client = self._open(connection_id)
        if client is None:
            return GONE
        identity = {"sourceIp": client.info.source_ip}
        if client.info.user_agent is not None:
            identity["userAgent"] = client.info.user_agent
        body = {
            "connectedAt": _iso(client.info.connected_at / 1000),
            "lastActiveAt": _iso(client.last_active),
            "identity": identity,
        }
        return Answer(200, json.dumps(body).encode())

    def delete(self, connection_id: str) -> Answer:
        """DELETE @connections/{id}: close it (its thread then invokes $disconnect)."""
        client = self._open(connection_id)
        if client is None:
            return GONE
        client.socket.close(CloseCode.NORMAL_CLOSURE, "")
        return Answer(204)

    def _open(self, connection_id: str) -> _Client | None:
        with self._lock:
            client = self._clients.get(connection_id)
        if client is None or client.socket.protocol.state is not OPEN:
            return None
        return client

    @property
    def connection_ids(self) -> list[str]:
        with self._lock:
            return list(self._clients)

    def forget(self, sock: socket.socket) -> None:
        """`sock`'s accepted handshake is taken up, closed, or never completed (its thread ended)."""
        with self._lock:
            self._accepted.discard(sock)
            self._taken_up.notify_all()

    def close_all(self) -> None:
        """Close every open connection (1001, as a server going away), each then $disconnect-ed; and
        every connection whose handshake was accepted and not yet served, which closes itself so."""
        with self._lock:
            self._closing = True
            clients = list(self._clients.values())
        threads = [
            threading.Thread(target=c.socket.close, args=(CloseCode.GOING_AWAY, "Going away"), daemon=True)
            for c in clients
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(_CLOSE_SECONDS + 1)
        with self._lock:
            self._taken_up.wait_for(lambda: not self._accepted, timeout=_CLOSE_SECONDS + 1)


def _authorizer_context(result: Any, method_arn: str) -> dict[str, str]:
    """`{principalId, **context}` when the authorizer's policy allows `method_arn`; refused otherwise."""
    if not isinstance(result, dict) or not isinstance(result.get("policyDocument"), dict):
        raise _RefusedError(
            500, "Internal server error", f"the authorizer answered no policy: {result!r:.200}"
        )
    if len(json.dumps(result, default=str).encode()) > AUTHORIZER_RESULT_MAX_BYTES:
        raise _RefusedError(500, "Internal server error", "the authorizer's answer is over 8 KB")
    effect = _policy_effect(result["policyDocument"], method_arn)
    if effect != "Allow":
        verb = "denies" if effect else "does not allow"
        raise _RefusedError(403, "Forbidden", f"the authorizer's policy {verb} {method_arn}")
    principal = result.get("principalId")
    if principal in (None, ""):
        raise _RefusedError(500, "Internal server error", "the authorizer's answer has no principalId")
    context = result.get("context") or {}
    if not isinstance(context, dict):
        raise _RefusedError(500, "Internal server error", "the authorizer's context is not a map")
    passed = {"principalId": _stringified(principal)}
    for name, value in context.items():
        if isinstance(value, (dict, list)) or value is None:
            raise _RefusedError(
                500,
                "Internal server error",
                f"the authorizer's context.{name} is {type(value).__name__}, not a string, number or boolean",
            )
        passed[str(name)] = _stringified(value)
    return passed


def _policy_effect(document: dict[str, Any], method_arn: str) -> str | None:
    """ "Deny" when a statement denies `execute-api:Invoke` on `method_arn`, else "Allow" when one allows
    it, else None (an implicit deny), as IAM evaluates a policy."""
    statements = document.get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    effects: set[str] = set()
    for statement in statements:
        if not isinstance(statement, dict):
            continue
        actions, resources = _listed(statement.get("Action")), _listed(statement.get("Resource"))
        if any(_matches(a, "execute-api:Invoke", case=False) for a in actions) and any(
            _matches(r, method_arn, case=True) for r in resources
        ):
            effects.add(str(statement.get("Effect")))
    if "Deny" in effects:
        return "Deny"
    return "Allow" if "Allow" in effects else None


def _listed(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value] if isinstance(value, list) else []


def _matches(pattern: str, value: str, *, case: bool) -> bool:
    """IAM's wildcards: `*` any run of characters, `?` any one character."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, 0 if case else re.IGNORECASE) is not None


def _stringified(value: Any) -> str:
    """A context value as API Gateway passes it to the integration: `true`, `12`, `1.5`, text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _function_message(exc: InvocationError) -> str:
    """The error message Lambda reports for the handler's exception (`errorMessage`)."""
    return exc.error_message if exc.error_message is not None else str(exc)


def _close_status(connection: ServerConnection) -> tuple[int, str]:
    """The close code and reason of a $disconnect event: the client's close frame when it closed
    first, else the one the gateway sent; 1006 when the TCP connection ended without one."""
    protocol = connection.protocol
    received, sent = protocol.close_rcvd, protocol.close_sent
    frame = received if received is not None and (sent is None or protocol.close_rcvd_then_sent) else sent
    if frame is None:
        return CloseCode.ABNORMAL_CLOSURE, "Connection closed abnormally"
    if frame.code == CloseCode.NO_STATUS_RCVD and frame is received:
        return frame.code, "Client-side close frame status not set"
    return frame.code, frame.reason


def _refusal(connection: ServerConnection, status: int, message: str) -> Response:
    response = connection.respond(status, json.dumps({"message": message}))
    response.headers["Content-Type"] = "application/json"
    return response


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:  # a status code HTTP does not name
        return "Refused"


def _iso(epoch_seconds: float) -> str:
    moment = datetime.fromtimestamp(epoch_seconds, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _address(address: Any) -> str:
    return f"{address[0]}:{address[1]}" if isinstance(address, tuple) else str(address)


# ---------------------------------------------------------------------------------- the HTTP side

_CONNECTIONS_PATH = re.compile(r"(?:/(?P<stage>[^/]+))?/@connections/(?P<id>[^/]+)")


class _ManagementHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 for the @connections endpoint (boto3 keeps its connections alive)."""

    gateway: WebSocketGateway
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = _HTTP_IDLE_SECONDS

    def do_POST(self) -> None:
        self._serve("POST")

    def do_GET(self) -> None:
        self._serve("GET")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        body, refused = self._body()
        found = _CONNECTIONS_PATH.fullmatch(urlsplit(self.path).path)
        if refused is not None:  # a body it cannot read: answered, then the connection is closed
            answer = refused
        elif found is None or found.group("stage") not in (None, self.gateway.stage):
            answer = _error(403, "ForbiddenException", f"Forbidden: the stage is /{self.gateway.stage}")
        else:
            connection_id = unquote(found.group("id"))
            try:
                if method == "POST":
                    answer = self.gateway.post(connection_id, body)
                elif method == "GET":
                    answer = self.gateway.get(connection_id)
                else:
                    answer = self.gateway.delete(connection_id)
            except Exception:  # a fault of the local stack itself: answered, never a dropped request
                self.gateway.log(f"{method} @connections: 500:\n{traceback.format_exc()}")
                answer = _error(500, "InternalServerErrorException", "Internal server error")
        self._reply(answer, close=refused is not None)

    def _body(self) -> tuple[bytes, Answer | None]:
        """The body (framed by Content-Length, as boto3 sends it), or the answer refusing a body it
        cannot read, after which the connection must close."""
        length = (self.headers.get("Content-Length") or "0").strip()
        if not length.isdigit() or "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return b"", _error(400, "BadRequestException", "Bad Request: Content-Length")
        if int(length) > _MAX_DRAINED_BYTES:
            return b"", _error(413, "PayloadTooLargeException", "Request Too Long")
        return self.rfile.read(int(length)) if int(length) else b"", None

    def _reply(self, answer: Answer, *, close: bool) -> None:
        self.send_response(answer.status)
        self.send_header("x-amzn-RequestId", gateway_id())
        if answer.error_type:
            self.send_header("x-amzn-ErrorType", answer.error_type)
        if answer.body:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer.body)))
        if close:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(answer.body)

    def log_message(self, format: str, *args: Any) -> None:
        return


# ---------------------------------------------------------------------------------- the port


class WebSocketServer:
    """The WebSocket API's port: bound when made (port 0: any free one), served once a gateway is
    attached and `start` is called; `stop` closes every connection and the listening socket.

    It is bound before the gateway exists because the stack needs its port to tell the functions the
    @connections URL before it builds their pools. Until `start`, a client waits in the listen queue."""

    def __init__(
        self, gateway: WebSocketGateway | None, host: str = "127.0.0.1", port: int = DEFAULT_PORT
    ) -> None:
        self.listener = socket.create_server((host, port))
        self.host = host
        self._handler: type[_ManagementHandler] = type("ManagementHandler", (_ManagementHandler,), {})
        self._http = socketserver.BaseServer((host, self.port), self._handler)
        self._websockets: Server | None = None
        self._gateway: WebSocketGateway | None = None
        self._stop = threading.Event()
        self._wake, self._waker = socket.socketpair()  # wakes the accept loop's select() to stop
        self._sockets: set[socket.socket] = set()
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()
        self._accept = threading.Thread(target=self._accept_loop, name="websocket-accept", daemon=True)
        if gateway is not None:
            self.attach(gateway)

    @property
    def port(self) -> int:
        return int(self.listener.getsockname()[1])

    def url(self, host: str | None = None) -> str:
        """ws://host:port/stage, as clients call it."""
        return f"ws://{host or self.host}:{self.port}/{self._attached().stage}"

    def management_url(self, host: str | None = None) -> str:
        """The @connections endpoint's URL, as boto3's `endpoint_url` takes it."""
        return f"http://{host or self.host}:{self.port}/{self._attached().stage}"

    def attach(self, gateway: WebSocketGateway) -> None:
        self._gateway = gateway
        self._handler.gateway = gateway
        # Only the per-socket handler of this websockets server is used (`_dispatch` hands it the
        # sockets); its own socket never listens.
        self._websockets = serve(
            gateway.serve,
            sock=socket.socket(),
            process_request=gateway.handshake,
            server_header=None,
            compression=None,  # API Gateway negotiates no permessage-deflate
            open_timeout=_HANDSHAKE_SECONDS,
            ping_interval=None,
            close_timeout=_CLOSE_SECONDS,
            max_size=(gateway.max_message_bytes, gateway.max_frame_bytes),
            logger=logging.getLogger("devstack.websocket"),
            create_connection=_SocketConnection,
        )

    def _attached(self) -> WebSocketGateway:
        if self._gateway is None:
            raise RuntimeError("the WebSocket server has no gateway to serve: attach() one first")
        return self._gateway

    def start(self) -> None:
        self._attached()
        self._accept.start()

    def stop(self) -> None:
        """Stop accepting, close every connection (each invokes $disconnect on its own thread, waited
        for a few seconds at most), then every other socket, and the listening socket."""
        self._stop.set()
        with contextlib.suppress(OSError):
            self._waker.send(b"x")
        if self._accept.is_alive():
            self._accept.join()
        self.listener.close()
        self._wake.close()
        self._waker.close()
        if self._gateway is not None:
            self._gateway.close_all()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:  # @connections clients, and handshakes not yet done
            _shut(sock)
        deadline = time.monotonic() + _STOP_SECONDS
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if self._websockets is not None:  # its unused socket, and the pair it wakes serve_forever with
            for unused in ("socket", "shutdown_watcher", "shutdown_notifier"):
                if hasattr(self._websockets, unused):
                    getattr(self._websockets, unused).close()

    # ------------------------------------------------------------------ connections

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.listener, self._wake], [], [])
            if self.listener not in ready:
                continue
            try:
                sock, address = self.listener.accept()
            except OSError:
                continue
            thread = threading.Thread(
                target=self._dispatch, args=(sock, address), name="websocket-connection", daemon=True
            )
            with self._lock:
                self._sockets.add(sock)
                self._threads.add(thread)
            thread.start()

    def _dispatch(self, sock: socket.socket, address: Any) -> None:
        try:
            line = _request_line(sock)
            if line is None:
                return
            method, _, rest = line.partition(b" ")
            target = rest.split(b" ", 1)[0].split(b"?", 1)[0]
            if method == b"GET" and b"/@connections/" not in target and self._websockets is not None:
                self._websockets.handler(sock, address)  # the handshake, then the connection
            else:
                self._http.finish_request(sock, address)
        except OSError:  # the client went away
            pass
        except Exception:  # a fault of the local stack itself: this connection only
            if self._gateway is not None:
                self._gateway.log(f"WebSocket port: {address}:\n{traceback.format_exc()}")
        finally:
            _shut(sock)
            if self._gateway is not None:
                self._gateway.forget(sock)
            with self._lock:
                self._sockets.discard(sock)
                self._threads.discard(threading.current_thread())


def _request_line(sock: socket.socket) -> bytes | None:
    """The first line of what the client sent, peeked at (left for the server that reads it)."""
    sock.settimeout(_HANDSHAKE_SECONDS)
    deadline = time.monotonic() + _HANDSHAKE_SECONDS
    while True:
        head = sock.recv(_PEEK_BYTES, socket.MSG_PEEK)
        if not head:
            return None
        if b"\n" in head or len(head) >= _PEEK_BYTES or time.monotonic() > deadline:
            sock.settimeout(None)
            return head.split(b"\n", 1)[0].rstrip(b"\r")
        time.sleep(0.005)  # the line is arriving in pieces


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
