"""E-mail through SendGrid's v3 Mail Send API (`POST /v3/mail/send`), with the `sendgrid` SDK.

How SendGrid's answers are classified (https://www.twilio.com/docs/sendgrid/api-reference/mail-send):

| answer | meaning | outcome |
|---|---|---|
| 202 | accepted for delivery | sent; the id is the `X-Message-Id` header |
| 400 | the request is invalid (an address, the content) | permanent: retrying sends the same request |
| 413 | the payload is too large | permanent |
| 429 | rate limited | transient, retried after `X-RateLimit-Reset` |
| 401, 403 | bad or revoked API key, missing permission, unverified sender | the provider's (see below) |
| 5xx, connection error | SendGrid or the network is unwell; nothing was taken | the provider's |
| timeout | SendGrid may have taken it | the provider's, maybe sent |
| other 4xx | the request cannot succeed as it is | permanent |

401 and 403 are the account's problem, not the message's: the message is kept (retried, then
dead-lettered and redriven once the key or sender is fixed) rather than failed. "The provider's"
(`ProviderUnavailableError`, a transient error) is also what a channel with a fallback provider hands
to the fallback at once, but for a timeout ("maybe sent": SendGrid may have taken it, so it is
retried rather than sent twice), and what counts against SendGrid's circuit breaker.

One TLS context per provider, not per e-mail. The SDK sends through python_http_client 3.3.7, whose
request function calls `urllib.request.build_opener()` for every request, and so builds a new TLS
context every time, loading the whole CA store: about 21 ms of CPU per e-mail (Python 3.11: in
`http.client.HTTPSConnection`, given no context; 3.13, the Lambda runtime: in `HTTPSHandler()` inside
`build_opener()` itself). At 256 MB Lambda gives about 1/7 of a core, so on the order of 140 ms of wall
time per e-mail, warm or cold. The provider builds one context instead (`tls_context`: the system's CA
store, hostname checking on) and one opener around it, and the SDK's client sends every request
through that opener: about 1.9 ms of CPU per e-mail instead of 23.5 (docs/performance.md has the
measurement).

How: `_SharedOpenerClient`, a subclass of python_http_client's `Client` whose child clients (one per
URL segment: `client.mail.send.post(...)`) are of the subclass too. Overriding only `_make_request`,
the library's hook for tests, is not enough: the per-request `build_opener()` runs before it, and on
3.13 costs the 21 ms by itself (3.11: 0.2 ms). So the subclass answers the verbs (`post`, `get`...)
with its own request function: the library's, about fifteen lines (the body and headers as it builds
them, then its `_make_request` and `Response`), without the `build_opener()` and without its debug
logging, which wrote out the whole body, addresses included. Replacing `build_opener` in the library's
module would have been shorter, but it changes every python_http_client Client in the process.
"""

from __future__ import annotations

import functools
import json
import ssl
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.error import URLError

from python_http_client.client import Client, Response
from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import CustomArg, From, HtmlContent, Mail, PlainTextContent, To

from notifier.errors import (
    DeliveryError,
    PermanentDeliveryError,
    ProviderUnavailableError,
    TransientDeliveryError,
)
from notifier.models.channels import Channel
from notifier.models.envelope import EmailMessage
from notifier.platform.masking import scrub
from notifier.providers.base import Delivery, Provider

GLOBAL_HOST = "https://api.sendgrid.com"
EU_HOST = "https://api.eu.sendgrid.com"


@dataclass(frozen=True)
class SendGridConfig:
    api_key: str
    from_email: str
    from_name: str | None = None
    host: str = GLOBAL_HOST
    timeout_seconds: float = 5.0
    ca_file: str | None = None
    """Extra CA certificates (a PEM file) to trust besides the system's: for tests and corporate TLS
    proxies. None (the default) trusts exactly the system's CA store."""


class SendGridProvider(Provider):
    name = "sendgrid"

    def __init__(
        self, config: SendGridConfig, *, client: SendGridAPIClient | None = None, max_concurrency: int = 10
    ) -> None:
        super().__init__(Channel.EMAIL, max_concurrency=max_concurrency)
        self.config = config
        self.tls_context: ssl.SSLContext | None = None
        """The one TLS context of every request (see the module docstring); None with a client given."""
        if client is None:
            self.tls_context = tls_context(config.ca_file)
            client = SendGridAPIClient(api_key=config.api_key, host=config.host)
            opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=self.tls_context))
            client.client = _SharedOpenerClient.like(client.client, opener)
        self.client = client
        # Read by every request the SDK builds; without it urllib waits forever on a stalled socket.
        self.client.client.timeout = config.timeout_seconds

    def send(self, delivery: Delivery) -> str:
        message = delivery.message
        if not isinstance(message, EmailMessage):
            raise PermanentDeliveryError(f"sendgrid sends e-mail, not {message.channel}")
        mail = Mail(
            from_email=From(self.config.from_email, self.config.from_name),
            to_emails=To(delivery.address),
            subject=message.subject,
            plain_text_content=PlainTextContent(message.text),
            html_content=HtmlContent(message.html) if message.html else None,
        )
        # Comes back in SendGrid's event webhook, so a bounce can be matched to its notification.
        mail.custom_arg = CustomArg("notification_id", delivery.notification_id)
        try:
            response = self.client.send(mail)
        except HTTPError as exc:
            raise classify(exc.status_code, exc.headers or {}, exc.body) from None
        except TimeoutError as exc:
            raise ProviderUnavailableError(f"sendgrid: timed out ({exc})", maybe_sent=True) from None
        except URLError as exc:
            # urllib wraps what happened before an answer: a refused or failed connection (nothing
            # sent), or a timeout while connecting or reading (perhaps sent).
            maybe = isinstance(exc.reason, TimeoutError)
            raise ProviderUnavailableError(f"sendgrid: connection failed ({exc})", maybe_sent=maybe) from None
        except ConnectionError as exc:
            raise ProviderUnavailableError(f"sendgrid: connection failed ({exc})") from None
        return str(response.headers.get("X-Message-Id") or f"sendgrid-{delivery.notification_id}")


def tls_context(ca_file: str | None = None) -> ssl.SSLContext:
    """The system's CA store (plus `ca_file`), hostname checking on, set up as http.client sets up the
    context it builds when given none (3.11: `HTTPSConnection.__init__`; 3.13: `_create_https_context`).

    Shared by the delivery threads, which is safe: given a context, neither urllib's `HTTPSHandler` nor
    `http.client.HTTPSConnection` changes it per connection (3.13 only stores it; 3.11 assigns
    `check_hostname` the value the context already has), and `wrap_socket` makes a new TLS connection
    object each time and leaves the context as it is.
    """
    context = ssl.create_default_context()
    if ca_file is not None:
        context.load_verify_locations(cafile=ca_file)
    context.set_alpn_protocols(["http/1.1"])
    if context.post_handshake_auth is not None:  # None when OpenSSL cannot do it
        context.post_handshake_auth = True
    return context


class _SharedOpenerClient(Client):  # type: ignore[misc]  # python_http_client has no type information
    """python_http_client's `Client`, sending every request of it and of its children through one urllib
    opener instead of a new one per request (see the module docstring). An `OpenerDirector` is safe to
    share between threads: each `open` makes its own connection and keeps its state on the request."""

    def __init__(self, host: str, *, opener: urllib.request.OpenerDirector, **kwargs: Any) -> None:
        super().__init__(host, **kwargs)
        self._opener = opener

    @classmethod
    def like(cls, client: Client, opener: urllib.request.OpenerDirector) -> _SharedOpenerClient:
        """`client` (a plain one) with the same URL, headers and timeout, sending through `opener`."""
        return cls(
            client.host,
            opener=opener,
            request_headers=client.request_headers,
            version=client._version,
            url_path=client._url_path,
            append_slash=client.append_slash,
            timeout=client.timeout,
        )

    def _build_client(self, name: str | None = None) -> _SharedOpenerClient:
        return self.like(super()._build_client(name), self._opener)

    def __getattr__(self, name: str) -> Any:
        if name in self.methods:  # the end of `client.mail.send.post(...)`: make the request
            request: Callable[..., Response] = functools.partial(self._request, name.upper())
            return request
        return super().__getattr__(name)  # a URL segment (or `version`)

    def _request(
        self,
        method: str,
        request_body: Any = None,
        query_params: Mapping[str, Any] | None = None,
        request_headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **_: Any,
    ) -> Response:
        """python_http_client 3.3.7's `http_request`, with the shared opener instead of a new one."""
        if request_headers:
            self._update_headers(request_headers)
        if request_body is None:
            data = None
        elif self.request_headers.get("Content-Type", "application/json") != "application/json":
            data = request_body.encode("utf-8")
        else:
            self.request_headers.setdefault("Content-Type", "application/json")
            data = json.dumps(request_body).encode("utf-8")
        request = urllib.request.Request(  # noqa: S310 - the configured SendGrid host, as the SDK builds it
            self._build_url(query_params), headers=self.request_headers, data=data, method=method
        )
        return Response(self._make_request(self._opener, request, timeout=timeout))


def classify(status: int, headers: Mapping[str, str], body: bytes | str | None) -> DeliveryError:
    """The delivery error for a SendGrid answer that is not 2xx (see the module's table)."""
    reason = f"sendgrid {status}: {_error_messages(body)}"
    if status == 429:
        return TransientDeliveryError(reason, _seconds_until(headers.get("X-RateLimit-Reset")))
    if status in (401, 403):
        return ProviderUnavailableError(f"{reason} (check the API key and the verified sender)")
    if status >= 500:
        return ProviderUnavailableError(reason)
    return PermanentDeliveryError(reason)


def _error_messages(body: bytes | str | None) -> str:
    if not body:
        return "no details"
    try:
        errors = json.loads(body).get("errors") or []
        messages = [str(e.get("message")) + (f" ({e['field']})" if e.get("field") else "") for e in errors]
    except (ValueError, AttributeError, TypeError):
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        return scrub(text)[:200]  # masked before it is cut, so no address is cut past recognition
    return "; ".join(messages) or "no details"


def _seconds_until(epoch: Any) -> float | None:
    try:
        return max(0.0, float(epoch) - time.time())
    except (TypeError, ValueError):
        return None
