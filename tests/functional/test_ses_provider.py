"""The SES provider through botocore's real request path: against the loopback SES fake (which checks
each request against botocore's own sesv2 model), through the e-mail consumer, and once against moto.

What matters most here: botocore sends each `SendEmail` once. A read timeout reaches SES exactly once
and comes back as "maybe sent"; a refused connection never reached it and comes back as "not sent".
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from email.header import decode_header, make_header
from email.utils import parseaddr
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.config import Config
from moto import mock_aws
from moto.ses.models import ses_backends

from devstack.fakes import SesFake
from devstack.fakes.ses import ANY, DAILY_QUOTA, MAXIMUM_RATE, SEND_EMAIL, not_verified
from notifier import vendors
from notifier.errors import (
    PermanentDeliveryError,
    ProviderUnavailableError,
    RouteUnavailableError,
    TransientDeliveryError,
)
from notifier.models.channels import Channel, Priority
from notifier.models.envelope import EmailMessage
from notifier.providers.base import Delivery, SentMessage
from notifier.providers.ses_email import SesConfig, SesProvider
from tests.functional.test_vendor_providers import channel_status, event_batch

FROM = "notifications@example.com"
RECIPIENT = "jane@example.org"
OTHER = "max@example.net"
MOTO_ACCOUNT = "123456789012"
"""moto's default account."""


def delivery(address: str = RECIPIENT, html: str | None = "<p>It <b>shipped</b>.</p>") -> Delivery:
    return Delivery(
        notification_id=str(uuid.uuid4()),
        address=address,
        message=EmailMessage(subject="Your order ✓", text="It shipped.", html=html),
        priority=Priority.CRITICAL,
    )


def provider_for(fake: SesFake, timeout: float = 5.0, **config: Any) -> SesProvider:
    values: dict[str, Any] = {"from_email": FROM, "from_name": "Example Shop", "region": "eu-west-1"}
    return SesProvider(
        SesConfig(**{**values, **config}, timeout_seconds=timeout, endpoint_url=fake.url), max_concurrency=4
    )


def result_of(provider: SesProvider, one: Delivery) -> Any:
    [result] = provider.send_batch([one])
    return result


@pytest.fixture
def ses() -> Iterator[SesFake]:
    with SesFake() as fake:
        yield fake


# -------------------------------------------------------------------------------- the request


def test_one_send_email_with_the_sender_both_parts_the_tag_and_the_configuration_set(ses):
    provider = provider_for(ses, configuration_set="notifier-events")
    one = delivery()

    result = result_of(provider, one)

    [accepted] = ses.accepted
    assert isinstance(result, SentMessage)
    assert (result, result.provider) == (accepted.message_id, "ses")
    [request] = ses.requests
    assert (request.method, request.path) == ("POST", SEND_EMAIL)
    assert request.content_type == "application/json"
    assert "/eu-west-1/ses/aws4_request" in request.headers["Authorization"]
    assert request.json == {
        "FromEmailAddress": f"Example Shop <{FROM}>",
        "Destination": {"ToAddresses": [RECIPIENT]},
        "Content": {
            "Simple": {
                "Subject": {"Data": "Your order ✓", "Charset": "UTF-8"},
                "Body": {
                    "Text": {"Data": "It shipped.", "Charset": "UTF-8"},
                    "Html": {"Data": "<p>It <b>shipped</b>.</p>", "Charset": "UTF-8"},
                },
            }
        },
        "EmailTags": [{"Name": "notification_id", "Value": one.notification_id}],
        "ConfigurationSetName": "notifier-events",
    }


def test_a_display_name_that_is_not_ascii_arrives_encoded_and_decodes_to_itself(ses):
    provider = provider_for(ses, from_name="Zoë, Ünïcødé Ltd.")

    result_of(provider, delivery(html=None))

    [request] = ses.requests
    header = request.json["FromEmailAddress"]
    name, address = parseaddr(header)
    assert header.isascii()
    assert address == FROM
    assert str(make_header(decode_header(name))) == "Zoë, Ünïcødé Ltd."
    assert request.json["Content"]["Simple"]["Body"] == {"Text": {"Data": "It shipped.", "Charset": "UTF-8"}}
    assert "ConfigurationSetName" not in request.json


def test_a_batch_is_sent_concurrently_one_request_per_message(ses):
    provider = provider_for(ses)
    ses.latency_seconds = 0.2
    deliveries = [delivery(f"user{i}@example.org") for i in range(4)]

    started = time.perf_counter()
    results = provider.send_batch(deliveries)
    elapsed = time.perf_counter() - started

    assert all(isinstance(r, SentMessage) for r in results)
    assert len(set(results)) == 4
    assert elapsed < 0.6  # four at once, not one after the other (0.8 s)
    assert sorted(r.json["Destination"]["ToAddresses"][0] for r in ses.requests) == sorted(
        d.address for d in deliveries
    )


# -------------------------------------------------------------------------------- timeouts and outages


def test_a_read_timeout_reaches_ses_exactly_once_and_may_have_been_sent(ses):
    provider = provider_for(ses, timeout=0.4)
    ses.delay(RECIPIENT, seconds=3)

    started = time.perf_counter()
    error = result_of(provider, delivery())
    elapsed = time.perf_counter() - started

    assert type(error) is ProviderUnavailableError
    assert error.maybe_sent is True
    assert "ReadTimeoutError" in error.reason
    assert elapsed < 1.5  # one read timeout, not botocore's retries after it
    assert len(ses.requests) == 1
    time.sleep(0.5)  # nothing sent late either
    assert len(ses.requests) == 1


def test_a_refused_connection_never_reached_ses_and_was_not_sent(ses):
    provider = provider_for(ses)
    result_of(provider, delivery())  # a kept-alive connection in the client's pool
    ses.down()

    error = result_of(provider, delivery())

    assert type(error) is ProviderUnavailableError
    assert error.maybe_sent is False
    assert "EndpointConnectionError" in error.reason
    ses.up()  # on the same port: the same client sends again
    assert isinstance(result_of(provider, delivery()), SentMessage)
    assert len(ses.requests) == 2


def test_a_bare_503_is_provider_level_and_not_retried_by_botocore(ses):
    provider = provider_for(ses)
    ses.fail_unavailable(times=1)

    error = result_of(provider, delivery())

    assert type(error) is ProviderUnavailableError
    assert error.maybe_sent is False
    assert error.reason.startswith("ses 503")
    assert len(ses.requests) == 1
    assert isinstance(result_of(provider, delivery()), SentMessage)


def test_without_credentials_nothing_is_sent_and_the_provider_is_unavailable(ses, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    provider = provider_for(ses)

    error = result_of(provider, delivery())

    assert type(error) is ProviderUnavailableError
    assert "NoCredentialsError" in error.reason
    assert ses.requests == []


# -------------------------------------------------------------------------------- SES's errors


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        ("TooManyRequestsException", MAXIMUM_RATE, TransientDeliveryError),
        ("TooManyRequestsException", DAILY_QUOTA, ProviderUnavailableError),
        ("AccountSuspendedException", "Your account is suspended.", ProviderUnavailableError),
        ("SendingPausedException", "Sending is paused for this account.", ProviderUnavailableError),
        ("MailFromDomainNotVerifiedException", "MAIL FROM domain not verified.", ProviderUnavailableError),
        ("NotFoundException", "Configuration set <notifier> does not exist.", ProviderUnavailableError),
        ("LimitExceededException", "Too many requests.", ProviderUnavailableError),
        ("AccessDeniedException", "not authorized to perform ses:SendEmail", ProviderUnavailableError),
        ("UnrecognizedClientException", "The security token is invalid.", ProviderUnavailableError),
        ("ExpiredTokenException", "The security token has expired.", ProviderUnavailableError),
        ("InternalFailure", "Internal failure.", ProviderUnavailableError),
        ("ServiceUnavailable", "Service unavailable.", ProviderUnavailableError),
        ("MessageRejected", not_verified(FROM, RECIPIENT), ProviderUnavailableError),
        ("MessageRejected", not_verified(RECIPIENT), RouteUnavailableError),
        ("MessageRejected", "Message rejected: virus detected.", PermanentDeliveryError),
        ("BadRequestException", "Missing final '@domain'", PermanentDeliveryError),
    ],
)
def test_each_scripted_ses_error_is_classified(ses, code, message, expected):
    provider = provider_for(ses)
    ses.fail_with(RECIPIENT, code, message)

    error = result_of(provider, delivery())
    unaffected = result_of(provider, delivery(OTHER))  # the script is about one recipient

    assert type(error) is expected
    assert error.reason.startswith("ses ")
    assert code in error.reason
    assert RECIPIENT not in error.reason
    assert isinstance(unaffected, SentMessage)
    assert len(ses.requests) == 2  # each once: botocore retried nothing
    if expected is TransientDeliveryError:
        assert error.retry_after_seconds == 1.0


def test_a_global_script_answers_every_recipient_then_ends(ses):
    provider = provider_for(ses)
    ses.fail_with(ANY, "SendingPausedException", "Sending paused.", times=2)

    results = [result_of(provider, delivery(address)) for address in (RECIPIENT, OTHER, RECIPIENT)]

    assert [type(r) for r in results] == [ProviderUnavailableError, ProviderUnavailableError, SentMessage]


def test_the_fake_answers_ses_errors_with_their_modeled_status(ses):
    ses.fail_with(RECIPIENT, "TooManyRequestsException", MAXIMUM_RATE, times=1)
    ses.fail_with(RECIPIENT, "NotFoundException", "no such configuration set", times=1)
    ses.fail_with(RECIPIENT, "AccessDeniedException", "denied", times=1)
    client = raw_client(ses)

    answers = []
    for _ in range(3):
        with pytest.raises(client.exceptions.ClientError) as raised:
            client.send_email(**minimal_request())
        answers.append(
            (
                raised.value.response["Error"]["Code"],
                raised.value.response["ResponseMetadata"]["HTTPStatusCode"],
            )
        )

    assert answers == [
        ("TooManyRequestsException", 429),
        ("NotFoundException", 404),
        ("AccessDeniedException", 403),
    ]
    with pytest.raises(ValueError, match="no status"):
        ses.fail_with(RECIPIENT, "SomethingNew", "?")


# -------------------------------------------------------------------------------- the fake's checks


def raw_client(fake: SesFake) -> Any:
    """botocore's sesv2 client at the fake, without botocore's own parameter checks (so a request
    that breaks the model reaches the fake), and without retries."""
    return botocore.session.get_session().create_client(
        "sesv2",
        region_name="us-east-1",
        endpoint_url=fake.url,
        config=Config(parameter_validation=False, retries={"total_max_attempts": 1}),
    )


def minimal_request(**changes: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "FromEmailAddress": FROM,
        "Destination": {"ToAddresses": [RECIPIENT]},
        "Content": {"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "t"}}}},
    }
    return {**request, **changes}


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"Content": {"Simple": {"Subject": {"Data": "s"}}}}, "Missing required parameter"),
        ({"Destination": {"ToAddresses": [5]}}, "Invalid type for parameter Destination.ToAddresses[0]"),
        ({"Content": {"Simple": {"Subject": {"Data": "s"}, "Body": {}}}}, "neither Text nor Html"),
        ({"Destination": {"ToAddresses": []}}, "no address"),
        ({"EmailTags": [{"Name": "notification_id", "Value": "a:b"}]}, "is not of [A-Za-z0-9_-]"),
    ],
)
def test_a_request_that_breaks_the_model_is_a_violation_answered_400(ses, changes, problem):
    client = raw_client(ses)

    with pytest.raises(client.exceptions.BadRequestException):
        client.send_email(**minimal_request(**changes))

    violations = ses.pop_violations()
    assert len(violations) >= 1
    assert any(problem in v for v in violations), violations
    assert ses.accepted == []


def test_an_unsigned_request_is_a_violation(ses):
    request = urllib.request.Request(  # noqa: S310 - the fake, on loopback
        ses.url + SEND_EMAIL, data=b"{}", headers={"Content-Type": "application/json"}, method="POST"
    )

    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=5)  # noqa: S310

    assert raised.value.code == 403
    assert raised.value.headers["x-amzn-ErrorType"].startswith("MissingAuthenticationTokenException:")
    assert ses.pop_violations() == [f"POST {SEND_EMAIL}: no SigV4 Authorization header"]


# -------------------------------------------------------------------------------- through the consumer


def test_the_email_consumer_sends_through_ses_and_records_it(consumers, user_123, ses):
    vendors.use_provider(Channel.EMAIL, provider_for(ses, configuration_set="notifier-events"))
    batch, [notification_id] = event_batch("sqs_email_critical.json")

    answer = consumers["email"](batch)

    assert answer == {"batchItemFailures": []}
    [accepted] = ses.accepted
    assert accepted.body["Destination"] == {"ToAddresses": [user_123.contacts.email]}
    assert accepted.body["EmailTags"] == [{"Name": "notification_id", "Value": notification_id}]
    found = channel_status(notification_id, Channel.EMAIL)
    assert found.status == "SENT"
    assert found.provider == "ses"
    assert found.provider_message_id == accepted.message_id


# -------------------------------------------------------------------------------- moto


def test_moto_accepts_a_send_once_the_identity_exists():
    with mock_aws():
        provider = SesProvider(SesConfig(from_email=FROM, from_name="Example Shop", region="us-east-1"))
        before = result_of(provider, delivery())  # no identity yet: moto says the sender is unverified
        boto3.client("sesv2", region_name="us-east-1").create_email_identity(EmailIdentity="example.com")

        result = result_of(provider, delivery())

        [sent] = ses_backends[MOTO_ACCOUNT]["us-east-1"].sent_messages
    assert type(before) is ProviderUnavailableError
    assert "sender is not a verified SES identity" in before.reason
    assert isinstance(result, SentMessage)
    assert result == sent.id
    assert sent.source == f"Example Shop <{FROM}>"
    assert sent.destinations == {"ToAddresses": [RECIPIENT]}
    assert sent.subject == "Your order ✓"
