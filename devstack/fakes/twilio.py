"""A loopback Twilio Programmable Messaging API (`POST /2010-04-01/Accounts/{AccountSid}/Messages.json`),
checked against Twilio's spec.

The SDK builds absolute `https://api.twilio.com/...` URLs (`https://api.{edge}.{region}.twilio.com`
with an edge or region), so it cannot be given a base URL: `fake.http_client()` is the SDK's own
`TwilioHttpClient`, sending what it addresses to `*.twilio.com` here instead and noting the original
URL in `fake.original_urls` (so a test can see the region and edge were used).

What it checks, in Twilio's order: HTTP Basic credentials (the account SID and auth token, or an API
key and secret; a missing header breaks the spec, wrong ones are only refused, so tests can provoke
401s), then the request against the spec (`twilio-api-v2010.messages.json`) with
`openapi.FormOperationChecker` (jsonschema over the spec's schemas, the form cast to their types;
its docstring says why not openapi-core, which the fake's tests use to cross-check it): the
`AccountSid` path pattern, the body's required `To`, types, enums and SID patterns. And two rules
the schema alone does not carry: every field must be one the spec documents (the schema allows
others), and each of the operation's `x-twilio.conditional` groups (From or MessagingServiceSid;
Body, MediaUrl or ContentSid) needs a member.

A violation is recorded and answered 400 with Twilio's error body: code 21604, 21603 or 21602 for a
missing To, sender or body (Twilio's codes), else 20001 (Twilio's "unknown parameter", used here for
any other bad parameter). Scripted failures match the `To` field.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import threading
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response

from devstack.fakes._server import FORM, FakeServer, RecordedRequest, Reply, reason_phrase
from devstack.fakes.openapi import FormOperationChecker, load_spec

SPEC_FILE = "twilio-api-v2010.messages.json"
SPEC_PATH = "/2010-04-01/Accounts/{AccountSid}/Messages.json"
ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
_ROUTE = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Messages\.json$")
# Twilio's codes for a missing parameter, by the first field of the missing group.
_MISSING = {
    "To": (21604, "A 'To' phone number is required."),
    "From": (21603, "A 'From' phone number is required."),
    "Body": (21602, "Message body is required."),
}
_BAD_PARAMETER = (20001, "Invalid parameter")


class TwilioFake(FakeServer):
    """Twilio's Messages endpoint on 127.0.0.1 (see the module docstring)."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        api_key_sid: str | None = None,
        api_key_secret: str | None = None,
    ) -> None:
        if not ACCOUNT_SID.match(account_sid):
            raise ValueError(f"a Twilio account SID is AC and 32 hex digits, not {account_sid!r}")
        super().__init__()
        self.account_sid = account_sid
        self._credentials = {(account_sid, auth_token)}
        if api_key_sid and api_key_secret:
            self._credentials.add((api_key_sid, api_key_secret))
        spec = load_spec(SPEC_FILE)
        self._checker = FormOperationChecker(spec, "post", SPEC_PATH)
        schema = self._checker.body_schema
        self._fields = frozenset(schema["properties"])
        by_snake_name = {_snake(name): name for name in self._fields}
        self._required = [[name] for name in schema.get("required", [])]
        conditional = spec["paths"][SPEC_PATH]["post"]["x-twilio"]["conditional"]
        self._conditional = [[by_snake_name[m] for m in group] for group in conditional]
        self._original_urls: list[str] = []
        self._urls_lock = threading.Lock()

    @staticmethod
    def error_body(status: int, code: int, message: str) -> dict[str, Any]:
        """Twilio's error body."""
        return {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        }

    def http_client(self, timeout: float | None = None, **options: Any) -> TwilioHttpClient:
        """The SDK's HTTP client, redirected here (see the module docstring); `options` go to
        `TwilioHttpClient` as they are."""
        return _RedirectingHttpClient(self, timeout=timeout, **options)

    @property
    def original_urls(self) -> list[str]:
        """The URLs the SDK meant to call, in order."""
        with self._urls_lock:
            return list(self._original_urls)

    def reset(self) -> None:
        super().reset()
        with self._urls_lock:
            self._original_urls.clear()

    def default_error_body(self, status: int) -> Any:
        # Twilio's HTTP-level errors are 20000 + the status (20404, 20429, 20500, 20503...).
        return self.error_body(status, 20000 + status, reason_phrase(status))

    def addresses(self, request: RecordedRequest) -> list[str]:
        return (request.form or {}).get("To", [])

    def handle(self, request: RecordedRequest) -> Reply:  # noqa: PLR0911 - one return per check
        route = _ROUTE.match(request.path)
        if request.method != "POST" or route is None:
            self.violation(request, f"no such operation (the fake serves POST {SPEC_PATH})")
            return self._error(404, 20404, f"The requested resource {request.path} was not found")
        credentials = _basic_credentials(request.headers.get("Authorization"))
        if credentials is None:
            self.violation(
                request, "no valid HTTP Basic Authorization (the spec requires accountSid_authToken)"
            )
            return self._error(401, 20003, "Authenticate")
        if credentials not in self._credentials:
            return self._error(401, 20003, "Authenticate")
        problems = self._problems(request)
        if problems:
            for problem in problems:
                self.violation(request, problem)
            return self._error(400, *self._code_for(request.form or {}), extra="; ".join(problems))
        if route["account"] != self.account_sid:
            return self._error(404, 20404, f"The requested resource {request.path} was not found")
        scripted = self.scripted(request)
        if scripted is not None:
            return scripted
        return Reply.json(201, self._message(route["account"], request.form or {}))

    def _problems(self, request: RecordedRequest) -> list[str]:
        form = request.form
        if form is None:
            return [f"Content-Type is {request.content_type or 'missing'}, not {FORM}"]
        return (
            self._checker.errors(request)
            + [
                f"body: {name!r} is not a field the spec documents"
                for name in form
                if name not in self._fields
            ]
            + [
                f"body: one of {', '.join(group)} is required (the spec's x-twilio conditional)"
                for group in self._conditional
                if not any(_present(form, name) for name in group)
            ]
        )

    def _code_for(self, form: dict[str, list[str]]) -> tuple[int, str]:
        """Twilio's code for the first missing thing, else its code for a bad parameter."""
        for group in self._required + self._conditional:
            if not any(_present(form, name) for name in group):
                return _MISSING.get(group[0], _BAD_PARAMETER)
        return _BAD_PARAMETER

    def _error(self, status: int, code: int, message: str, extra: str = "") -> Reply:
        return Reply.json(status, self.error_body(status, code, f"{message} ({extra})" if extra else message))

    def _message(self, account: str, form: dict[str, list[str]]) -> dict[str, Any]:
        """The created Message resource, shaped like the spec's `create` example."""
        sid = "SM" + secrets.token_hex(16)
        now = format_datetime(datetime.now(UTC).replace(microsecond=0))
        body = form.get("Body", [""])[0]
        uri = f"/2010-04-01/Accounts/{account}/Messages/{sid}.json"
        return {
            "account_sid": account,
            "api_version": "2010-04-01",
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form.get("From", [None])[0],
            "messaging_service_sid": form.get("MessagingServiceSid", [None])[0],
            "num_media": str(len(form.get("MediaUrl", []))),
            "num_segments": str(_segments(body)),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {"media": uri.removesuffix(".json") + "/Media.json"},
            "to": form["To"][0],
            "uri": uri,
        }


class _RedirectingHttpClient(TwilioHttpClient):  # type: ignore[misc]  # twilio ships no type hints
    """`TwilioHttpClient`, with `*.twilio.com` swapped for the fake's address before it sends."""

    def __init__(self, fake: TwilioFake, **options: Any) -> None:
        super().__init__(**options)
        self._fake = fake

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if host == "twilio.com" or host.endswith(".twilio.com"):
            with self._fake._urls_lock:
                self._fake._original_urls.append(url)
            fake = urlsplit(self._fake.url)
            url = urlunsplit((fake.scheme, fake.netloc, parts.path, parts.query, parts.fragment))
        return super().request(method, url, *args, **kwargs)


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    if not header or not header.startswith("Basic "):
        return None
    try:
        username, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return username, password


def _present(form: dict[str, list[str]], name: str) -> bool:
    return any(value for value in form.get(name, []))


def _snake(name: str) -> str:
    """`MessagingServiceSid` -> `messaging_service_sid`, as the spec's `x-twilio` names fields."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _segments(body: str) -> int:
    """SMS segments: 160 characters in one (153 a segment when split), 70 (67) when the text needs
    UCS-2. ASCII stands in for GSM-7 here, which is close enough for a fake."""
    single, part = (160, 153) if body.isascii() else (70, 67)
    return 1 if len(body) <= single else -(-len(body) // part)
