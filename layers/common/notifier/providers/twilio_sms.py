"""SMS through Twilio's Programmable Messaging (`POST /2010-04-01/Accounts/{sid}/Messages.json`).

The request goes through the SDK's generic layer (`Version.create` on a `Domain` of the `Client`),
not `client.messages.create`: the first use of that imports `twilio.rest.api.v2010.account`, whose
package imports ~30 resource modules (calls, conferences, queues...), 32 ms of every SMS cold start
(measured) for one endpoint. The request is the same one: the URL, form fields and headers of the
generated `MessageList._create`; the `Client` still adds credentials (API key or auth token), the
region and edge hostname, and the user agent, and sends it with its HTTP client (and timeout); the
SDK parses the answer, and raises for a non-2xx one, as it does there.

How Twilio's answers are classified, by HTTP status and Twilio error code
(https://www.twilio.com/docs/api/errors):

- **Transient** (retried): HTTP 429 and code 20429 (too many requests), 14107 and 21611 (send rate
  or queue limits).
- **The provider's** (`ProviderUnavailableError`: retried, handed to the fallback provider when the
  channel has one, and counted against Twilio's circuit breaker): any 5xx, connection errors and
  timeouts (a read timeout as "maybe sent": never handed on in the same attempt), and the account's
  problems, since the message itself is fine: 20003 (authentication), 21606 / 21659 / 21212 (the
  sender is not a usable number of this account), 21703 / 21704 (the messaging service has no
  sender).
- **Route** (`RouteUnavailableError`: handed to the fallback provider, else FAILED): 21408 (the
  destination's region is not enabled for this account).
- **Permanent** (FAILED, not retried): 21211 (invalid 'To'), 21610 (the recipient replied STOP),
  21614 (not a mobile number), 21612 (cannot route to the number), 21265 (a short code), 21266 ('To'
  equals 'From'), 21617 (body too long), 21602 (empty body), and any other 4xx answer: sending the
  same request again gets the same answer.

Both kinds of SDK error are classified: `TwilioRestException` (Twilio's usual error body) and
`TwilioServiceException` (an RFC 9457 problem details body; not a subclass of the former). An error
body that is not JSON has no Twilio code (the SDK puts the HTTP status in its place): it is
classified by the status alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from requests.exceptions import ConnectionError, ConnectTimeout, RequestException
from twilio.base.domain import Domain
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.base.version import Version
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from notifier.errors import (
    DeliveryError,
    PermanentDeliveryError,
    ProviderUnavailableError,
    RouteUnavailableError,
    TransientDeliveryError,
)
from notifier.models.channels import Channel
from notifier.models.envelope import SmsMessage
from notifier.providers.base import Delivery, Provider

TRANSIENT_CODES = frozenset({20429, 14107, 21611})
ACCOUNT_CODES = frozenset({20003, 21606, 21659, 21212, 21703, 21704})
"""The account, not the message: another provider may send it (`ProviderUnavailableError`)."""
ROUTE_CODES = frozenset({21408})
"""This account cannot reach the destination (its region is not enabled); another provider may."""
PERMANENT_CODES = frozenset({21211, 21610, 21614, 21612, 21265, 21266, 21617, 21602})

API = "https://api.twilio.com"
"""The Api domain's base URL, as the SDK's generated `ApiBase` has it (the `Client` puts the region
and edge into the hostname when it sends)."""
HEADERS = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
"""What the generated `MessageList._create` sends."""


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
    status_callback_url: str | None = None
    """Where Twilio posts each message's status (the webhooks function's route); the notification's
    id is added as `?notification_id=`, which Twilio's signature covers."""

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
        self._api = Version(Domain(self.client, API), "2010-04-01")
        self._messages_uri = f"/Accounts/{config.account_sid}/Messages.json"

    def send(self, delivery: Delivery) -> str:
        message = delivery.message
        if not isinstance(message, SmsMessage):
            raise PermanentDeliveryError(f"twilio sends SMS, not {message.channel}")
        sender = (
            {"MessagingServiceSid": self.config.messaging_service_sid}
            if self.config.messaging_service_sid
            else {"From": self.config.from_number}
        )
        data = {"To": delivery.address, "Body": message.text, **sender}
        if self.config.status_callback_url:
            query = urlencode({"notification_id": delivery.notification_id})
            data["StatusCallback"] = f"{self.config.status_callback_url}?{query}"
        try:  # a copy of the headers: the Client adds its own to the dict it is given
            created = self._api.create("POST", self._messages_uri, data=data, headers=dict(HEADERS))
        except TwilioRestException as exc:
            raise classify(exc.status, _twilio_code(exc.status, exc.code), exc.msg) from None
        except TwilioServiceException as exc:
            detail = f"{exc.title}: {exc.detail}" if exc.detail else exc.title
            raise classify(exc.status, exc.code, detail) from None
        except (ConnectionError, ConnectTimeout) as exc:  # nothing reached Twilio
            raise ProviderUnavailableError(f"twilio: {type(exc).__name__} ({exc})") from None
        except RequestException as exc:  # a read timeout, or worse: Twilio may have taken it
            raise ProviderUnavailableError(f"twilio: {type(exc).__name__} ({exc})", maybe_sent=True) from None
        return str(created["sid"])


def classify(status: int, code: int | None, message: str) -> DeliveryError:  # noqa: PLR0911 - one per class
    """The delivery error for a Twilio answer that is not 2xx (see the module's docstring)."""
    reason = f"twilio {status}" + (f" code {code}" if code else "") + f": {message}"
    if code in TRANSIENT_CODES:
        return TransientDeliveryError(reason)
    if code in ACCOUNT_CODES:
        return ProviderUnavailableError(reason)
    if code in ROUTE_CODES:
        return RouteUnavailableError(reason)
    if code in PERMANENT_CODES:
        return PermanentDeliveryError(reason)
    if status == 429:
        return TransientDeliveryError(reason)
    if status >= 500:
        return ProviderUnavailableError(reason)
    return PermanentDeliveryError(reason)


def _twilio_code(status: int, code: int | None) -> int | None:
    """Twilio's error code, or None where the SDK put the HTTP status in its place (an error body
    without one, or not JSON)."""
    return None if code == status else code
