"""SMS through Twilio's Programmable Messaging (`POST /2010-04-01/Accounts/{sid}/Messages.json`).

How Twilio's answers are classified, by HTTP status and Twilio error code
(https://www.twilio.com/docs/api/errors):

- **Transient** (retried): HTTP 429 and code 20429 (too many requests), 14107 and 21611 (send rate
  or queue limits), any 5xx, timeouts and connection errors. Account problems are kept for retry too
  (then dead-lettered and redriven once fixed) because the message itself is fine: 20003
  (authentication), 21606 / 21659 / 21212 (the sender is not a usable number of this account),
  21703 / 21704 (the messaging service has no sender).
- **Permanent** (FAILED, not retried): 21211 (invalid 'To'), 21408 (the destination's region is not
  enabled), 21610 (the recipient replied STOP), 21614 (not a mobile number), 21612 (cannot route to
  the number), 21265 (a short code), 21266 ('To' equals 'From'), 21617 (body too long), 21602 (empty
  body), and any other 4xx answer: sending the same request again gets the same answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from requests.exceptions import RequestException
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from notifier.errors import DeliveryError, PermanentDeliveryError, TransientDeliveryError
from notifier.models import Channel, SmsMessage

from .base import Delivery, Provider

TRANSIENT_CODES = frozenset({20429, 14107, 21611, 20003, 21606, 21659, 21212, 21703, 21704})
PERMANENT_CODES = frozenset({21211, 21408, 21610, 21614, 21612, 21265, 21266, 21617, 21602})


@dataclass(frozen=True)
class TwilioConfig:
    account_sid: str
    auth_token: str | None = None
    api_key_sid: str | None = None
    api_key_secret: str | None = None
    from_number: str | None = None
    messaging_service_sid: str | None = None
    region: str | None = None
    edge: str | None = None
    timeout_seconds: float = 5.0

    def __post_init__(self) -> None:
        if not (self.auth_token or (self.api_key_sid and self.api_key_secret)):
            raise ValueError("Twilio credentials need auth_token, or api_key_sid and api_key_secret")
        if not (self.from_number or self.messaging_service_sid):
            raise ValueError("Twilio needs a sender: TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID")


class TwilioProvider(Provider):
    name = "twilio"

    def __init__(
        self, config: TwilioConfig, *, http_client: TwilioHttpClient | None = None, max_concurrency: int = 10
    ) -> None:
        super().__init__(Channel.SMS, max_concurrency=max_concurrency)
        self.config = config
        # An API key (preferred: revocable on its own) signs in as the key, on behalf of the account.
        username, password = (
            (config.api_key_sid, config.api_key_secret)
            if config.api_key_sid
            else (config.account_sid, config.auth_token)
        )
        self.client = Client(
            username=username,
            password=password,
            account_sid=config.account_sid,
            region=config.region,
            edge=config.edge,
            http_client=http_client or TwilioHttpClient(timeout=config.timeout_seconds),
        )

    def send(self, delivery: Delivery) -> str:
        message = delivery.message
        if not isinstance(message, SmsMessage):
            raise PermanentDeliveryError(f"twilio sends SMS, not {message.channel}")
        sender = (
            {"messaging_service_sid": self.config.messaging_service_sid}
            if self.config.messaging_service_sid
            else {"from_": self.config.from_number}
        )
        try:
            created = self.client.messages.create(to=delivery.address, body=message.text, **sender)
        except TwilioRestException as exc:
            raise classify(exc.status, exc.code, exc.msg) from None
        except RequestException as exc:
            raise TransientDeliveryError(f"twilio: {type(exc).__name__} ({exc})") from None
        return str(created.sid)


def classify(status: int, code: int | None, message: str) -> DeliveryError:
    """The delivery error for a Twilio answer that is not 2xx (see the module's docstring)."""
    reason = f"twilio {status}" + (f" code {code}" if code else "") + f": {message}"
    if code in TRANSIENT_CODES:
        return TransientDeliveryError(reason)
    if code in PERMANENT_CODES:
        return PermanentDeliveryError(reason)
    if status == 429 or status >= 500:
        return TransientDeliveryError(reason)
    return PermanentDeliveryError(reason)
