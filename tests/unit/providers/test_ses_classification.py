"""Amazon SES v2 `SendEmail`: every answer classified as the research's table says (design-notes
issue21-research.md, section 2; the table is also in notifier.providers.ses_email's docstring), and
the request the provider makes of its client."""

from __future__ import annotations

from email.header import decode_header, make_header
from email.utils import parseaddr
from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from notifier.errors import (
    PermanentDeliveryError,
    ProviderUnavailableError,
    RouteUnavailableError,
    TransientDeliveryError,
)
from notifier.models.channels import Priority
from notifier.models.envelope import EmailMessage, SmsMessage
from notifier.providers.base import Delivery, SentMessage
from notifier.providers.ses_email import SesConfig, SesProvider, ascii_address, classify

FROM = "noreply@example.com"
RECIPIENT = "jane.doe@example.org"
URL = "https://email.us-east-1.amazonaws.com/v2/email/outbound-emails"
NOTIFICATION_ID = "6f1c1f0e-5a43-4d5e-9a57-2f6f1b3c0d9e"


def answer(status: int, code: str, message: str = "") -> ClientError:
    """The ClientError botocore raises for an SES error answer."""
    response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, "RetryAttempts": 0},
    }
    return ClientError(response, "SendEmail")


def not_verified(*identities: str) -> str:
    return (
        "Email address is not verified. The following identities failed the check in region US-EAST-1: "
        + ", ".join(identities)
    )


def classified(error: Any) -> Any:
    return classify(error, from_email=FROM)


# -------------------------------------------------------------------------------- throttles


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        (429, "TooManyRequestsException", "Maximum sending rate exceeded."),
        (400, "ThrottlingException", "Maximum sending rate exceeded."),
        (400, "Throttling", "Rate exceeded"),
        (429, "TooManyRequestsException", ""),
    ],
)
def test_the_per_second_sending_rate_is_transient_and_retried_after_a_second(status, code, message):
    error = classified(answer(status, code, message))

    assert type(error) is TransientDeliveryError  # not provider-level: no failover, no breaker
    assert error.retry_after_seconds == 1.0
    assert error.reason.startswith(f"ses {status} {code}")


def test_the_daily_quota_used_up_is_provider_level():
    error = classified(answer(429, "TooManyRequestsException", "Daily message quota exceeded."))

    assert type(error) is ProviderUnavailableError
    assert not error.maybe_sent
    assert "24-hour" in error.reason


# -------------------------------------------------------------------------------- the account


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "AccountSuspendedException"),
        (400, "SendingPausedException"),
        (400, "MailFromDomainNotVerifiedException"),
        (404, "NotFoundException"),
        (400, "LimitExceededException"),
    ],
)
def test_account_and_configuration_errors_are_provider_level(status, code):
    error = classified(answer(status, code, "the account says no"))

    assert type(error) is ProviderUnavailableError
    assert not error.maybe_sent
    assert error.reason.startswith(f"ses {status} {code}: the account says no")


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (403, "AccessDeniedException"),
        (403, "AccessDenied"),
        (403, "UnrecognizedClientException"),
        (403, "InvalidClientTokenId"),
        (403, "ExpiredTokenException"),
        (400, "ExpiredToken"),
        (403, "SignatureDoesNotMatch"),
        (403, "InvalidSignatureException"),
        (403, "MissingAuthenticationTokenException"),
        (403, "SomethingNewAboutTheRole"),  # any 403
    ],
)
def test_the_role_and_its_credentials_are_provider_level(status, code):
    error = classified(answer(status, code, "not authorized to perform ses:SendEmail"))

    assert type(error) is ProviderUnavailableError
    assert "permissions and credentials" in error.reason


@pytest.mark.parametrize(
    "error",
    [
        NoCredentialsError(),
        PartialCredentialsError(provider="env", cred_var="AWS_SECRET_ACCESS_KEY"),
        CredentialRetrievalError(provider="container-role", error_msg="no answer"),
    ],
)
def test_botocore_without_credentials_is_provider_level(error):
    classified_error = classified(error)

    assert type(classified_error) is ProviderUnavailableError
    assert not classified_error.maybe_sent
    assert classified_error.reason.startswith("ses: no usable AWS credentials")


@pytest.mark.parametrize(
    ("status", "code"),
    [(500, "InternalFailure"), (503, "ServiceUnavailable"), (503, "503"), (502, "502"), (500, "")],
)
def test_ses_being_unwell_is_provider_level_and_nothing_was_sent(status, code):
    error = classified(answer(status, code, "Service Unavailable"))

    assert type(error) is ProviderUnavailableError
    assert not error.maybe_sent


# -------------------------------------------------------------------------------- "not verified"


@pytest.mark.parametrize(
    "message",
    [
        not_verified(FROM),
        not_verified(FROM, RECIPIENT),
        not_verified(RECIPIENT, "NoReply@Example.COM"),  # addresses compare without case
        not_verified(f"Notifier <{FROM}>"),  # with the display name
        f"Email address not verified Notifier <{FROM}>",  # moto's wording
        "Email address is not verified.",  # no identity named: the sender is the likely one
    ],
)
def test_an_unverified_sender_is_provider_level(message):
    error = classified(answer(400, "MessageRejected", message))

    assert type(error) is ProviderUnavailableError
    assert "sender is not a verified SES identity" in error.reason


@pytest.mark.parametrize(
    "message",
    [
        not_verified(RECIPIENT),
        not_verified(RECIPIENT, "other@example.net."),
        not_verified(f'"Doe, Jane" <{RECIPIENT}>'),
    ],
)
def test_an_account_in_the_sandbox_refusing_an_unverified_recipient_is_a_route_error(message):
    error = classified(answer(400, "MessageRejected", message))

    assert type(error) is RouteUnavailableError
    assert isinstance(error, PermanentDeliveryError)  # FAILED when there is no other provider
    assert "sandbox" in error.reason


def test_a_sender_with_an_international_domain_is_recognised_in_its_punycode_form():
    error = classify(
        answer(400, "MessageRejected", not_verified("noreply@xn--bcher-kva.example")),
        from_email="noreply@bücher.example",
    )

    assert type(error) is ProviderUnavailableError


# -------------------------------------------------------------------------------- the message


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        (400, "MessageRejected", "Message rejected: a virus was detected"),
        (400, "MessageRejected", "Illegal address"),
        (400, "BadRequestException", "Missing final '@domain'"),
        (400, "InvalidParameterValue", "Missing domain"),  # any other 4xx
        (413, "RequestEntityTooLarge", ""),
    ],
)
def test_what_is_wrong_with_the_message_is_permanent(status, code, message):
    error = classified(answer(status, code, message))

    assert type(error) is PermanentDeliveryError
    assert error.reason.startswith(f"ses {status} {code}")


def test_a_request_botocore_cannot_make_is_permanent():
    error = classified(ParamValidationError(report="Invalid length for parameter Destination.ToAddresses[0]"))

    assert type(error) is PermanentDeliveryError
    assert error.reason.startswith("ses: invalid request")


# -------------------------------------------------------------------------------- the network


@pytest.mark.parametrize(
    "error",
    [EndpointConnectionError(endpoint_url=URL), ConnectTimeoutError(endpoint_url=URL)],
)
def test_a_connection_that_never_opened_is_provider_level_and_surely_not_sent(error):
    classified_error = classified(error)

    assert type(classified_error) is ProviderUnavailableError
    assert classified_error.maybe_sent is False
    assert classified_error.reason.startswith("ses: could not connect")


@pytest.mark.parametrize(
    "error",
    [ReadTimeoutError(endpoint_url=URL), ConnectionClosedError(endpoint_url=URL)],
)
def test_no_answer_after_the_request_went_out_is_provider_level_and_maybe_sent(error):
    classified_error = classified(error)

    assert type(classified_error) is ProviderUnavailableError
    assert classified_error.maybe_sent is True
    assert "may have been sent" in classified_error.reason


# -------------------------------------------------------------------------------- reasons


@pytest.mark.parametrize(
    "error",
    [
        answer(400, "MessageRejected", not_verified(RECIPIENT)),
        answer(400, "MessageRejected", f"Address blacklisted: {RECIPIENT}"),
        answer(400, "BadRequestException", f"Invalid address {RECIPIENT}"),
        answer(503, "ServiceUnavailable", f"while sending to {RECIPIENT}"),
    ],
)
def test_reasons_start_with_ses_and_mask_the_recipient(error):
    reason = classified(error).reason

    assert reason.startswith("ses ")
    assert RECIPIENT not in reason
    assert "j***@e***.org" in reason


def test_a_long_message_is_cut_in_the_reason():
    assert len(classified(answer(400, "BadRequestException", "x" * 5000)).reason) < 300


# -------------------------------------------------------------------------------- the request


class RecordingClient:
    """Stands in for botocore's sesv2 client: records `send_email`, answers or raises."""

    def __init__(self, outcome: dict[str, Any] | Exception) -> None:
        self.outcome = outcome
        self.calls: list[dict[str, Any]] = []

    def send_email(self, **request: Any) -> dict[str, Any]:
        self.calls.append(request)
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


def delivery(message: Any = None, notification_id: str = NOTIFICATION_ID) -> Delivery:
    return Delivery(
        notification_id=notification_id,
        address=RECIPIENT,
        message=message or EmailMessage(subject="Your order", text="It shipped.", html="<p>It shipped.</p>"),
        priority=Priority.STANDARD,
    )


def test_send_makes_one_simple_send_email_and_returns_the_message_id():
    client = RecordingClient({"MessageId": "0100-abc"})
    provider = SesProvider(
        SesConfig(from_email=FROM, from_name="Example Shop", configuration_set="notifier"), client=client
    )

    [result] = provider.send_batch([delivery()])

    assert result == "0100-abc"
    assert isinstance(result, SentMessage)
    assert result.provider == "ses"
    assert client.calls == [
        {
            "FromEmailAddress": f"Example Shop <{FROM}>",
            "Destination": {"ToAddresses": [RECIPIENT]},
            "Content": {
                "Simple": {
                    "Subject": {"Data": "Your order", "Charset": "UTF-8"},
                    "Body": {
                        "Text": {"Data": "It shipped.", "Charset": "UTF-8"},
                        "Html": {"Data": "<p>It shipped.</p>", "Charset": "UTF-8"},
                    },
                }
            },
            "EmailTags": [{"Name": "notification_id", "Value": NOTIFICATION_ID}],
            "ConfigurationSetName": "notifier",
        }
    ]


def test_without_html_or_a_configuration_set_neither_is_sent():
    client = RecordingClient({"MessageId": "0100-abc"})
    provider = SesProvider(SesConfig(from_email=FROM), client=client)

    provider.send(delivery(EmailMessage(subject="Hi", text="Plain.")))

    [request] = client.calls
    assert request["FromEmailAddress"] == FROM
    assert request["Content"]["Simple"]["Body"] == {"Text": {"Data": "Plain.", "Charset": "UTF-8"}}
    assert "ConfigurationSetName" not in request


def test_a_notification_id_ses_cannot_tag_is_sent_without_the_tag():
    client = RecordingClient({"MessageId": "0100-abc"})
    provider = SesProvider(SesConfig(from_email=FROM), client=client)

    provider.send(delivery(notification_id="digest:2024-05-01"))

    assert "EmailTags" not in client.calls[0]


def test_an_error_from_the_client_is_classified():
    client = RecordingClient(answer(400, "MessageRejected", not_verified(RECIPIENT)))
    provider = SesProvider(SesConfig(from_email=FROM), client=client)

    assert type(provider._result_of(delivery())) is RouteUnavailableError


def test_ses_sends_e_mail_only():
    provider = SesProvider(SesConfig(from_email=FROM), client=RecordingClient({"MessageId": "x"}))

    error = provider._result_of(delivery(SmsMessage(text="hi")))

    assert type(error) is PermanentDeliveryError
    assert error.reason.startswith("ses sends e-mail")


@pytest.mark.parametrize(
    ("name", "header"),
    [
        (None, FROM),
        ("", FROM),
        ("Example Shop", f"Example Shop <{FROM}>"),
        ("Shop, Inc.", f'"Shop, Inc." <{FROM}>'),
        ('The "Best" Shop', f'"The \\"Best\\" Shop" <{FROM}>'),
    ],
)
def test_the_from_header_quotes_the_display_name_where_it_must(name, header):
    assert SesConfig(from_email=FROM, from_name=name).from_address == header


@pytest.mark.parametrize("name", ["Zoë's Shop", "Ünïcødé, Ltd.", "通知"])
def test_a_display_name_that_is_not_ascii_is_sent_rfc_2047_encoded(name):
    header = SesConfig(from_email=FROM, from_name=name).from_address

    assert header.isascii()
    assert header.startswith("=?utf-8?")
    encoded, address = parseaddr(header)
    assert address == FROM
    assert str(make_header(decode_header(encoded))) == name


def test_a_domain_that_is_not_ascii_is_sent_in_punycode():
    assert ascii_address("anna@bücher.example") == "anna@xn--bcher-kva.example"
    assert ascii_address("anna@example.org") == "anna@example.org"
    assert ascii_address("no-at-sign") == "no-at-sign"
    config = SesConfig(from_email="noreply@bücher.example", from_name="Bücher")
    assert config.from_address == "=?utf-8?q?B=C3=BCcher?= <noreply@xn--bcher-kva.example>"


@pytest.mark.parametrize(
    ("from_email", "timeout", "problem"),
    [
        ("not-an-address", 5.0, "not an e-mail address"),
        ("zoë@example.com", 5.0, "ASCII local part"),
        (FROM, 0.0, "timeout_seconds must be positive"),
    ],
)
def test_a_config_ses_cannot_use_is_refused(from_email, timeout, problem):
    with pytest.raises(ValueError, match=problem):
        SesConfig(from_email=from_email, timeout_seconds=timeout)


@pytest.mark.parametrize(("timeout", "connect"), [(5.0, 2.0), (1.5, 1.5)])
def test_the_client_tries_each_send_once_with_the_configured_timeouts(timeout, connect):
    provider = SesProvider(
        SesConfig(from_email=FROM, region="eu-west-1", timeout_seconds=timeout), max_concurrency=7
    )

    config = provider.client.meta.config
    assert config.read_timeout == timeout
    assert config.connect_timeout == connect
    assert config.retries["total_max_attempts"] == 1
    assert config.max_pool_connections == 7
    assert provider.client.meta.service_model.service_name == "sesv2"
    assert provider.client.meta.region_name == "eu-west-1"
    assert provider.client.meta.endpoint_url == "https://email.eu-west-1.amazonaws.com"
