"""E-mail through SendGrid's v3 Mail Send API (`POST /v3/mail/send`), with the `sendgrid` SDK.

How SendGrid's answers are classified (https://www.twilio.com/docs/sendgrid/api-reference/mail-send):

| answer | meaning | outcome |
|---|---|---|
| 202 | accepted for delivery | sent; the id is the `X-Message-Id` header |
| 400 | the request is invalid (an address, the content) | permanent: retrying sends the same request |
| 413 | the payload is too large | permanent |
| 429 | rate limited | transient, retried after `X-RateLimit-Reset` |
| 401, 403 | bad or revoked API key, missing permission, unverified sender | transient (see below) |
| 5xx, timeout, connection error | SendGrid or the network is unwell | transient |
| other 4xx | the request cannot succeed as it is | permanent |

401 and 403 are the account's problem, not the message's: the message is kept (retried, then
dead-lettered and redriven once the key or sender is fixed) rather than failed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.error import URLError

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import CustomArg, From, HtmlContent, Mail, PlainTextContent, To

from notifier.errors import DeliveryError, PermanentDeliveryError, TransientDeliveryError
from notifier.masking import scrub
from notifier.models import Channel, EmailMessage

from .base import Delivery, Provider

GLOBAL_HOST = "https://api.sendgrid.com"
EU_HOST = "https://api.eu.sendgrid.com"


@dataclass(frozen=True)
class SendGridConfig:
    api_key: str
    from_email: str
    from_name: str | None = None
    host: str = GLOBAL_HOST
    timeout_seconds: float = 5.0


class SendGridProvider(Provider):
    name = "sendgrid"

    def __init__(
        self, config: SendGridConfig, *, client: SendGridAPIClient | None = None, max_concurrency: int = 10
    ) -> None:
        super().__init__(Channel.EMAIL, max_concurrency=max_concurrency)
        self.config = config
        self.client = client or SendGridAPIClient(api_key=config.api_key, host=config.host)
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
            raise TransientDeliveryError(f"sendgrid: timed out ({exc})") from None
        except (URLError, ConnectionError) as exc:
            raise TransientDeliveryError(f"sendgrid: connection failed ({exc})") from None
        return str(response.headers.get("X-Message-Id") or f"sendgrid-{delivery.notification_id}")


def classify(status: int, headers: Mapping[str, str], body: bytes | str | None) -> DeliveryError:
    """The delivery error for a SendGrid answer that is not 2xx (see the module's table)."""
    reason = f"sendgrid {status}: {_error_messages(body)}"
    if status == 429:
        return TransientDeliveryError(reason, _seconds_until(headers.get("X-RateLimit-Reset")))
    if status in (401, 403):
        return TransientDeliveryError(f"{reason} (check the API key and the verified sender)")
    if status >= 500:
        return TransientDeliveryError(reason)
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
