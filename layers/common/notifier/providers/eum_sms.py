"""SMS through AWS End User Messaging SMS (`pinpoint-sms-voice-v2` `SendTextMessage`).

The service speaks JSON 1.0: `POST /` with `X-Amz-Target: PinpointSMSVoiceV2.SendTextMessage`, signed
with SigV4 as `sms-voice`. The client is botocore's, built from a botocore session as
`notifier.platform.clients` builds its own (not boto3, which no function loads), with a config of its
own: `total_max_attempts=1`, so botocore never sends a message twice. Its retries would send a timed-out
`SendTextMessage` again (4 requests for one message with the consumers' client config); here a retry
is the caller's decision, made from the error this module raises. The role needs
`sms-voice:SendTextMessage` on the origination identity and the configuration set.

Each message carries `Context={"notification_id": <id>}`, which the configuration set's event
destination logs with every delivery event, so receipts can be matched to the notification.

How the service's answers are classified. botocore puts the error's code in `Error.Code` and the
modeled members of the error (`Reason`, `Fields`, `ResourceType`, `ResourceId`) at the top level of
`exc.response`.

| class | answers |
| --- | --- |
| sent | 200 `{"MessageId"}`: `send` returns the MessageId |
| transient, after 1 s | `ThrottlingException` (the account's messages per second), any 429 |
| provider | `InternalServerException`, any 5xx (nothing was sent) |
| provider | `AccessDeniedException`, whatever its Reason: `ACCOUNT_DISABLED`, |
|          | `INSUFFICIENT_ACCOUNT_REPUTATION`, or none (IAM); AWS's signing and token errors |
|          | (`UnrecognizedClientException`, `ExpiredTokenException`...); any other 401 or 403 |
| provider | `ServiceQuotaExceededException`, e.g. `MONTHLY_SPEND_LIMIT_REACHED_FOR_TEXT` (until the month |
|          | ends or the limit is raised) |
| provider | `ResourceNotFoundException` (the configuration set, pool, phone number, sender id...) |
| permanent | `ConflictException` `DESTINATION_PHONE_NUMBER_OPTED_OUT`: the recipient opted out |
| route | `ConflictException` `DESTINATION_PHONE_NUMBER_NOT_VERIFIED` (the account is in the SMS |
|       | sandbox), `NO_ORIGINATION_IDENTITIES_FOUND`, `MESSAGE_TYPE_MISMATCH`, |
|       | `NUMBER_CAPABILITIES_MISMATCH`, `RESOURCE_NOT_ACTIVE`, |
|       | `DESTINATION_COUNTRY_BLOCKED_BY_PROTECT_CONFIGURATION` |
| route | `ValidationException` `COUNTRY_NOT_ENABLED`, `DESTINATION_COUNTRY_BLOCKED`, |
|       | `INVALID_IDENTITY_FOR_DESTINATION_COUNTRY`, `INTERNATIONAL_SENDING_NOT_SUPPORTED`, |
|       | `SENDER_ID_NOT_REGISTERED`, `SENDER_ID_NOT_SUPPORTED`, `SENDER_ID_REQUIRES_REGISTRATION`, |
|       | `PRICE_OVER_THRESHOLD` (over MaxPrice), `CHANNEL_NOT_ENABLED` |
| permanent | `ValidationException` on the destination number: `CANNOT_PARSE`, or |
|           | `FIELD_VALIDATION_FAILED` / `INVALID_PARAMETER` whose `Fields` name `DestinationPhoneNumber` |
| permanent | any other `ValidationException` (`MAXIMUM_SIZE_EXCEEDED`, a field error on the body...) |
|           | or `ConflictException`, with its Reason and Fields in the reason; any other 4xx |
| provider, not sent | `EndpointConnectionError`, `ConnectTimeoutError` (botocore's "failed to |
|                    | establish a connection" errors): `maybe_sent=False` |
| provider, maybe sent | `ReadTimeoutError`, `ConnectionClosedError` (botocore's other HTTP client |
|                      | errors): the request went out and may have been taken, `maybe_sent=True` |
| provider, not sent | `NoCredentialsError` and botocore's other credential errors |
| permanent | `ParamValidationError`: botocore refused the request (an empty body or number) |

"provider" is `ProviderUnavailableError` (another provider may send it now; it counts against this
provider's breaker), "route" is `RouteUnavailableError` (this provider or its sender cannot serve this
message, another may), "permanent" is `PermanentDeliveryError` (FAILED wherever it is sent).
Every reason starts with "eum".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import botocore.session
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    CredentialRetrievalError,
    HTTPClientError,
    NoAuthTokenError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
    ReadTimeoutError,
    TokenRetrievalError,
    UnauthorizedSSOTokenError,
)
from botocore.exceptions import (
    ConnectionError as BotocoreConnectionError,
)

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

SERVICE = "pinpoint-sms-voice-v2"
"""botocore's name for the service (its endpoint prefix and signing name are `sms-voice`)."""

MESSAGE_TYPES = frozenset({"TRANSACTIONAL", "PROMOTIONAL"})
THROTTLE_RETRY_SECONDS = 1.0
"""How long a throttled message waits: the limit is messages per second."""

THROTTLES = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException"})
UNAVAILABLE = frozenset({"InternalServerException", "InternalFailure", "ServiceUnavailable"})
ACCOUNT = frozenset(
    {
        "AccessDeniedException",
        "ServiceQuotaExceededException",
        "ResourceNotFoundException",
        # What AWS answers any JSON service for the caller's credentials or signature.
        "AccessDenied",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "IncompleteSignatureException",
        "MissingAuthenticationToken",
        "MissingAuthenticationTokenException",
        "ExpiredToken",
        "ExpiredTokenException",
        "RequestExpired",
        "NotAuthorized",
        "OptInRequired",
    }
)
"""Codes that say the provider (its account, role, quota or configuration) cannot send anything."""

OPTED_OUT = "DESTINATION_PHONE_NUMBER_OPTED_OUT"
ROUTE_REASONS: Mapping[str, frozenset[str]] = {
    "ConflictException": frozenset(
        {
            "DESTINATION_PHONE_NUMBER_NOT_VERIFIED",
            "NO_ORIGINATION_IDENTITIES_FOUND",
            "MESSAGE_TYPE_MISMATCH",
            "NUMBER_CAPABILITIES_MISMATCH",
            "RESOURCE_NOT_ACTIVE",
            "DESTINATION_COUNTRY_BLOCKED_BY_PROTECT_CONFIGURATION",
        }
    ),
    "ValidationException": frozenset(
        {
            "COUNTRY_NOT_ENABLED",
            "DESTINATION_COUNTRY_BLOCKED",
            "INVALID_IDENTITY_FOR_DESTINATION_COUNTRY",
            "INTERNATIONAL_SENDING_NOT_SUPPORTED",
            "SENDER_ID_NOT_REGISTERED",
            "SENDER_ID_NOT_SUPPORTED",
            "SENDER_ID_REQUIRES_REGISTRATION",
            "PRICE_OVER_THRESHOLD",
            "CHANNEL_NOT_ENABLED",
        }
    ),
}
"""The Reasons, by error code, that say this provider (or its sender) cannot serve this message."""

DESTINATION = "DestinationPhoneNumber"
DESTINATION_REASONS = frozenset({"FIELD_VALIDATION_FAILED", "INVALID_PARAMETER"})
"""ValidationException Reasons that are about the destination number when `Fields` names it."""
UNPARSABLE = "CANNOT_PARSE"

CREDENTIAL_ERRORS: tuple[type[BotoCoreError], ...] = (
    NoCredentialsError,
    PartialCredentialsError,
    CredentialRetrievalError,
    NoAuthTokenError,
    TokenRetrievalError,
    UnauthorizedSSOTokenError,
)

# The model's patterns (pinpoint-sms-voice-v2 2022-03-31), to refuse a bad configuration when the
# provider is built rather than with every message.
_ORIGINATION_IDENTITY = re.compile(r"[A-Za-z0-9_:/\+-]{1,256}")
_CONFIGURATION_SET = re.compile(r"[A-Za-z0-9_:/-]{1,256}")
_MAX_PRICE = re.compile(r"[0-9]{0,2}\.[0-9]{1,5}")


@dataclass(frozen=True)
class EumConfig:
    origination_identity: str | None = None
    """A phone number, sender id or pool (its id or ARN; a shared one by its ARN). None: the
    configuration set's default, else the service picks one of the account's."""
    configuration_set: str | None = None
    """Its name or ARN: where the delivery events (with our `Context`) are published."""
    message_type: str = "TRANSACTIONAL"
    max_price: str | None = None
    """The most to pay for a message, in USD (per message part), as a string: "0.10"."""
    region: str | None = None
    """None: the environment's (AWS_REGION)."""
    timeout_seconds: float = 5.0
    endpoint_url: str | None = None
    """None: the service's endpoint for the region (or AWS_ENDPOINT_URL_PINPOINT_SMS_VOICE_V2)."""

    def __post_init__(self) -> None:
        if self.message_type not in MESSAGE_TYPES:
            raise ValueError(f"EUM message_type is one of {sorted(MESSAGE_TYPES)}, not {self.message_type!r}")
        if self.origination_identity is not None and not _ORIGINATION_IDENTITY.fullmatch(
            self.origination_identity
        ):
            raise ValueError(f"not an EUM origination identity: {self.origination_identity!r}")
        if self.configuration_set is not None and not _CONFIGURATION_SET.fullmatch(self.configuration_set):
            raise ValueError(f"not an EUM configuration set name or ARN: {self.configuration_set!r}")
        if self.max_price is not None and not _MAX_PRICE.fullmatch(self.max_price):
            raise ValueError(f'EUM max_price is USD as a string such as "0.10", not {self.max_price!r}')
        if self.timeout_seconds <= 0:
            raise ValueError(f"timeout_seconds must be positive, not {self.timeout_seconds}")


def client_config(timeout_seconds: float, max_concurrency: int) -> Config:
    """One attempt per call (see the module's docstring), a short connect timeout (failing over on an
    unreachable endpoint should not wait for the read timeout), and a connection per sending thread."""
    return Config(
        connect_timeout=min(2, timeout_seconds),
        read_timeout=timeout_seconds,
        retries={"total_max_attempts": 1},
        max_pool_connections=max_concurrency,
    )


class EumProvider(Provider):
    name = "eum"

    def __init__(
        self,
        config: EumConfig,
        *,
        session: botocore.session.Session | None = None,
        max_concurrency: int = 10,
    ) -> None:
        super().__init__(Channel.SMS, max_concurrency=max_concurrency)
        self.config = config
        # No type stubs are installed for this service: the client is typed Any, as the scheduler's is.
        self.client: Any = (session or botocore.session.get_session()).create_client(
            SERVICE,
            region_name=config.region,
            endpoint_url=config.endpoint_url,
            config=client_config(config.timeout_seconds, self.max_concurrency),
        )

    def request(self, delivery: Delivery) -> dict[str, Any]:
        """The `SendTextMessage` parameters for one delivery."""
        message = delivery.message
        if not isinstance(message, SmsMessage):
            raise PermanentDeliveryError(f"eum sends SMS, not {message.channel}")
        params: dict[str, Any] = {
            "DestinationPhoneNumber": delivery.address,
            "MessageBody": message.text,
            "MessageType": self.config.message_type,
            "Context": {"notification_id": delivery.notification_id},
        }
        if self.config.origination_identity:
            params["OriginationIdentity"] = self.config.origination_identity
        if self.config.configuration_set:
            params["ConfigurationSetName"] = self.config.configuration_set
        if self.config.max_price:
            params["MaxPrice"] = self.config.max_price
        return params

    def send(self, delivery: Delivery) -> str:
        params = self.request(delivery)
        try:
            answer = self.client.send_text_message(**params)
        except (ClientError, BotoCoreError) as exc:
            raise classify(exc) from None
        return str(answer["MessageId"])


def classify(error: Exception) -> DeliveryError:
    """The delivery error for what botocore raised on a `SendTextMessage` (see the module's docstring)."""
    if isinstance(error, ClientError):
        return classify_answer(error.response)
    if isinstance(error, BotoCoreError):
        return _classify_transport(error)
    return TransientDeliveryError(f"eum: unexpected {type(error).__name__}: {error}")


def classify_answer(response: Mapping[str, Any]) -> DeliveryError:  # noqa: PLR0911 - one return per row
    """The delivery error for the service's error answer, as botocore parsed it (`ClientError.response`)."""
    error = response.get("Error") or {}
    code = str(error.get("Code") or "")
    status = int((response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0)
    # botocore puts the error's modeled members at the top level; look in Error too, in case.
    why = response.get("Reason") or error.get("Reason")
    fields = _fields(response.get("Fields") or error.get("Fields"))
    text = _reason(status, code, why, str(error.get("Message") or ""), fields)
    if code in THROTTLES or status == 429:
        return TransientDeliveryError(text, THROTTLE_RETRY_SECONDS)
    if code in UNAVAILABLE or status >= 500:
        return ProviderUnavailableError(text)
    if code in ACCOUNT or status in (401, 403):
        return ProviderUnavailableError(text)
    if code == "ConflictException" and why == OPTED_OUT:
        return PermanentDeliveryError(f"{text} (the recipient opted out)")
    if why in ROUTE_REASONS.get(code, ()):
        return RouteUnavailableError(text)
    if code == "ValidationException" and (
        why == UNPARSABLE or (why in DESTINATION_REASONS and DESTINATION in [name for name, _ in fields])
    ):
        return PermanentDeliveryError(f"{text} (the destination number)")
    return PermanentDeliveryError(text)


def _classify_transport(error: BotoCoreError) -> DeliveryError:
    what = f"eum: {type(error).__name__} ({error})"
    if isinstance(error, ReadTimeoutError):  # sent; the service may have taken it
        return ProviderUnavailableError(what, maybe_sent=True)
    if isinstance(
        error, BotocoreConnectionError
    ):  # EndpointConnectionError, ConnectTimeoutError...: not sent
        return ProviderUnavailableError(what, maybe_sent=False)
    if isinstance(error, HTTPClientError):  # the connection failed after the request went out
        return ProviderUnavailableError(what, maybe_sent=True)
    if isinstance(error, CREDENTIAL_ERRORS):  # nothing signed, nothing sent
        return ProviderUnavailableError(what, maybe_sent=False)
    if isinstance(error, ParamValidationError):
        return PermanentDeliveryError(what)
    return TransientDeliveryError(what)


def _fields(value: Any) -> list[tuple[str, str]]:
    """A ValidationException's `Fields`: (Name, Message) of each."""
    if not isinstance(value, list):
        return []
    return [
        (str(field.get("Name") or ""), str(field.get("Message") or ""))
        for field in value
        if isinstance(field, Mapping)
    ]


def _reason(status: int, code: str, why: Any, message: str, fields: list[tuple[str, str]]) -> str:
    text = f"eum {status} {code}" + (f" {why}" if why else "") + (f": {message}" if message else "")
    if fields:
        text += " [" + "; ".join(f"{name}: {said}" if said else name for name, said in fields) + "]"
    return text
