"""The REST API on loopback, as API Gateway (REST, v1 proxy integration) serves it.

Each request to a route of the template becomes an API Gateway proxy event for the function that owns
the route; its answer becomes the HTTP answer. Like API Gateway:

- path parameters are URL-decoded (`/recipients/ana%40example.com` gives `ana@example.com`; an
  encoded `%2F` stays inside its segment), while the event's `path` is the path as sent;
- a path or method the template does not declare (any method: TRACE, `post`, ...) answers 403
  MISSING_AUTHENTICATION_TOKEN; a missing or wrong `x-api-key` answers 403 INVALID_API_KEY on a route
  that needs a key (every route but those whose method the DefinitionBody gives `security: []`);
- a body over 10 MiB answers 413 REQUEST_TOO_LARGE without being read; a malformed request line or
  Content-Length answers 400 (DEFAULT_4XX), and both close the connection;
- a function that fails (raises, times out, or answers something that is not a proxy response)
  answers 502 (DEFAULT_5XX).

These answers of the gateway's own are its "gateway responses": the template's
`x-amazon-apigateway-gateway-responses` (status code, body template, static headers), read by
`devstack.provision.gateway_responses`; a type it does not declare falls back to its family's
DEFAULT_4XX / DEFAULT_5XX, then to API Gateway's status code with a body in the API's error shape.

`GET /_local/outbox` (no key) lists what the sandbox provider delivered, and `GET /_local/inbox` is a
page that shows a recipient's in-app inbox live (`devstack/inbox_page.html`); any other `/_local/` path
answers 404. Requests are handled at once, each invocation in an execution environment of its own
(`devstack.lambda_runtime.ProcessPool`).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import re
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, parse_qsl, unquote, urlsplit, urlunsplit

from .lambda_events import epoch_ms, request_time, split_values
from .lambda_runtime import InvocationError, ProcessPool
from .provision import ApiRoute
from .template import TemplateError

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit

# What API Gateway's ANY method stands for.
_ANY_METHODS = frozenset({"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"})


class _Server(ThreadingHTTPServer):
    # socketserver listens with a backlog of 5: a burst of concurrent clients (make chaos, a load
    # test) had its connections reset, where API Gateway takes them all.
    request_queue_size = 128


@dataclass(frozen=True)
class GatewayError:
    """One of API Gateway's own answers: its gateway response type, and what API Gateway answers
    when the template does not customize it (`code` is the error shape's `error`)."""

    type: str
    status: int
    message: str
    error_type: str  # the x-amzn-ErrorType header
    code: str
    retryable: bool = False


MISSING_AUTHENTICATION_TOKEN = GatewayError(
    "MISSING_AUTHENTICATION_TOKEN",
    403,
    "Missing Authentication Token",
    "MissingAuthenticationTokenException",
    "missing_authentication_token",
)
INVALID_API_KEY = GatewayError("INVALID_API_KEY", 403, "Forbidden", "ForbiddenException", "invalid_api_key")
REQUEST_TOO_LARGE = GatewayError(
    "REQUEST_TOO_LARGE", 413, "Request Too Long", "RequestTooLargeException", "request_too_large"
)
BAD_REQUEST = GatewayError("DEFAULT_4XX", 400, "Bad Request", "BadRequestException", "bad_request")
# A function error or a malformed proxy answer: API Gateway's 502, governed by DEFAULT_5XX.
FUNCTION_FAILED = GatewayError(
    "DEFAULT_5XX", 502, "Internal server error", "InternalServerErrorException", "internal_error"
)

LOCAL_PREFIX = "/_local/"
"""The local stack's own pages: served by the gateway itself, never by a function of the template."""
INBOX_PAGE_PATH = "/_local/inbox"
"""The page that shows a recipient's in-app inbox live (`devstack/inbox_page.html`)."""
_INBOX_PAGE_FILE = Path(__file__).with_name("inbox_page.html")
_INBOX_PAGE_CONFIG = "{{config}}"  # where the page is given the API key and the WebSocket URL
_LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
_WEBSOCKET_ORIGIN = re.compile(r"wss?://[A-Za-z0-9.:\[\]-]+")

_TEMPLATE_VARIABLE = re.compile(r"\$(?:\{context\.error\.(\w+)\}|context\.error\.(\w+))")


@dataclass(frozen=True)
class _GatewayResponse:
    """A gateway response of the template, checked once."""

    status: int | None
    templates: dict[str, str]
    headers: list[tuple[str, str]]

    @staticmethod
    def parse(
        response_type: str, declared: Mapping[str, Any], log: Callable[[str], None]
    ) -> _GatewayResponse:
        where = f"gateway response {response_type}"
        if not isinstance(declared, Mapping):
            raise TemplateError(f"{where}: not a map")
        status: int | None = None
        if declared.get("statusCode") not in (None, ""):
            text = str(declared["statusCode"])
            if not re.fullmatch(r"[1-5][0-9][0-9]", text):
                raise TemplateError(f"{where}: statusCode {text!r} is not an HTTP status code")
            status = int(text)
        templates = {str(k): str(v) for k, v in (declared.get("responseTemplates") or {}).items()}
        headers: list[tuple[str, str]] = []
        for name, value in (declared.get("responseParameters") or {}).items():
            static = re.fullmatch(r"'(.*)'", str(value), re.DOTALL)
            if str(name).startswith("gatewayresponse.header.") and static:
                headers.append((str(name).removeprefix("gatewayresponse.header."), static.group(1)))
            else:
                log(f"{where}: {name}={value} is not a static header; the local stack ignores it")
        return _GatewayResponse(status, templates, headers)


@dataclass(frozen=True)
class _Route:
    route: ApiRoute
    pattern: re.Pattern[str]
    names: tuple[str, ...]
    rank: tuple[int, ...]  # per segment: 0 literal, 1 {name}, 2 {name+}; the lowest is the most specific

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """The URL-decoded path parameters when `method path` is this route. The path is matched as
        sent, before decoding, so an encoded / (%2F) stays inside its segment."""
        if self.route.method != method and not (self.route.method == "ANY" and method in _ANY_METHODS):
            return None
        found = self.pattern.fullmatch(path)
        return None if found is None else dict(zip(self.names, map(unquote, found.groups()), strict=True))


def _compile(route: ApiRoute) -> _Route:
    parts: list[str] = []
    names: list[str] = []
    rank: list[int] = []
    for segment in route.path.split("/"):
        parameter = re.fullmatch(r"\{([^{}+]+)(\+?)\}", segment)
        if parameter is None:
            parts.append(re.escape(segment))
            rank.append(0)
        else:
            names.append(parameter.group(1))
            greedy = parameter.group(2) == "+"
            parts.append("(.+)" if greedy else "([^/]+)")
            rank.append(2 if greedy else 1)
    return _Route(route, re.compile("/".join(parts)), tuple(names), tuple(rank))


@dataclass(frozen=True)
class _Request:
    method: str
    url: SplitResult
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str

    @property
    def api_key(self) -> str | None:
        return next((v for k, v in reversed(self.headers) if k.lower() == "x-api-key"), None)


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def _json(status: int, payload: Any, headers: list[tuple[str, str]] | None = None) -> Answer:
    return Answer(
        status, [("Content-Type", "application/json"), *(headers or [])], json.dumps(payload).encode()
    )


def _local_error(status: int, code: str, message: str) -> Answer:
    """An answer of a local page, in the API's error shape."""
    return _json(status, {"error": code, "message": message, "fields": [], "retryable": False})


@dataclass(frozen=True)
class InboxPage:
    """`devstack/inbox_page.html`, read once, and the SHA-256 of its inline script and style: its
    Content-Security-Policy allows those two and nothing else inline."""

    html: str
    script_sha256: str
    style_sha256: str

    @staticmethod
    def read(path: Path = _INBOX_PAGE_FILE) -> InboxPage:
        html = path.read_text(encoding="utf-8")
        # The one script that runs has no attributes; the config block is type="application/json" data.
        scripts = re.findall(r"<script>(.*?)</script>", html, re.DOTALL)
        styles = re.findall(r"<style>(.*?)</style>", html, re.DOTALL)
        if len(scripts) != 1 or len(styles) != 1 or html.count(_INBOX_PAGE_CONFIG) != 1:
            raise RuntimeError(f"{path}: needs one <script>, one <style> and one {_INBOX_PAGE_CONFIG}")
        return InboxPage(html, _csp_hash(scripts[0]), _csp_hash(styles[0]))

    def render(self, *, api_key: str | None, websocket_url: str | None) -> Answer:
        """The page, given the API key (it plays the app's backend too, which only a page served on
        loopback may) and the WebSocket URL, as JSON in its config block: `<`, `>` and `&` escaped,
        so no value can end the block."""
        config = json.dumps({"apiKey": api_key, "webSocketUrl": websocket_url})
        config = config.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        connect = ["'self'"]
        url = urlsplit(websocket_url or "")
        origin = f"{url.scheme}://{url.netloc}"
        if _WEBSOCKET_ORIGIN.fullmatch(origin):
            connect.append(origin)
        policy = (
            f"default-src 'none'; script-src '{self.script_sha256}'; style-src '{self.style_sha256}'; "
            f"connect-src {' '.join(connect)}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        )
        headers = [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Security-Policy", policy),
            ("Cache-Control", "no-store"),  # it holds the API key
            ("Referrer-Policy", "no-referrer"),
            ("X-Content-Type-Options", "nosniff"),
        ]
        return Answer(200, headers, self.html.replace(_INBOX_PAGE_CONFIG, config).encode())


def _csp_hash(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


@functools.cache
def inbox_page() -> InboxPage:
    return InboxPage.read()


def _is_loopback(host: str) -> bool:
    """Whether a Host header names this machine (127.0.0.1, localhost or [::1], any port)."""
    try:
        return urlsplit(f"//{host}").hostname in _LOOPBACK_NAMES
    except ValueError:  # "[::1" and the like
        return False


def websocket_url_of(management_url: str | None) -> str | None:
    """The WebSocket URL of a local stack's @connections endpoint: one port serves both
    (`devstack.websocket`), so `http://127.0.0.1:3001/prod` gives `ws://127.0.0.1:3001/prod`. None for
    anything but a loopback HTTP URL (the template's own value names AWS's execute-api host)."""
    url = urlsplit(management_url or "")
    if url.scheme not in ("http", "https") or url.hostname not in _LOOPBACK_NAMES:
        return None
    return urlunsplit(("ws" if url.scheme == "http" else "wss", url.netloc, url.path.rstrip("/"), "", ""))


class ApiGateway:
    """Matches requests to routes, checks the key, builds the proxy event and invokes the function."""

    def __init__(
        self,
        routes: list[ApiRoute],
        functions: Mapping[str, ProcessPool],
        *,
        stage: str,
        api_key: str | None,
        region: str,
        account_id: str,
        outbox: Callable[[int], list[dict[str, Any]]],
        log: Callable[[str], None] = lambda message: None,
        gateway_responses: Mapping[str, Mapping[str, Any]] | None = None,
        websocket_url: str | None = None,
    ) -> None:
        self.log = log
        self.routes = [_compile(r) for r in routes]
        self.functions = functions
        self.stage = stage
        self.api_key = api_key
        self.region = region
        self.account_id = account_id
        self.api_id = "local"
        self.outbox = outbox
        self.websocket_url = websocket_url
        """The WebSocket API's URL, for the inbox page; None: derived from WEBSOCKET_MANAGEMENT_URL,
        which the local stack gives its functions (see `websocket_url_of`)."""
        self.gateway_responses = {
            str(kind): _GatewayResponse.parse(str(kind), declared, log)
            for kind, declared in (gateway_responses or {}).items()
        }

    def handle(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes, source_ip: str
    ) -> Answer:
        request = _Request(method, urlsplit(target), headers, body, source_ip)
        request_id = str(uuid.uuid4())
        local = self._local_routes().get((method, request.url.path))
        if local is not None:
            return local(request)
        if request.url.path.startswith(LOCAL_PREFIX):
            return _local_error(404, "not_found", f"the local stack has no {method} {request.url.path}")
        matched = self._match(method, request.url.path)
        if matched is None:
            return self.failure(MISSING_AUTHENTICATION_TOKEN, request_id)
        route, path_parameters = matched
        if route.api_key_required and self.api_key is not None and request.api_key != self.api_key:
            return self.failure(INVALID_API_KEY, request_id)
        if len(body) > MAX_BODY_BYTES:
            return self.failure(REQUEST_TOO_LARGE, request_id)
        return self._invoke(route, self._event(request, route, path_parameters, request_id))

    def _invoke(self, route: ApiRoute, event: dict[str, Any]) -> Answer:
        request_id, method, path = event["requestContext"]["requestId"], event["httpMethod"], event["path"]
        try:
            result = self.functions[route.function].invoke(event)
        except InvocationError as exc:
            self.log(f"{method} {path}: 502: {exc}\n{_cause(exc)}")
            return self.failure(FUNCTION_FAILED, request_id)
        except Exception:  # a fault of the local stack itself: answered, never a dropped connection
            self.log(f"{method} {path}: 500:\n{traceback.format_exc()}")
            return self.failure(replace(FUNCTION_FAILED, status=500), request_id)
        answer = self._answer(result, request_id)
        if answer is None:
            self.log(f"{method} {path}: 502: not a Lambda proxy response: {result!r:.300}")
            return self.failure(FUNCTION_FAILED, request_id)
        return answer

    def failure(self, error: GatewayError, request_id: str | None = None) -> Answer:
        """The gateway response for `error`, as the template customizes it.

        As API Gateway: the type's own response, else its family's (DEFAULT_4XX or DEFAULT_5XX); the
        status code is the one that response sets, else API Gateway's; the body is its template
        (`application/json` first), else the API's error shape."""
        family = "DEFAULT_5XX" if error.status >= 500 else "DEFAULT_4XX"
        response = self.gateway_responses.get(error.type) or self.gateway_responses.get(family)
        if response is None:
            response = _GatewayResponse(None, {}, [])
        if response.templates:
            content_type = "application/json" if "application/json" in response.templates else None
            content_type = content_type or next(iter(response.templates))
            body = _render(response.templates[content_type], error).encode()
        else:
            content_type = "application/json"
            body = json.dumps(
                {"error": error.code, "message": error.message, "fields": [], "retryable": error.retryable}
            ).encode()
        headers = [
            ("Content-Type", content_type),
            ("x-amzn-RequestId", request_id or str(uuid.uuid4())),
            ("x-amzn-ErrorType", error.error_type),
        ]
        customized = {name.lower() for name, _ in response.headers}
        headers = [(n, v) for n, v in headers if n.lower() not in customized] + response.headers
        return Answer(response.status or error.status, headers, body)

    def _local_routes(self) -> dict[tuple[str, str], Callable[[_Request], Answer]]:
        return {
            ("GET", "/_local/outbox"): self._outbox,
            ("GET", "/_local/health"): lambda request: _json(200, {"status": "ok"}),
            ("GET", INBOX_PAGE_PATH): self._inbox_page,
        }

    def _outbox(self, request: _Request) -> Answer:
        """What the sandbox delivered, from the `start`th entry (`?start=N`; 0, all of it, by default),
        so that a client polling a long run reads only what is new."""
        start = dict(parse_qsl(request.url.query, keep_blank_values=True)).get("start", "0")
        if not start.isdigit():
            return _local_error(400, "bad_request", "start: a whole number of entries to skip")
        return _json(200, self.outbox(int(start)))

    def _inbox_page(self, request: _Request) -> Answer:
        """The inbox page, for a browser on this machine only: it holds the API key, so a request
        whose Host is not a loopback name (a DNS-rebound one, say) is refused."""
        host = next((v for k, v in reversed(request.headers) if k.lower() == "host"), "")
        if not _is_loopback(host):
            return _local_error(
                403, "forbidden", "the inbox page holds the API key: open it as 127.0.0.1 or localhost"
            )
        websocket_url = self.websocket_url or websocket_url_of(os.environ.get("WEBSOCKET_MANAGEMENT_URL"))
        return inbox_page().render(api_key=self.api_key, websocket_url=websocket_url)

    def _match(self, method: str, path: str) -> tuple[ApiRoute, dict[str, str]] | None:
        found = [(c, m) for c in self.routes if (m := c.match(method, path)) is not None]
        if not found:
            return None
        compiled, path_parameters = min(found, key=lambda item: item[0].rank)
        return compiled.route, path_parameters

    def _event(
        self, request: _Request, route: ApiRoute, path_parameters: dict[str, str], request_id: str
    ) -> dict[str, Any]:
        method, path, headers, body = request.method, request.url.path, request.headers, request.body
        single, multi = split_values(headers)
        query_single, query_multi = split_values(parse_qsl(request.url.query, keep_blank_values=True))
        try:
            text: str | None = body.decode("utf-8") if body else None
            encoded = False
        except UnicodeDecodeError:
            text, encoded = base64.b64encode(body).decode(), True
        now = epoch_ms()
        user_agent = next((v for k, v in headers if k.lower() == "user-agent"), None)
        return {
            "resource": route.path,
            "path": path,
            "httpMethod": method,
            "headers": single or None,
            "multiValueHeaders": multi or None,
            "queryStringParameters": query_single or None,
            "multiValueQueryStringParameters": query_multi or None,
            "pathParameters": path_parameters or None,
            "stageVariables": None,
            "requestContext": {
                "resourceId": "local",
                "resourcePath": route.path,
                "httpMethod": method,
                "extendedRequestId": request_id,
                "requestTime": request_time(now),
                "path": f"/{self.stage}{path}",
                "accountId": self.account_id,
                "protocol": "HTTP/1.1",
                "stage": self.stage,
                "domainPrefix": "localhost",
                "requestTimeEpoch": now,
                "requestId": request_id,
                "identity": {
                    "sourceIp": request.source_ip,
                    "userAgent": user_agent,
                    "apiKey": request.api_key,
                    "apiKeyId": "local-key" if request.api_key else None,
                    "accountId": None,
                    "caller": None,
                    "user": None,
                    "userArn": None,
                    "accessKey": None,
                    "cognitoIdentityId": None,
                    "cognitoIdentityPoolId": None,
                    "cognitoAuthenticationType": None,
                    "cognitoAuthenticationProvider": None,
                    "principalOrgId": None,
                },
                "domainName": "localhost",
                "apiId": self.api_id,
            },
            "body": text,
            "isBase64Encoded": encoded,
        }

    @staticmethod
    def _answer(result: Any, request_id: str) -> Answer | None:
        if not isinstance(result, dict) or not isinstance(result.get("statusCode"), int):
            return None
        headers: list[tuple[str, str]] = [("x-amzn-RequestId", request_id)]
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers += [(name, str(v)) for v in values]
        named = {n.lower() for n, _ in headers}
        headers += [(n, str(v)) for n, v in (result.get("headers") or {}).items() if n.lower() not in named]
        body = result.get("body") or ""
        raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
        return Answer(result["statusCode"], headers, raw)


def _render(template: str, error: GatewayError) -> str:
    """A gateway response template with API Gateway's $context.error variables filled in."""
    values = {
        "messageString": json.dumps(error.message),  # the message as a quoted JSON string
        "message": error.message,
        "responseType": error.type,
    }

    def value(found: re.Match[str]) -> str:
        name = found.group(1) or found.group(2)
        return values.get(name, found.group(0))

    return _TEMPLATE_VARIABLE.sub(value, template)


def _cause(exc: BaseException) -> str:
    cause = exc.__cause__
    if cause is None:
        return ""
    return "".join(traceback.format_exception(type(cause), cause, cause.__traceback__))


class _BadBodyError(Exception):
    """The request's body cannot be read as its headers frame it."""

    def __init__(self, error: GatewayError) -> None:
        super().__init__(error.message)
        self.error = error


_MAX_LINE = 65536  # the longest request line, header or chunk-size line read
_LINGER_SECONDS = 1.0  # how long a closing connection keeps reading what the client still sends


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 for the gateway: every method reaches it (API Gateway answers an unknown one with a
    gateway response, never 501), and every error is a gateway response in JSON, never an HTML page."""

    gateway: ApiGateway
    protocol_version = "HTTP/1.1"
    # The head and the body are two writes: with Nagle's algorithm on, the body waits for the client's
    # delayed ACK of the head (40 ms on Linux) on every keep-alive request.
    disable_nagle_algorithm = True
    _expect_continue = False

    def handle_one_request(self) -> None:
        try:
            self.raw_requestline = self.rfile.readline(_MAX_LINE + 1)
            if len(self.raw_requestline) > _MAX_LINE:
                self.requestline, self.request_version, self.command = "", "HTTP/1.1", ""
                self.send_error(HTTPStatus.REQUEST_URI_TOO_LONG)
                return
            if not self.raw_requestline:
                self.close_connection = True
                return
            if not self.parse_request():  # the error is answered
                return
            self._serve()
            self.wfile.flush()
        except OSError:  # the client went away (reset, broken pipe, timeout): nobody to answer
            self.close_connection = True

    def parse_request(self) -> bool:
        self._expect_continue = False
        if not super().parse_request():
            return False
        if self.request_version == "HTTP/0.9":  # "GET /path": API Gateway speaks HTTP/1.x only
            self.send_error(HTTPStatus.BAD_REQUEST, "Bad request syntax")
            return False
        return True

    def handle_expect_100(self) -> bool:
        # "100 Continue" only once the headers are known to be acceptable (see _serve): a body too
        # large is answered 413 before the client sends it.
        self._expect_continue = True
        return True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """A request the server cannot parse: a DEFAULT_4XX gateway response (400, or 414/431 for a
        line or headers too long), and the connection closed; never Python's HTML error page."""
        status = (
            code
            if code in (HTTPStatus.REQUEST_URI_TOO_LONG, HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE)
            else 400
        )
        if self.request_version not in ("HTTP/1.0", "HTTP/1.1"):
            self.request_version = "HTTP/1.1"  # BaseHTTPRequestHandler writes no status line for 0.9
        error = replace(BAD_REQUEST, status=status, message=HTTPStatus(status).phrase)
        self._reply(self.gateway.failure(error), close=True)

    def _serve(self) -> None:
        try:
            body = self._body()
        except _BadBodyError as bad:
            self._reply(self.gateway.failure(bad.error), close=True)
            return
        try:
            answer = self.gateway.handle(
                self.command, self.path, list(self.headers.items()), body, self.client_address[0]
            )
        except Exception:  # a fault of the local stack itself: answered, never a dropped connection
            self.gateway.log(f"{self.command} {self.path}: 500:\n{traceback.format_exc()}")
            self._reply(self.gateway.failure(replace(FUNCTION_FAILED, status=500)), close=True)
            return
        self._reply(answer, close=False)

    def _body(self) -> bytes:
        """The request's body, framed by Content-Length or chunked; never more than MAX_BODY_BYTES
        read (beyond that, 413 before reading)."""
        lengths = [v.strip() for h in self.headers.get_all("Content-Length") or [] for v in h.split(",")]
        encodings = [
            v.strip().lower() for h in self.headers.get_all("Transfer-Encoding") or [] for v in h.split(",")
        ]
        if encodings:
            if lengths or encodings != ["chunked"]:  # both framings at once: a smuggling attempt
                raise _BadBodyError(replace(BAD_REQUEST, message="Bad Request: Transfer-Encoding"))
            self._continue()
            return self._chunked_body()
        if not lengths:
            return b""
        if any(not re.fullmatch(r"[0-9]+", v) for v in lengths) or len(set(map(int, lengths))) > 1:
            raise _BadBodyError(replace(BAD_REQUEST, message="Bad Request: Content-Length"))
        length = int(lengths[0])
        if length > MAX_BODY_BYTES:
            raise _BadBodyError(REQUEST_TOO_LARGE)
        if length == 0:
            return b""
        self._continue()
        body = self.rfile.read(length)
        if len(body) < length:
            raise _BadBodyError(replace(BAD_REQUEST, message="Bad Request: the body ended early"))
        return body

    def _chunked_body(self) -> bytes:
        bad = _BadBodyError(replace(BAD_REQUEST, message="Bad Request: chunked body"))
        body = bytearray()
        while True:
            line = self.rfile.readline(_MAX_LINE + 1)
            size = line.split(b";", 1)[0].strip()
            if not line.endswith(b"\n") or not re.fullmatch(rb"[0-9A-Fa-f]{1,16}", size):
                raise bad
            if int(size, 16) == 0:
                break
            if len(body) + int(size, 16) > MAX_BODY_BYTES:
                raise _BadBodyError(REQUEST_TOO_LARGE)
            chunk = self.rfile.read(int(size, 16))
            if len(chunk) < int(size, 16) or self.rfile.readline(3) not in (b"\r\n", b"\n"):
                raise bad
            body += chunk
        for _ in range(100):  # trailer fields, ignored, up to the empty line
            line = self.rfile.readline(_MAX_LINE + 1)
            if line in (b"\r\n", b"\n"):
                return bytes(body)
            if not line.endswith(b"\n"):
                raise bad
        raise bad

    def _continue(self) -> None:
        if self._expect_continue:
            self._expect_continue = False
            self.send_response_only(HTTPStatus.CONTINUE)
            self.end_headers()

    def _reply(self, answer: Answer, *, close: bool) -> None:
        self.send_response(answer.status)
        for name, value in answer.headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        if close:
            self.send_header("Connection", "close")  # also sets self.close_connection
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body)
        if close:
            self._linger()

    def _linger(self) -> None:
        """Close without resetting the connection: a close with unread input makes the kernel send
        RST, which can discard the answer before the client reads it. So stop writing (the client
        reads the answer to its end), then read and drop what it still sends, for a moment."""
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(_LINGER_SECONDS)
            deadline = time.monotonic() + 2 * _LINGER_SECONDS
            while time.monotonic() < deadline and self.rfile.read1(_MAX_LINE):
                pass
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:
        return


class ApiServer:
    """The API's socket and the thread that serves it.

    The socket is bound when the server is made, before it has a gateway: the local stack needs the
    port it got (port 0: any free one) to resolve the template, whose PublicApiUrl the consumers and
    the webhooks function share, and only then can it build the gateway (`attach`). Until `start`, a
    client's connection waits in the listen queue."""

    def __init__(self, gateway: ApiGateway | None, host: str, port: int) -> None:
        self._handler: type[_Handler] = type("Handler", (_Handler,), {})
        self.httpd = _Server((host, port), self._handler)
        self.httpd.daemon_threads = True
        if gateway is not None:
            self.attach(gateway)
        # Polled every 0.1 s for a stop (socketserver's 0.5 s makes every stop take half a second).
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, name="api", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def attach(self, gateway: ApiGateway) -> None:
        """Serve `gateway`'s routes."""
        self._handler.gateway = gateway

    def start(self) -> None:
        if not hasattr(self._handler, "gateway"):
            raise RuntimeError("the API server has no gateway to serve: attach() one first")
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():  # shutdown() waits for serve_forever, which never ran otherwise
            self.httpd.shutdown()
        self.httpd.server_close()
