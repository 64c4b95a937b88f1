"""What every vendor fake shares: a threaded HTTP server on 127.0.0.1, request recording, latency,
failures scripted by address, and the violations that fail the test when the fake stops.

A vendor fake subclasses `FakeServer` and implements `handle` (the vendor's answer to one request),
`addresses` (who a request is for, to match scripted failures) and `default_error_body`.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake received it. `headers` looks names up case-insensitively."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Message
    body: bytes
    json: Any | None
    """The parsed body when it was sent as JSON and parses, else None."""
    form: dict[str, list[str]] | None
    """The parsed body when it was sent form-urlencoded, else None."""

    @property
    def content_type(self) -> str:
        """The media type alone, lower-case (`application/json`, without `; charset=...`); "" if none."""
        return media_type(self.headers)


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, value: Any, headers: dict[str, str] | None = None) -> Reply:
        return cls(status, json.dumps(value).encode(), {"Content-Type": JSON, **(headers or {})})

    @classmethod
    def of(cls, status: int, body: Any, headers: dict[str, str] | None = None) -> Reply:
        """A scripted answer: bytes and str as they are, anything else as JSON."""
        if isinstance(body, bytes):
            return cls(status, body, dict(headers or {}))
        if isinstance(body, str):
            return cls(
                status, body.encode(), {"Content-Type": "text/plain; charset=utf-8", **(headers or {})}
            )
        return cls.json(status, body, headers)


@dataclass
class _Script:
    address: str
    reply: Reply
    remaining: int | None


class FakeServer(ABC):
    """A loopback HTTP server that answers like a vendor (see the module docstring).

    Use it as a context manager, or `start()` / `stop()`. Leaving the `with` block raises
    `AssertionError` if any request broke the vendor's API description, so a test that made a bad
    request fails even if it never looked at `violations`; `pop_violations()` takes (and so accepts)
    the ones a test provoked on purpose.
    """

    def __init__(self) -> None:
        self.latency_seconds: float = 0.0
        """Slept before each answer; concurrent requests each wait at the same time."""
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._violations: list[str] = []
        self._scripts: list[_Script] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._port = 0
        """The port it listens on (0 before the first start): the same through `down()` and `up()`."""

    # -- what a vendor fake provides

    @abstractmethod
    def handle(self, request: RecordedRequest) -> Reply:
        """The vendor's answer: call `violation` for what breaks the API description, and `scripted`
        where the vendor would look at who the request is for."""

    @abstractmethod
    def addresses(self, request: RecordedRequest) -> list[str]:
        """Who the request is for (the addresses `fail` matches)."""

    @abstractmethod
    def default_error_body(self, status: int) -> Any:
        """The vendor's error body for `status`, used when `fail` is given no body."""

    # -- life cycle

    def start(self) -> Self:
        """Listen: on a port the OS chooses, or on the port of the last run (`up` after `down`)."""
        if self._server is not None:
            raise RuntimeError(f"{type(self).__name__} is already running")
        try:
            self._server = _Server(self, self._port)
        except OSError as exc:
            raise RuntimeError(
                f"{type(self).__name__} cannot listen on port {self._port} again: {exc}"
            ) from exc
        self._port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            # How often the loop looks for stop(): the default 0.5 s would add that much to every test.
            kwargs={"poll_interval": 0.02},
            name=f"{type(self).__name__}-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        thread.join()
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
        violations = self.violations
        if not violations:
            return
        report = f"{type(self).__name__}: requests that break the vendor's API description:\n" + "\n".join(
            f"  - {v}" for v in violations
        )
        if exc is not None:  # don't hide the test's own failure; add to it
            exc.add_note(report)
            return
        raise AssertionError(report)

    def down(self) -> None:
        """Stop listening, keeping the port: connections to `url` are refused until `up()` (a vendor
        that cannot be reached)."""
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not running")
        self.stop()

    def up(self) -> None:
        """Listen again, at the same `url`."""
        self.start()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def is_down(self) -> bool:
        return bool(self._port) and not self.running

    @property
    def url(self) -> str:
        """The base URL, `http://127.0.0.1:PORT`; the same while `down()`."""
        if not self._port:
            raise RuntimeError(f"{type(self).__name__} is not running: use it in a `with` block, or start()")
        return f"http://127.0.0.1:{self._port}"

    # -- what tests read

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def violations(self) -> list[str]:
        with self._lock:
            return list(self._violations)

    def pop_violations(self) -> list[str]:
        """The violations so far, forgotten: for a test that provokes them on purpose."""
        with self._lock:
            taken, self._violations = self._violations, []
            return taken

    # -- scripting

    def fail(
        self,
        address: str,
        status: int,
        body: Any = None,
        headers: dict[str, str] | None = None,
        times: int | None = None,
    ) -> None:
        """Answer requests for `address` with `status` (and `body`, default: the vendor's error body
        for the status): the next `times` of them, or all of them when `times` is None.

        Scripts for the same address apply in the order they were added.
        """
        if times is not None and times < 1:
            raise ValueError(f"times must be at least 1, or None for always (got {times})")
        reply = Reply.of(status, self.default_error_body(status) if body is None else body, headers)
        with self._lock:
            self._scripts.append(_Script(address, reply, times))

    def reset(self) -> None:
        """Forget the requests and the scripted failures (violations are kept: see `pop_violations`)."""
        with self._lock:
            self._requests.clear()
            self._scripts.clear()

    # -- for the vendor fakes

    def violation(self, request: RecordedRequest, message: str) -> None:
        with self._lock:
            self._violations.append(f"{request.method} {request.path}: {message}")

    def scripted(self, request: RecordedRequest) -> Reply | None:
        """The scripted answer for this request's addresses, if any (and one fewer left of it)."""
        addresses = set(self.addresses(request))
        with self._lock:
            for script in self._scripts:
                if script.address not in addresses:
                    continue
                if script.remaining is not None:
                    script.remaining -= 1
                    if script.remaining == 0:
                        self._scripts.remove(script)
                return script.reply
        return None

    def _answer(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self._requests.append(request)
        try:
            return self.handle(request)
        except Exception as exc:  # a bug in the fake: fail the test loudly, not with a reset connection
            self.violation(request, f"the fake itself failed (not the request's fault): {exc!r}")
            return Reply(500)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Benchmarks open many connections at once; the default backlog of 5 would refuse some.
    request_queue_size = 256

    def __init__(self, fake: FakeServer, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.fake = fake
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet about clients that hung up before the answer (a timeout test does that on purpose)."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def track(self, connection: socket.socket, open_: bool) -> None:
        with self._connections_lock:
            (self._connections.add if open_ else self._connections.discard)(connection)

    def close_connections(self) -> None:
        """End kept-alive connections, so their handler threads finish instead of waiting on a client."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # the client closed it already
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    # Keep-alive: the SDKs pool connections, and benchmarks should not pay a handshake per request.
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, open_=True)

    def finish(self) -> None:
        self.server.track(self.connection, open_=False)
        super().finish()

    def _serve(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        target = urlsplit(self.path)
        content_type = media_type(self.headers)
        request = RecordedRequest(
            method=self.command,
            path=target.path,
            query=parse_qs(target.query, keep_blank_values=True),
            headers=self.headers,
            body=body,
            json=_json_or_none(body) if content_type == JSON else None,
            form=parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
            if content_type == FORM
            else None,
        )
        fake = self.server.fake
        reply = fake._answer(request)
        if fake.latency_seconds > 0:
            time.sleep(fake.latency_seconds)
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve  # noqa: N815 - http.server's names

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: pytest shows what failed; a line per request would bury it."""


def reason_phrase(status: int) -> str:
    """`Not Found` for 404; "" for a status HTTP does not name."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def media_type(headers: Message) -> str:
    # Message.get_content_type() says text/plain when there is no Content-Type at all.
    return headers.get_content_type() if "Content-Type" in headers else ""


def _json_or_none(body: bytes) -> Any | None:
    try:
        return json.loads(body)
    except ValueError:
        return None
