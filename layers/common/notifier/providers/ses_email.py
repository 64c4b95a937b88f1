"""E-mail through Amazon SES v2 `SendEmail` (`POST /v2/email/outbound-emails`), with botocore.

The client is botocore's, from a botocore session, as `notifier.platform.clients` builds its own (no
boto3), and is signed in with the function's role. It is the provider's own client, not one of
`platform.clients`': the consumers' config retries read timeouts, and a retried `SendEmail` is a
second e-mail (SES takes no idempotency token on a send). Here `retries={"total_max_attempts": 1}`:
botocore sends each request once, whatever the answer, and the SQS retry (or the fallback provider)
decides what happens next.

The message is SES's "Simple" content: the subject, the text part and the HTML part (when there is
one), each in UTF-8; the From header is `formataddr((from_name, from_email))`, so a display name
that is not ASCII is sent RFC 2047-encoded, as SES requires. The notification's id goes in
`EmailTags` (`notification_id`), which SES returns in the events it publishes through the
configuration set, so a bounce can be matched to its notification.

How SES's answers are classified (the modeled `SendEmail` errors, their HTTP status, and the
research in design-notes/issue21-research.md, section 2):

| answer | meaning | outcome |
|---|---|---|
| 200 `{"MessageId"}` | accepted | sent; the id is SES's `MessageId` |
| `TooManyRequestsException` "Maximum sending rate exceeded" [1] | the per-second rate | transient, 1 s |
| `TooManyRequestsException` "Daily message quota exceeded" | the 24-hour quota is used up | provider |
| `AccountSuspendedException`, `SendingPausedException` | the account cannot send | provider |
| `MailFromDomainNotVerifiedException` | the MAIL FROM domain's MX cannot be read | provider |
| `NotFoundException` | the configuration set (or identity) is missing | provider |
| `LimitExceededException` | a resource limit (not expected on a send) | provider |
| `MessageRejected` "Email address is not verified" [2], naming our From | sender unverified | provider |
| the same, not naming our From | SES sandbox: the recipient is unverified | route |
| `MessageRejected`, any other message (the content, a virus) | the message | permanent |
| `BadRequestException` | the input (an address, the content) | permanent |
| `AccessDeniedException`, any 403, signing or credential errors [3] | the role, its credentials | provider |
| 5xx, `InternalFailure`, `ServiceUnavailable` | SES is unwell; nothing was sent | provider |
| `EndpointConnectionError` (refused, unreachable), `ConnectTimeoutError` | nothing was sent | provider [4] |
| `ReadTimeoutError`, a connection closed early, other connection errors | **maybe sent** | provider [5] |
| botocore's `ParamValidationError` | the request cannot be made | permanent |
| other 4xx | the request cannot succeed as it is | permanent |

- "provider": `ProviderUnavailableError`; "route": `RouteUnavailableError`; "permanent":
  `PermanentDeliveryError`; "transient, 1 s": `TransientDeliveryError`, retried after 1 s.
- [1] Or any other throttle: `ThrottlingException`, or any 429.
- [2] "Email address is not verified. The following identities failed the check in region
  US-EAST-1: X, Y". The message is classified by the identities it lists: when our From address is
  among them (or none can be read) the sender is the problem; else the account is in the SES sandbox
  and refuses a recipient that is not verified, which another provider may serve.
- [3] `UnrecognizedClientException`, `InvalidClientTokenId`, `ExpiredToken*`, `SignatureDoesNotMatch`
  and the other signing errors; botocore's `NoCredentialsError` and the other credential errors.
- [4] `maybe_sent=False`: safe to hand to another provider at once.
- [5] `maybe_sent=True`: a read timeout, a connection closed before the answer (the request had gone
  out), a TLS or proxy error (most likely before, but nothing says so for certain).

"Provider unavailable" (`ProviderUnavailableError`) is transient: with one provider the message is
kept (retried, then dead-lettered and redriven once the account is fixed), as SendGrid's 401/403;
with a fallback, it may go there at once, except when `maybe_sent`. "Route unavailable"
(`RouteUnavailableError`) is permanent with one provider.

The reasons start with "ses" and quote SES's message with every address in it masked
(`platform.masking.scrub`): SES's "not verified" message lists the recipient's address.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import formataddr, getaddresses
from typing import Any

import botocore.session
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    HTTPClientError,
    NoAuthTokenError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
    TokenRetrievalError,
    UnknownCredentialError,
)
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from notifier.errors import (
    DeliveryError,
    PermanentDeliveryError,
    ProviderUnavailableError,
    RouteUnavailableError,
    TransientDeliveryError,
)
from notifier.models.channels import Channel
from notifier.models.envelope import EmailMessage
from notifier.platform.logs import logger
from notifier.platform.masking import scrub
from notifier.providers.base import Delivery, Provider

CHARSET = "UTF-8"
TAG_NAME = "notification_id"
TAG_VALUE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
"""What SES accepts as a message tag's value (ASCII letters, digits, `_` and `-`, at most 256)."""
RATE_RETRY_SECONDS = 1.0
"""How long to wait after "Maximum sending rate exceeded": the rate is per second."""
CONNECT_TIMEOUT_SECONDS = 2.0
"""At most this long to connect, however long the read timeout."""

DAILY_QUOTA = "daily message quota exceeded"
NOT_VERIFIED = re.compile(r"^\s*email address (?:is )?not verified\.?", re.IGNORECASE)
"""SES's `MessageRejected` for unverified identities ("Email address is not verified. The following
identities failed the check in region US-EAST-1: ..."; moto says "Email address not verified ...")."""
_IDENTITIES = re.compile(r"failed the check in region [^:]*:(?P<identities>.*)$", re.IGNORECASE | re.DOTALL)

THROTTLE_CODES = frozenset({"TooManyRequestsException", "ThrottlingException", "Throttling"})
PROVIDER_CODES = frozenset(
    {
        "AccountSuspendedException",
        "SendingPausedException",
        "MailFromDomainNotVerifiedException",
        "NotFoundException",
        "LimitExceededException",
    }
)
"""The account or its configuration: no message can be sent until someone fixes it."""
CREDENTIAL_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "InvalidSignatureException",
        "IncompleteSignature",
        "IncompleteSignatureException",
        "MissingAuthenticationToken",
        "MissingAuthenticationTokenException",
        "RequestExpired",
    }
)
"""The role, its credentials or the request's signature (`ExpiredToken*` too: matched by prefix)."""
SERVER_CODES = frozenset(
    {
        "InternalFailure",
        "InternalError",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
    }
)
PERMANENT_CODES = frozenset({"BadRequestException", "MessageRejected"})

_CREDENTIAL_ERRORS = (
    NoCredentialsError,
    PartialCredentialsError,
    CredentialRetrievalError,
    UnknownCredentialError,
    NoAuthTokenError,
    TokenRetrievalError,
)
_NOT_SENT_ERRORS = (EndpointConnectionError, ConnectTimeoutError)
"""Raised before any byte of the request went out: safe to hand the message to another provider."""


@dataclass(frozen=True)
class SesConfig:
    from_email: str
    from_name: str | None = None
    configuration_set: str | None = None
    """Sent as `ConfigurationSetName` (its event destination publishes the receipts); None: none."""
    region: str | None = None
    """None: the function's own region (AWS_REGION)."""
    timeout_seconds: float = 5.0
    """The read timeout of one send; connecting takes at most `min(2, timeout_seconds)`."""
    endpoint_url: str | None = None
    """None: SES's endpoint for the region (or AWS_ENDPOINT_URL_SESV2); tests point it at a fake."""

    def __post_init__(self) -> None:
        local, at, domain = self.from_email.rpartition("@")
        if not (local and at and domain):
            raise ValueError(f"the SES sender is not an e-mail address: {self.from_email!r}")
        if not local.isascii():
            raise ValueError(f"SES needs an ASCII local part in the sender address: {self.from_email!r}")
        if self.timeout_seconds <= 0:
            raise ValueError(f"timeout_seconds must be positive, not {self.timeout_seconds}")

    @property
    def from_address(self) -> str:
        """The From header as SES takes it: `Name <address>`, the name RFC 2047-encoded when it is not
        ASCII, the domain in Punycode."""
        return formataddr((self.from_name or "", ascii_address(self.from_email)))


def client_config(timeout_seconds: float, max_concurrency: int) -> Config:
    """The client's config: one attempt per send (a timed-out send is never repeated by botocore),
    a connection per sending thread."""
    return Config(
        connect_timeout=min(CONNECT_TIMEOUT_SECONDS, timeout_seconds),
        read_timeout=timeout_seconds,
        retries={"total_max_attempts": 1},
        max_pool_connections=max_concurrency,
    )


class SesProvider(Provider):
    name = "ses"

    def __init__(self, config: SesConfig, *, client: Any = None, max_concurrency: int = 10) -> None:
        super().__init__(Channel.EMAIL, max_concurrency=max_concurrency)
        self.config = config
        self.from_address = config.from_address
        if client is None:
            client = botocore.session.get_session().create_client(
                "sesv2",
                region_name=config.region,
                endpoint_url=config.endpoint_url,
                config=client_config(config.timeout_seconds, self.max_concurrency),
            )
        self.client: Any = client
        """botocore's sesv2 client (no type stubs for it are installed)."""

    def request(self, delivery: Delivery, message: EmailMessage) -> dict[str, Any]:
        """The `SendEmail` parameters for one delivery."""
        body: dict[str, Any] = {"Text": {"Data": message.text, "Charset": CHARSET}}
        if message.html:
            body["Html"] = {"Data": message.html, "Charset": CHARSET}
        request: dict[str, Any] = {
            "FromEmailAddress": self.from_address,
            "Destination": {"ToAddresses": [ascii_address(delivery.address)]},
            "Content": {"Simple": {"Subject": {"Data": message.subject, "Charset": CHARSET}, "Body": body}},
        }
        if TAG_VALUE.match(delivery.notification_id):
            request["EmailTags"] = [{"Name": TAG_NAME, "Value": delivery.notification_id}]
        else:  # SES would refuse the whole message for it; send it, unmatched by its receipts
            logger.warning("the notification id cannot be an SES message tag; sent without it")
        if self.config.configuration_set:
            request["ConfigurationSetName"] = self.config.configuration_set
        return request

    def send(self, delivery: Delivery) -> str:
        message = delivery.message
        if not isinstance(message, EmailMessage):
            raise PermanentDeliveryError(f"ses sends e-mail, not {message.channel}")
        try:
            response = self.client.send_email(**self.request(delivery, message))
        except (ClientError, BotoCoreError) as exc:
            raise classify(exc, from_email=self.config.from_email) from None
        return str(response["MessageId"])


def ascii_address(address: str) -> str:
    """`address` with its domain in Punycode (SES takes no other form of a domain that is not ASCII);
    as it is when it has no `@` or the domain cannot be encoded (SES will say what is wrong)."""
    local, at, domain = address.rpartition("@")
    if not at or domain.isascii():
        return address
    try:
        return f"{local}@{domain.encode('idna').decode('ascii')}"
    except UnicodeError:
        return address


def classify(error: ClientError | BotoCoreError, *, from_email: str) -> DeliveryError:
    """The delivery error for a failed `SendEmail` (see the module's table). `from_email` is our
    sender, to tell an unverified sender from a recipient the SES sandbox refuses."""
    if isinstance(error, ClientError):
        return _classify_answer(error, from_email)
    if isinstance(error, _CREDENTIAL_ERRORS):
        return ProviderUnavailableError(f"ses: no usable AWS credentials ({type(error).__name__}: {error})")
    if isinstance(error, _NOT_SENT_ERRORS):
        return ProviderUnavailableError(f"ses: could not connect ({type(error).__name__}: {error})")
    if isinstance(error, HTTPClientError | BotocoreConnectionError):
        # ReadTimeoutError and ConnectionClosedError (HTTPClientErrors): the request had gone out. A TLS
        # or proxy failure (ConnectionErrors) most likely had not, but nothing says so for certain.
        return ProviderUnavailableError(
            f"ses: no answer, the message may have been sent ({type(error).__name__}: {error})",
            maybe_sent=True,
        )
    if isinstance(error, ParamValidationError):
        return PermanentDeliveryError(f"ses: invalid request ({scrub(str(error))[:200]})")
    return TransientDeliveryError(f"ses: {type(error).__name__}: {scrub(str(error))[:200]}")


def _classify_answer(error: ClientError, from_email: str) -> DeliveryError:  # noqa: PLR0911 - one return per row
    details = error.response.get("Error", {})
    metadata = error.response.get("ResponseMetadata", {})
    code = str(details.get("Code") or "")
    message = str(details.get("Message") or "")
    status = int(metadata.get("HTTPStatusCode") or 0)
    reason = f"ses {status} {code}: {scrub(message)[:200] or 'no details'}"
    if code in THROTTLE_CODES or status == 429:
        if DAILY_QUOTA in message.lower():
            return ProviderUnavailableError(f"{reason} (the 24-hour sending quota is used up)")
        return TransientDeliveryError(reason, RATE_RETRY_SECONDS)
    if code in PROVIDER_CODES:
        return ProviderUnavailableError(f"{reason} (check the SES account and its configuration)")
    if code in CREDENTIAL_CODES or code.startswith("ExpiredToken") or status in (401, 403):
        return ProviderUnavailableError(f"{reason} (check the role's permissions and credentials)")
    if code in SERVER_CODES or status >= 500:
        return ProviderUnavailableError(reason)
    if code == "MessageRejected" and NOT_VERIFIED.match(message):
        return _unverified(reason, message, from_email)
    return PermanentDeliveryError(reason)


def _unverified(reason: str, message: str, from_email: str) -> DeliveryError:
    """ "Email address is not verified": the sender's problem when SES names our From address among
    the identities that failed (or names none we can read), else the SES sandbox refusing a recipient
    that is not verified (another provider may send to them)."""
    listed = _IDENTITIES.search(message)
    text = listed.group("identities") if listed else NOT_VERIFIED.sub("", message, count=1)
    identities = {a.strip().rstrip(".").lower() for _, a in getaddresses([text]) if "@" in a}
    ours = {from_email.lower(), ascii_address(from_email).lower()}
    if not identities or identities & ours:
        return ProviderUnavailableError(f"{reason} (the sender is not a verified SES identity)")
    return RouteUnavailableError(
        f"{reason} (the SES account is in the sandbox: it sends only to verified addresses)"
    )
