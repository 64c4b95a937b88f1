"""The REST API on loopback, as API Gateway (REST, v1 proxy integration) serves it.

Each request to a route of the template becomes an API Gateway proxy event for the function that owns
the route; its answer becomes the HTTP answer. Like API Gateway: a path or method the template does
not declare answers 403 "Missing Authentication Token"; a missing or wrong `x-api-key` answers 403
"Forbidden" when the API requires a key; a handler that fails answers 502.

`GET /_local/outbox` (no key) lists what the sandbox provider delivered. Requests are handled one at a
time (see `ApiGateway.__init__`).
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import SplitResult, parse_qsl, urlsplit

from .lambda_runtime import FunctionPool, InvocationError
from .provision import ApiRoute

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit


@dataclass(frozen=True)
class _Route:
    route: ApiRoute
    pattern: re.Pattern[str]


def _compile(route: ApiRoute) -> _Route:
    regex = re.sub(r"\\\{([A-Za-z0-9_]+)\\\}", r"(?P<\1>[^/]+)", re.escape(route.path))
    return _Route(route, re.compile(f"^{regex}$"))


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


class ApiGateway:
    """Matches requests to routes, checks the key, builds the proxy event and invokes the function."""

    def __init__(
        self,
        routes: list[ApiRoute],
        functions: dict[str, FunctionPool],
        *,
        stage: str,
        api_key: str | None,
        region: str,
        account_id: str,
        outbox: Callable[[], list[dict[str, Any]]],
        log: Callable[[str], None] = lambda message: None,
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
        # Powertools' REST resolver keeps the request it is handling in class-level state
        # (BaseRouter.current_event). In Lambda that is safe: an execution environment handles one
        # invocation at a time. Here every function shares one process, so API invocations take turns,
        # or two concurrent requests could read each other's bodies.
        self._one_request_at_a_time = threading.Lock()

    def handle(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes, source_ip: str
    ) -> Answer:
        request = _Request(method, urlsplit(target), headers, body, source_ip)
        local = self._local_routes().get((method, request.url.path))
        if local is not None:
            return local()
        matched = self._match(method, request.url.path)
        if matched is None:
            return _json(
                403,
                {"message": "Missing Authentication Token"},
                [("x-amzn-ErrorType", "MissingAuthenticationTokenException")],
            )
        if self.api_key is not None and request.api_key != self.api_key:
            return _json(403, {"message": "Forbidden"}, [("x-amzn-ErrorType", "ForbiddenException")])
        if len(body) > MAX_BODY_BYTES:
            return _json(413, {"message": "Request Too Long"})
        route, path_parameters = matched
        event = self._event(request, route, path_parameters)
        try:
            with self._one_request_at_a_time:
                result = self.functions[route.function].invoke(event)
        except InvocationError as exc:
            self.log(f"{method} {request.url.path}: 502: {exc}\n{_cause(exc)}")
            return _json(502, {"message": "Internal server error"})
        return self._answer(result, event["requestContext"]["requestId"])

    def _local_routes(self) -> dict[tuple[str, str], Callable[[], Answer]]:
        return {
            ("GET", "/_local/outbox"): lambda: _json(200, self.outbox()),
            ("GET", "/_local/health"): lambda: _json(200, {"status": "ok"}),
        }

    def _match(self, method: str, path: str) -> tuple[ApiRoute, dict[str, str]] | None:
        for compiled in self.routes:
            found = compiled.pattern.match(path)
            if found and compiled.route.method in (method, "ANY"):
                return compiled.route, found.groupdict()
        return None

    def _event(self, request: _Request, route: ApiRoute, path_parameters: dict[str, str]) -> dict[str, Any]:
        method, path, headers, body = request.method, request.url.path, request.headers, request.body
        single: dict[str, str] = {}
        multi: dict[str, list[str]] = {}
        for name, value in headers:
            single[name] = value
            multi.setdefault(name, []).append(value)
        query_pairs = parse_qsl(request.url.query, keep_blank_values=True)
        query_single = dict(query_pairs)
        query_multi: dict[str, list[str]] = {}
        for name, value in query_pairs:
            query_multi.setdefault(name, []).append(value)
        try:
            text: str | None = body.decode("utf-8") if body else None
            encoded = False
        except UnicodeDecodeError:
            text, encoded = base64.b64encode(body).decode(), True
        now = datetime.now(UTC)
        request_id = str(uuid.uuid4())
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
                "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "path": f"/{self.stage}{path}",
                "accountId": self.account_id,
                "protocol": "HTTP/1.1",
                "stage": self.stage,
                "domainPrefix": "localhost",
                "requestTimeEpoch": int(time.time() * 1000),
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
    def _answer(result: Any, request_id: str) -> Answer:
        if not isinstance(result, dict) or not isinstance(result.get("statusCode"), int):
            return _json(502, {"message": "Internal server error"})
        headers: list[tuple[str, str]] = [("x-amzn-RequestId", request_id)]
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers += [(name, str(v)) for v in values]
        named = {n.lower() for n, _ in headers}
        headers += [(n, str(v)) for n, v in (result.get("headers") or {}).items() if n.lower() not in named]
        body = result.get("body") or ""
        raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
        return Answer(result["statusCode"], headers, raw)


def _cause(exc: BaseException) -> str:
    cause = exc.__cause__
    if cause is None:
        return ""
    return "".join(traceback.format_exception(type(cause), cause, cause.__traceback__))


class _Handler(BaseHTTPRequestHandler):
    gateway: ApiGateway
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        answer = self.gateway.handle(
            self.command, self.path, list(self.headers.items()), body, self.client_address[0]
        )
        self.send_response(answer.status)
        for name, value in answer.headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _serve  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:
        return


class ApiServer:
    def __init__(self, gateway: ApiGateway, host: str, port: int) -> None:
        handler = type("Handler", (_Handler,), {"gateway": gateway})
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="api", daemon=True)

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
