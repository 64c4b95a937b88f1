"""A loopback SendGrid v3 Mail Send API (`POST /v3/mail/send`), checked against SendGrid's spec.

Point the SDK at it with `SendGridAPIClient(api_key, host=fake.url)`.

What it checks, in SendGrid's order: the API key (`Authorization: Bearer <key>`: a missing header
breaks the spec, a wrong key is only refused, so tests can provoke 401s), that the body is JSON, and
the body against the spec's schema (`sendgrid-v3.mail-send.json`, with the erratum below). A request
that breaks the spec is recorded in `violations` and answered 400 the way SendGrid does. Scripted
failures match any `personalizations[].to[].email`.

Erratum: the spec types the top-level `custom_args` as a string, but the API takes an object of
string values there, as in `personalizations[].custom_args` (SendGrid's SDKs all send an object; a
non-string value is what SendGrid refuses: sendgrid/sendgrid-nodejs#288). The checker uses the
personalization's schema for it.

HTTPS: `SendGridFake(tls=context)` serves over TLS with `context` (a server-side `ssl.SSLContext`
holding the test's certificate), at `https://127.0.0.1:PORT`, so the SDK's real TLS path runs. The
server's side of each handshake runs in its accepting thread, one connection at a time.
"""

from __future__ import annotations

import secrets
import socket
import ssl
from collections.abc import Callable
from typing import Any, Self

from devstack.fakes._server import JSON, FakeServer, RecordedRequest, Reply, reason_phrase
from devstack.fakes.openapi import SwaggerBodyChecker, body_parameter, load_spec

SPEC_FILE = "sendgrid-v3.mail-send.json"
MAIL_SEND = "/v3/mail/send"
HANDSHAKE_TIMEOUT_SECONDS = 5.0
"""A client that connects but never finishes the TLS handshake is dropped after this."""
RATE_LIMIT = 600
"""What the fake puts in `X-RateLimit-Limit` (any number does: clients act on Remaining and Reset)."""
_INVALID_KEY = "The provided authorization grant is invalid, expired, or revoked"


def _mail_send_spec() -> dict[str, Any]:
    """The spec, with the erratum in the module docstring applied."""
    spec = load_spec(SPEC_FILE)
    schema = body_parameter(spec, "post", "/mail/send")["schema"]
    schema["properties"]["custom_args"] = schema["properties"]["personalizations"]["items"]["properties"][
        "custom_args"
    ]
    return spec


class SendGridFake(FakeServer):
    """SendGrid's Mail Send endpoint on 127.0.0.1 (see the module docstring)."""

    def __init__(self, api_key: str = "SG.test", *, tls: ssl.SSLContext | None = None) -> None:
        super().__init__()
        self.api_key = api_key
        self.tls = tls
        """The server side of TLS (`ssl.Purpose.CLIENT_AUTH`, with a certificate), or None for HTTP."""
        self._checker = SwaggerBodyChecker(_mail_send_spec(), "post", "/mail/send")

    def start(self) -> Self:
        super().start()
        if self.tls is not None and self._server is not None:
            # Each accepted connection is wrapped in TLS before its handler reads it. Set before anyone
            # can connect (the port is only known from here on), and the listening socket is left as it
            # is, so the server thread, already waiting on it, sees no change.
            self._server.get_request = self._tls_request(self._server.get_request, self.tls)  # type: ignore[method-assign]
        return self

    @staticmethod
    def _tls_request(
        accept: Callable[[], tuple[socket.socket, Any]], context: ssl.SSLContext
    ) -> Callable[[], tuple[socket.socket, Any]]:
        def get_request() -> tuple[socket.socket, Any]:
            connection, address = accept()
            connection.settimeout(HANDSHAKE_TIMEOUT_SECONDS)
            # A failed handshake (a client refusing the certificate: tests do that on purpose) raises
            # an OSError, which the server takes as "no request" and is quiet about.
            secure = context.wrap_socket(connection, server_side=True)
            secure.settimeout(None)
            return secure, address

        return get_request

    @property
    def url(self) -> str:
        """The base URL: `http://127.0.0.1:PORT`, or `https://...` when serving TLS."""
        url = super().url
        return "https" + url.removeprefix("http") if self.tls is not None else url

    @staticmethod
    def error_body(message: str, field: str | None = None) -> dict[str, Any]:
        """SendGrid's error body: `{"errors": [{"message", "field", "help"}]}`."""
        return {"errors": [{"message": message, "field": field, "help": None}]}

    def fail_rate_limited(self, address: str, reset_epoch: int, times: int | None = 1) -> None:
        """Answer 429 for `address` as SendGrid does: its rate-limit headers and documented body."""
        self.fail(
            address,
            429,
            body={"errors": [{"field": None, "message": "too many requests"}]},
            headers={
                "X-RateLimit-Limit": str(RATE_LIMIT),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(reset_epoch),
            },
            times=times,
        )

    def default_error_body(self, status: int) -> Any:
        return self.error_body(reason_phrase(status) or "error")

    def addresses(self, request: RecordedRequest) -> list[str]:
        body = request.json if isinstance(request.json, dict) else {}
        personalizations = body.get("personalizations")
        if not isinstance(personalizations, list):
            return []
        return [
            to["email"]
            for p in personalizations
            if isinstance(p, dict) and isinstance(p.get("to"), list)
            for to in p["to"]
            if isinstance(to, dict) and isinstance(to.get("email"), str)
        ]

    def handle(self, request: RecordedRequest) -> Reply:  # noqa: PLR0911 - one return per check
        if (request.method, request.path) != ("POST", MAIL_SEND):
            self.violation(request, f"no such operation (the fake serves POST {MAIL_SEND})")
            return Reply.json(404, self.error_body("resource not found"))
        authorization = request.headers.get("Authorization")
        if authorization is None:
            self.violation(
                request, "no Authorization header (the spec requires `Authorization: Bearer <key>`)"
            )
            return Reply.json(401, self.error_body("authorization required"))
        if authorization != f"Bearer {self.api_key}":
            return Reply.json(401, self.error_body(_INVALID_KEY))
        if request.content_type != JSON:
            self.violation(request, f"Content-Type is {request.content_type or 'missing'}, not {JSON}")
            return Reply.json(400, self.error_body("Content-Type should be application/json."))
        if request.json is None:
            self.violation(request, "the body is not JSON")
            return Reply.json(400, self.error_body("Bad Request"))
        errors = self._checker.errors(request.json)
        if errors:
            for field, message in errors:
                self.violation(request, f"{field or 'body'}: {message}")
            return Reply.json(400, {"errors": [{"message": m, "field": f, "help": None} for f, m in errors]})
        scripted = self.scripted(request)
        if scripted is not None:
            return scripted
        return Reply(202, headers={"X-Message-Id": secrets.token_urlsafe(16)})
