"""Each vendor's real SDK request path, from an SQS batch to a loopback fake of the vendor's HTTP API.

The consumers run as deployed (moto for AWS): SendGrid and FCM are built from credentials in Secrets
Manager, as in a stack; Twilio's SDK cannot be given a base URL, so its provider is built with the
fake's HTTP client and handed to the consumer. The SendGrid and Twilio fakes check every request
against the vendor's API description; a request it rejects fails the test when the fake stops.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from firebase_admin import messaging

from devstack.fakes.fcm import FcmFake
from devstack.fakes.sendgrid import SendGridFake
from devstack.fakes.twilio import TwilioFake
from devstack.lambda_events import load_event, sqs_event
from notifier import runtime, vendors
from notifier.errors import ConfigurationError, ProviderUnavailableError
from notifier.models.channels import Channel, Priority
from notifier.models.envelope import EmailMessage
from notifier.models.recipients import Contacts, PushToken, Recipient
from notifier.providers.base import Delivery
from notifier.providers.twilio_sms import TwilioConfig, TwilioProvider

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "twilio-auth-token"
SENDER = "+14155550199"


def event_batch(sample: str, count: int = 1) -> tuple[dict[str, Any], list[str]]:
    """`count` copies of the sample's event for the stored recipient (no inline address)."""
    batch = load_event(sample)
    record = next(r for r in batch["Records"] if not json.loads(r["body"])["addresses"])
    records = []
    for i in range(count):
        envelope = json.loads(record["body"])
        envelope["notification_id"] = f"{envelope['notification_id'][:-4]}{i:04d}"
        records.append({**record, "messageId": f"message-{i}", "body": json.dumps(envelope)})
    return sqs_event(records), [json.loads(r["body"])["notification_id"] for r in records]


def event_deliveries(batch: dict[str, Any]) -> list[Delivery]:
    """The batch's e-mails as the consumer hands them to its provider (to user_123)."""
    return [
        Delivery(
            json.loads(r["body"])["notification_id"],
            "user-123@example.com",
            EmailMessage(subject="s", text="t", html="<p>t</p>"),
            Priority.CRITICAL,
        )
        for r in batch["Records"]
    ]


def channel_status(notification_id: str, channel: Channel):
    found = runtime.status_store().get(notification_id)
    assert found is not None
    return found.channels[channel]


def failed_ids(answer: dict[str, Any]) -> list[str]:
    return [item["itemIdentifier"] for item in answer["batchItemFailures"]]


def store_secret(name: str, value: dict[str, Any]) -> None:
    boto3.client("secretsmanager").create_secret(Name=name, SecretString=json.dumps(value))


# --------------------------------------------------------------------------------------------
# SendGrid
# --------------------------------------------------------------------------------------------


@pytest.fixture
def sendgrid(deployment, monkeypatch, user_123) -> Iterator[SendGridFake]:
    with SendGridFake(api_key="SG.test-key") as fake:
        store_secret("notifier/sendgrid", {"api_key": "SG.test-key"})
        monkeypatch.setenv("SENDGRID_CREDENTIALS", "notifier/sendgrid")
        monkeypatch.setenv("SENDGRID_HOST", fake.url)
        monkeypatch.setenv("EMAIL_FROM", "notifications@example.com")
        monkeypatch.setenv("EMAIL_FROM_NAME", "Example")
        runtime.reset()
        yield fake


def test_sendgrid_gets_one_mail_send_with_the_key_the_sender_and_both_parts(consumers, sendgrid, user_123):
    batch, [notification_id] = event_batch("sqs_email_critical.json")

    answer = consumers["email"](batch)

    assert answer == {"batchItemFailures": []}
    [request] = sendgrid.requests
    assert (request.method, request.path) == ("POST", "/v3/mail/send")
    assert request.headers["Authorization"] == "Bearer SG.test-key"
    body = request.json
    assert body["personalizations"][0]["to"] == [{"email": user_123.contacts.email}]
    assert body["from"] == {"email": "notifications@example.com", "name": "Example"}
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]
    assert body["custom_args"] == {"notification_id": notification_id}
    found = channel_status(notification_id, Channel.EMAIL)
    assert found.status == "SENT"
    assert found.provider_message_id  # SendGrid's X-Message-Id


def test_a_sendgrid_rate_limit_fails_the_record_for_now_and_the_retry_delivers_it(
    consumers, sendgrid, user_123
):
    assert user_123.contacts.email
    sendgrid.fail_rate_limited(user_123.contacts.email, reset_epoch=int(time.time()) + 60, times=1)
    batch, [notification_id] = event_batch("sqs_email_standard.json")

    first = consumers["email"](batch)
    after_first = channel_status(notification_id, Channel.EMAIL)
    second = consumers["email"](batch)  # SQS delivers the failed record again

    assert failed_ids(first) == ["message-0"]
    assert after_first.status == "QUEUED"
    assert "sendgrid 429" in (after_first.last_error or "")
    assert second == {"batchItemFailures": []}
    assert channel_status(notification_id, Channel.EMAIL).status == "SENT"
    assert len(sendgrid.requests) == 2


def test_a_sendgrid_bad_request_fails_the_notification_without_a_retry(consumers, sendgrid, user_123):
    assert user_123.contacts.email
    sendgrid.fail(
        user_123.contacts.email,
        400,
        SendGridFake.error_body("Does not contain a valid address.", "personalizations.0.to"),
    )
    batch, [notification_id] = event_batch("sqs_email_critical.json")

    answer = consumers["email"](batch)

    assert answer == {"batchItemFailures": []}
    found = channel_status(notification_id, Channel.EMAIL)
    assert found.status == "FAILED"
    assert "Does not contain a valid address." in (found.last_error or "")
    assert len(sendgrid.requests) == 1


def test_rotated_sendgrid_credentials_are_used_without_a_cold_start(
    consumers, sendgrid, user_123, monkeypatch
):
    monkeypatch.setenv("CREDENTIALS_CACHE_SECONDS", "0")
    runtime.reset()
    consumers["email"](event_batch("sqs_email_critical.json")[0])
    boto3.client("secretsmanager").put_secret_value(
        SecretId="notifier/sendgrid", SecretString=json.dumps({"api_key": "SG.rotated"})
    )
    sendgrid.api_key = "SG.rotated"

    answer = consumers["email"](event_batch("sqs_email_standard.json")[0])

    assert answer == {"batchItemFailures": []}
    assert [r.headers["Authorization"] for r in sendgrid.requests] == [
        "Bearer SG.test-key",
        "Bearer SG.rotated",
    ]


def test_missing_credentials_fail_the_invocation_naming_the_secret(consumers, deployment, monkeypatch):
    monkeypatch.setenv("SENDGRID_CREDENTIALS", "notifier/not-there")
    monkeypatch.setenv("EMAIL_FROM", "notifications@example.com")
    runtime.reset()

    with pytest.raises(ConfigurationError, match="notifier/not-there"):
        consumers["email"](event_batch("sqs_email_critical.json")[0])


# --------------------------------------------------------------------------------------------
# Twilio
# --------------------------------------------------------------------------------------------


@pytest.fixture
def twilio(deployment, user_123) -> Iterator[TwilioFake]:
    with TwilioFake(ACCOUNT_SID, AUTH_TOKEN) as fake:
        config = TwilioConfig(
            account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, from_number=SENDER, region="ie1", edge="dublin"
        )
        vendors.use_provider(Channel.SMS, TwilioProvider(config, http_client=fake.http_client(timeout=5)))
        yield fake


def test_twilio_gets_one_message_create_through_the_configured_region_and_edge(consumers, twilio, user_123):
    batch, [notification_id] = event_batch("sqs_sms_critical.json")

    answer = consumers["sms"](batch)

    assert answer == {"batchItemFailures": []}
    [request] = twilio.requests
    assert (request.method, request.path) == ("POST", f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json")
    assert twilio.original_urls == [
        f"https://api.dublin.ie1.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    ]
    expected_auth = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {expected_auth}"
    assert request.form is not None
    assert request.form["To"] == [user_123.contacts.phone]
    assert request.form["From"] == [SENDER]
    assert request.form["Body"][0]
    found = channel_status(notification_id, Channel.SMS)
    assert found.status == "SENT"
    assert (found.provider_message_id or "").startswith("SM")


def test_twilio_too_many_requests_is_retried_and_then_delivered(consumers, twilio, user_123):
    assert user_123.contacts.phone
    twilio.fail(user_123.contacts.phone, 429, TwilioFake.error_body(429, 20429, "Too Many Requests"), times=1)
    batch, [notification_id] = event_batch("sqs_sms_standard.json")

    first = consumers["sms"](batch)
    second = consumers["sms"](batch)

    assert failed_ids(first) == ["message-0"]
    assert second == {"batchItemFailures": []}
    assert channel_status(notification_id, Channel.SMS).status == "SENT"
    assert len(twilio.requests) == 2


def test_an_invalid_twilio_number_fails_the_notification_without_a_retry(consumers, twilio, user_123):
    assert user_123.contacts.phone
    twilio.fail(user_123.contacts.phone, 400, TwilioFake.error_body(400, 21211, "Invalid 'To' Phone Number"))
    batch, [notification_id] = event_batch("sqs_sms_critical.json")

    answer = consumers["sms"](batch)

    assert answer == {"batchItemFailures": []}
    found = channel_status(notification_id, Channel.SMS)
    assert found.status == "FAILED"
    assert "code 21211" in (found.last_error or "")
    assert len(twilio.requests) == 1


def test_a_messaging_service_sends_instead_of_a_number(consumers, twilio, user_123):
    service = "MG" + "f" * 32
    config = TwilioConfig(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, messaging_service_sid=service)
    vendors.use_provider(Channel.SMS, TwilioProvider(config, http_client=twilio.http_client(timeout=5)))

    consumers["sms"](event_batch("sqs_sms_critical.json")[0])

    [request] = twilio.requests
    assert request.form is not None
    assert request.form["MessagingServiceSid"] == [service]
    assert "From" not in request.form
    assert twilio.original_urls[0].startswith("https://api.twilio.com/")


def problem_details(status: int, code: int, title: str, detail: str) -> dict[str, Any]:
    """An RFC 9457 error body, as Twilio's newer answers have it (the SDK raises
    `TwilioServiceException` for one, not `TwilioRestException`)."""
    return {
        "type": f"https://www.twilio.com/docs/errors/{code}",
        "title": title,
        "status": status,
        "code": code,
        "detail": detail,
        "instance": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json",
    }


PROBLEM_JSON = {"Content-Type": "application/problem+json"}


@pytest.mark.parametrize(
    "problem",
    [
        problem_details(503, 20503, "Service Unavailable", "Try again later."),
        problem_details(429, 20429, "Too Many Requests", "Try again later."),
    ],
    ids=["503", "429"],
)
def test_an_rfc_9457_outage_or_rate_limit_from_twilio_is_retried_and_then_delivered(
    consumers, twilio, user_123, problem
):
    assert user_123.contacts.phone
    twilio.fail(user_123.contacts.phone, problem["status"], problem, headers=PROBLEM_JSON, times=1)
    batch, [notification_id] = event_batch("sqs_sms_standard.json")

    first = consumers["sms"](batch)
    after_first = channel_status(notification_id, Channel.SMS)
    second = consumers["sms"](batch)

    assert failed_ids(first) == ["message-0"]
    assert after_first.status == "QUEUED"
    expected = f"twilio {problem['status']} code {problem['code']}: {problem['title']}: Try again later."
    assert expected in (after_first.last_error or "")
    assert second == {"batchItemFailures": []}
    assert channel_status(notification_id, Channel.SMS).status == "SENT"


def test_an_rfc_9457_invalid_number_from_twilio_fails_the_notification_without_a_retry(
    consumers, twilio, user_123
):
    assert user_123.contacts.phone
    body = problem_details(400, 21211, "Invalid 'To' Phone Number", "The 'To' number is not valid.")
    twilio.fail(user_123.contacts.phone, 400, body, headers=PROBLEM_JSON)
    batch, [notification_id] = event_batch("sqs_sms_critical.json")

    answer = consumers["sms"](batch)

    assert answer == {"batchItemFailures": []}
    found = channel_status(notification_id, Channel.SMS)
    assert found.status == "FAILED"
    assert "twilio 400 code 21211: Invalid 'To' Phone Number: The 'To' number is not valid." in (
        found.last_error or ""
    )
    assert len(twilio.requests) == 1


def test_a_twilio_5xx_whose_body_is_not_json_is_retried(consumers, twilio, user_123):
    assert user_123.contacts.phone
    twilio.fail(
        user_123.contacts.phone, 502, b"<html>Bad Gateway</html>", headers={"Content-Type": "text/html"}
    )
    batch, [notification_id] = event_batch("sqs_sms_critical.json")

    answer = consumers["sms"](batch)

    assert failed_ids(answer) == ["message-0"]
    found = channel_status(notification_id, Channel.SMS)
    assert found.status == "QUEUED"
    assert "twilio 502: Unable to create record" in (found.last_error or "")  # no code: none came


def test_a_twilio_4xx_whose_body_is_not_json_fails_the_notification_without_a_retry(
    consumers, twilio, user_123
):
    assert user_123.contacts.phone
    twilio.fail(
        user_123.contacts.phone, 403, b"<html>Forbidden</html>", headers={"Content-Type": "text/html"}
    )
    batch, [notification_id] = event_batch("sqs_sms_critical.json")

    answer = consumers["sms"](batch)

    assert answer == {"batchItemFailures": []}
    found = channel_status(notification_id, Channel.SMS)
    assert found.status == "FAILED"
    assert "twilio 403: Unable to create record" in (found.last_error or "")


def test_twilio_signs_in_with_an_api_key_through_an_edge_in_its_default_region(
    consumers, deployment, user_123
):
    key_sid, key_secret = "SK" + "2" * 32, "key-secret"
    with TwilioFake(ACCOUNT_SID, AUTH_TOKEN, key_sid, key_secret) as fake:
        config = TwilioConfig(
            account_sid=ACCOUNT_SID,
            api_key_sid=key_sid,
            api_key_secret=key_secret,
            from_number=SENDER,
            edge="sydney",
        )
        vendors.use_provider(Channel.SMS, TwilioProvider(config, http_client=fake.http_client(timeout=5)))

        answer = consumers["sms"](event_batch("sqs_sms_critical.json")[0])

        assert answer == {"batchItemFailures": []}
        [request] = fake.requests
        expected_auth = base64.b64encode(f"{key_sid}:{key_secret}".encode()).decode()
        assert request.headers["Authorization"] == f"Basic {expected_auth}"
        assert request.headers["User-Agent"].startswith("twilio-python/")
        assert fake.original_urls == [
            f"https://api.sydney.us1.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
        ]


def test_a_twilio_answer_slower_than_the_clients_timeout_is_retried(consumers, twilio, user_123):
    config = TwilioConfig(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, from_number=SENDER)
    vendors.use_provider(Channel.SMS, TwilioProvider(config, http_client=twilio.http_client(timeout=0.2)))
    twilio.latency_seconds = 0.6
    batch, [notification_id] = event_batch("sqs_sms_critical.json")

    answer = consumers["sms"](batch)

    assert failed_ids(answer) == ["message-0"]
    assert "twilio: ReadTimeout" in (channel_status(notification_id, Channel.SMS).last_error or "")


def test_twilio_is_built_from_credentials_with_an_api_key_region_and_edge(deployment, monkeypatch):
    store_secret(
        "notifier/twilio",
        {"account_sid": ACCOUNT_SID, "api_key_sid": "SK" + "1" * 32, "api_key_secret": "key-secret"},
    )
    for name, value in {
        "TWILIO_CREDENTIALS": "notifier/twilio",
        "TWILIO_FROM": SENDER,
        "TWILIO_REGION": "au1",
        "TWILIO_EDGE": "sydney",
    }.items():
        monkeypatch.setenv(name, value)
    runtime.reset()

    provider = vendors.provider(Channel.SMS)

    assert isinstance(provider, TwilioProvider)
    client = provider.client
    assert (client.username, client.account_sid, client.region, client.edge) == (
        "SK" + "1" * 32,
        ACCOUNT_SID,
        "au1",
        "sydney",
    )


# --------------------------------------------------------------------------------------------
# FCM
# --------------------------------------------------------------------------------------------


@pytest.fixture
def fcm(deployment, monkeypatch, user_123) -> Iterator[FcmFake]:
    with FcmFake(project_id="notifier-test") as fake:
        store_secret("notifier/fcm", fake.service_account())
        monkeypatch.setenv("FCM_CREDENTIALS", "notifier/fcm")
        monkeypatch.setenv("FCM_MESSAGES_URL", fake.messages_url)
        runtime.reset()
        yield fake
        runtime.reset()  # deletes the firebase app while the fake still answers


@pytest.fixture
def send_each_calls(monkeypatch) -> list[int]:
    """The size of each `messaging.send_each` call (the real one is still called)."""
    calls: list[int] = []
    real = messaging.send_each

    def counting(messages, *args, **kwargs):
        calls.append(len(messages))
        return real(messages, *args, **kwargs)

    monkeypatch.setattr(messaging, "send_each", counting)
    return calls


def with_devices(recipients, recipient: Recipient, *tokens: str) -> None:
    devices = [PushToken(token=t, platform="android") for t in tokens]
    recipients.put(recipient.model_copy(update={"contacts": Contacts(push_tokens=devices)}))


def test_a_push_batch_is_one_send_each_call_with_android_apns_and_web_settings(
    consumers, fcm, send_each_calls, recipients, user_123
):
    with_devices(recipients, user_123, "fcm-token-phone-0001", "fcm-token-tablet-0002")
    batch, notification_ids = event_batch("sqs_push_critical.json", count=4)

    answer = consumers["push"](batch)

    assert answer == {"batchItemFailures": []}
    assert send_each_calls == [8]  # 4 notifications x 2 devices, one call
    sends = [r for r in fcm.requests if r.path.endswith("/messages:send")]
    assert len(sends) == 8
    assert {r.path for r in sends} == {"/v1/projects/notifier-test/messages:send"}
    assert all(r.headers["Authorization"].startswith("Bearer ") for r in sends)
    message = sends[0].json["message"]
    assert message["notification"]["title"]
    assert message["android"]["priority"] == "high"
    assert message["apns"]["headers"]["apns-priority"] == "10"
    assert message["webpush"]["headers"]["Urgency"] == "high"
    assert message["data"]["event_type"] == "LIKE"
    for notification_id in notification_ids:
        found = channel_status(notification_id, Channel.PUSH)
        assert found.status == "SENT"
        assert (found.provider_message_id or "").startswith("projects/notifier-test/messages/")


def test_fcm_unavailable_is_retried_after_its_retry_after_and_then_delivered(consumers, fcm, user_123):
    [token] = user_123.addresses(Channel.PUSH)
    fcm.fail_unavailable(token, retry_after_seconds=30, times=1)
    batch, [notification_id] = event_batch("sqs_push_standard.json")

    first = consumers["push"](batch)
    after_first = channel_status(notification_id, Channel.PUSH)
    second = consumers["push"](batch)

    assert failed_ids(first) == ["message-0"]
    assert "UNAVAILABLE" in (after_first.last_error or "")
    assert second == {"batchItemFailures": []}
    assert channel_status(notification_id, Channel.PUSH).status == "SENT"
    assert len([r for r in fcm.requests if r.path.endswith("/messages:send")]) == 2  # no SDK retry


def test_fcm_invalid_argument_fails_the_notification_without_a_retry(consumers, fcm, user_123):
    [token] = user_123.addresses(Channel.PUSH)
    fcm.fail(token, 400, FcmFake.error_body(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "bad token"))
    batch, [notification_id] = event_batch("sqs_push_critical.json")

    answer = consumers["push"](batch)

    assert answer == {"batchItemFailures": []}
    assert channel_status(notification_id, Channel.PUSH).status == "FAILED"


def test_an_unregistered_fcm_token_is_removed_from_the_recipient(consumers, fcm, recipients, user_123):
    with_devices(recipients, user_123, "fcm-token-gone-0001", "fcm-token-live-0002")
    fcm.fail_unregistered("fcm-token-gone-0001")
    batch, [notification_id] = event_batch("sqs_push_critical.json")

    answer = consumers["push"](batch)

    assert answer == {"batchItemFailures": []}
    assert channel_status(notification_id, Channel.PUSH).status == "SENT"
    stored = recipients.get(user_123.recipient_id)
    assert stored is not None
    assert stored.addresses(Channel.PUSH) == ["fcm-token-live-0002"]


# --------------------------------------------------------------------------------------------
# Credentials, timeouts and the sandbox fallback
# --------------------------------------------------------------------------------------------


def test_credentials_can_come_from_an_ssm_secure_string(consumers, deployment, monkeypatch, user_123):
    boto3.client("ssm").put_parameter(
        Name="/notifier/sendgrid", Type="SecureString", Value=json.dumps({"api_key": "SG.from-ssm"})
    )
    with SendGridFake(api_key="SG.from-ssm") as fake:
        for name, value in {
            "CREDENTIALS_STORE": "ssm",
            "SENDGRID_CREDENTIALS": "/notifier/sendgrid",
            "SENDGRID_HOST": fake.url,
            "EMAIL_FROM": "notifications@example.com",
        }.items():
            monkeypatch.setenv(name, value)
        runtime.reset()

        answer = consumers["email"](event_batch("sqs_email_critical.json")[0])

        assert answer == {"batchItemFailures": []}
        assert [r.headers["Authorization"] for r in fake.requests] == ["Bearer SG.from-ssm"]


def test_a_vendor_that_does_not_answer_in_time_is_a_transient_failure(
    consumers, sendgrid, user_123, monkeypatch
):
    monkeypatch.setenv("VENDOR_TIMEOUT_SECONDS", "0.2")
    runtime.reset()
    sendgrid.latency_seconds = 0.6
    batch, [notification_id] = event_batch("sqs_email_critical.json")

    answer = consumers["email"](batch)

    assert failed_ids(answer) == ["message-0"]
    assert "timed out" in (channel_status(notification_id, Channel.EMAIL).last_error or "")
    # SendGrid may have taken it: a fallback provider must not send it in the same attempt.
    [result] = vendors.provider(Channel.EMAIL).send_batch(event_deliveries(batch))
    assert isinstance(result, ProviderUnavailableError)
    assert result.maybe_sent is True


def test_a_vendor_that_cannot_be_reached_is_a_transient_failure(consumers, deployment, monkeypatch, user_123):
    store_secret("notifier/sendgrid", {"api_key": "SG.test-key"})
    with SendGridFake() as gone:
        unreachable = gone.url  # a loopback port nobody listens on once the fake has stopped
    for name, value in {
        "SENDGRID_CREDENTIALS": "notifier/sendgrid",
        "SENDGRID_HOST": unreachable,
        "EMAIL_FROM": "notifications@example.com",
    }.items():
        monkeypatch.setenv(name, value)
    runtime.reset()
    batch, [notification_id] = event_batch("sqs_email_critical.json")

    answer = consumers["email"](batch)

    assert failed_ids(answer) == ["message-0"]
    assert "connection failed" in (channel_status(notification_id, Channel.EMAIL).last_error or "")
    # Nothing reached SendGrid: a fallback provider may send it now.
    [result] = vendors.provider(Channel.EMAIL).send_batch(event_deliveries(batch))
    assert isinstance(result, ProviderUnavailableError)
    assert result.maybe_sent is False


def test_a_channel_without_credentials_uses_the_sandbox_and_says_so_once(consumers, outbox, user_123, caplog):
    consumers["sms"](event_batch("sqs_sms_critical.json")[0])
    consumers["sms"](event_batch("sqs_sms_standard.json")[0])

    assert len(outbox) == 2
    sandbox_notes = [m for m in caplog.messages if m.startswith("no vendor credentials configured")]
    assert len(sandbox_notes) == 1
