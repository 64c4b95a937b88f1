"""A channel with a fallback provider, through the e-mail consumer as deployed (moto for AWS), with
SendGrid's and SES's loopback fakes: while SendGrid is down every e-mail goes out once, through SES,
and says so; after enough failures the breaker keeps SendGrid out of it; once SendGrid is back, the
probe closes the breaker and e-mail goes through SendGrid again."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from devstack.fakes.sendgrid import SendGridFake
from devstack.fakes.ses import SesFake
from devstack.lambda_events import load_event, sqs_event
from notifier import runtime, vendors
from notifier.models.channels import Channel
from tests.functional.test_vendor_providers import channel_status, store_secret

BREAKER_FAILURES = 3
ADDRESS = "user-123@example.com"  # user_123's, to whom the sample e-mails go


@pytest.fixture
def email_with_fallback(deployment, monkeypatch, user_123) -> Iterator[tuple[SendGridFake, SesFake]]:
    boto3.client("dynamodb").create_table(
        TableName="notifier-breakers",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    with SendGridFake(api_key="SG.test-key") as sendgrid, SesFake() as ses:
        store_secret("notifier/sendgrid", {"api_key": "SG.test-key"})
        for name, value in {
            "SENDGRID_CREDENTIALS": "notifier/sendgrid",
            "SENDGRID_HOST": sendgrid.url,
            "EMAIL_FROM": "notifications@example.com",
            "EMAIL_PROVIDERS": "sendgrid,ses",
            "AWS_ENDPOINT_URL_SESV2": ses.url,
            "BREAKERS_TABLE": "notifier-breakers",
            "BREAKER_FAILURES": str(BREAKER_FAILURES),
            "BREAKER_COOLDOWN_SECONDS": "5",
        }.items():
            monkeypatch.setenv(name, value)
        runtime.reset()
        yield sendgrid, ses


def emails(count: int, start: int = 0) -> tuple[dict[str, Any], list[str]]:
    batch = load_event("sqs_email_standard.json")
    record = next(r for r in batch["Records"] if not json.loads(r["body"])["addresses"])
    records, ids = [], []
    for i in range(start, start + count):
        envelope = json.loads(record["body"])
        envelope["notification_id"] = f"{envelope['notification_id'][:-4]}{i:04d}"
        records.append({**record, "messageId": f"message-{i}", "body": json.dumps(envelope)})
        ids.append(envelope["notification_id"])
    return sqs_event(records), ids


def test_while_the_primary_is_down_each_email_goes_once_through_the_fallback_and_says_so(
    consumers, email_with_fallback
):
    sendgrid, ses = email_with_fallback
    sendgrid.fail(ADDRESS, 503)
    batch, ids = emails(2)

    assert consumers["email"](batch) == {"batchItemFailures": []}

    assert len(sendgrid.requests) == 2  # each tried once on SendGrid
    assert len(ses.accepted) == 2  # and sent once through SES
    for notification_id, accepted in zip(
        ids, sorted(ses.accepted, key=lambda a: a.body["EmailTags"][0]["Value"]), strict=True
    ):
        status = channel_status(notification_id, Channel.EMAIL)
        assert (status.status, status.provider, status.provider_message_id) == (
            "SENT",
            "ses",
            accepted.message_id,
        )


def test_a_bad_address_is_not_sent_through_the_fallback(consumers, email_with_fallback):
    sendgrid, ses = email_with_fallback
    sendgrid.fail(ADDRESS, 400)
    batch, [notification_id] = emails(1)

    consumers["email"](batch)

    assert ses.accepted == []
    assert channel_status(notification_id, Channel.EMAIL).status == "FAILED"


def test_the_breaker_opens_keeps_the_primary_out_and_the_probe_brings_it_back(
    consumers, email_with_fallback, monkeypatch
):
    sendgrid, ses = email_with_fallback
    sendgrid.fail(ADDRESS, 503)

    consumers["email"](emails(BREAKER_FAILURES)[0])  # enough failures to open it
    tried = len(sendgrid.requests)
    consumers["email"](emails(2, start=10)[0])

    assert len(sendgrid.requests) == tried  # open: SendGrid not called at all
    assert len(ses.accepted) == BREAKER_FAILURES + 2

    sendgrid.reset()  # SendGrid is back
    later = datetime.now(UTC) + timedelta(seconds=6)  # past the cool-down
    failover = vendors.provider(Channel.EMAIL)
    monkeypatch.setattr(failover, "clock", lambda: later)
    batch, [probe] = emails(1, start=20)
    consumers["email"](batch)

    assert channel_status(probe, Channel.EMAIL).provider == "sendgrid"
    batch, [after] = emails(1, start=30)
    consumers["email"](batch)
    assert channel_status(after, Channel.EMAIL).provider == "sendgrid"
    assert len(ses.accepted) == BREAKER_FAILURES + 2


def test_while_twilio_is_down_an_sms_goes_once_through_end_user_messaging(
    consumers, deployment, monkeypatch, user_123
):
    from devstack.fakes.eum import EumFake  # noqa: PLC0415
    from devstack.fakes.twilio import TwilioFake  # noqa: PLC0415
    from notifier.providers.twilio_sms import TwilioConfig, TwilioProvider  # noqa: PLC0415
    from tests.functional.test_vendor_providers import ACCOUNT_SID, AUTH_TOKEN, SENDER, event_batch  # noqa: PLC0415

    with TwilioFake(ACCOUNT_SID, AUTH_TOKEN) as twilio, EumFake(region="us-east-1") as eum:
        monkeypatch.setenv("SMS_PROVIDERS", "twilio,eum")
        monkeypatch.setenv("AWS_ENDPOINT_URL_PINPOINT_SMS_VOICE_V2", eum.url)
        runtime.reset()
        config = TwilioConfig(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, from_number=SENDER)
        vendors.use_named_provider(
            "twilio", TwilioProvider(config, http_client=twilio.http_client(timeout=5))
        )
        twilio.fail(user_123.contacts.phone, 503)
        batch, [notification_id] = event_batch("sqs_sms_critical.json")

        assert consumers["sms"](batch) == {"batchItemFailures": []}

        assert len(twilio.requests) == 1
        [sent] = eum.requests
        assert json.loads(sent.body)["Context"] == {"notification_id": notification_id}
        status = channel_status(notification_id, Channel.SMS)
        assert (status.status, status.provider) == ("SENT", "eum")
