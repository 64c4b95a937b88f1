"""No address is stored unmasked in the status table, nor returned by GET /event/{id}, nor logged on
the way: whichever caller hands the status store a vendor's error text."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from devstack.lambda_events import api_event, record_of, sqs_event
from notifier import runtime, vendors
from notifier.errors import PermanentDeliveryError, TransientDeliveryError
from notifier.models.channels import Channel
from notifier.models.envelope import Envelope, MessageContent
from notifier.models.statuses import Status
from notifier.platform import logs
from notifier.providers import Delivery, Outbox, SandboxProvider

EMAIL = "john.doe@example.com"
EMAIL_MASKED = "j***@e***.com"
PHONE = "+15005550001"
PHONE_MASKED = "+15*******01"
APNS_TOKEN = "740f4707bebcf74f9b7c25d48e3358945f6aa01da5ddb387462c7eaf61bb78ad"
APNS_MASKED = "740f47...(64)"
TWILIO_INVALID_TO = f"twilio 400 code 21211: The 'To' number {PHONE} is not a valid phone number."
SENDGRID_INVALID_TO = f"sendgrid 400: The to email {EMAIL} does not contain a valid address."


def envelope(channels: list[Channel]) -> Envelope:
    return Envelope(
        notification_id=str(uuid.uuid4()),
        correlation_id="test-correlation",
        recipient_id="nobody-stored",
        event_type="NOTIFICATION",
        priority="standard",
        channels=channels,
        content=MessageContent(body="hello", subject="Hi"),
        addresses={Channel.EMAIL: EMAIL, Channel.SMS: PHONE, Channel.PUSH: APNS_TOKEN},
        created_at=datetime.now(UTC),
    )


def stored_error(notification_id: str, channel: Channel) -> str:
    """`last_error` as it is in the table, not as `StatusStore.get` reads it."""
    item = boto3.client("dynamodb").get_item(
        TableName=runtime.status_store().table,
        Key={"notification_id": {"S": notification_id}, "channel": {"S": channel.value}},
        ConsistentRead=True,
    )["Item"]
    return str(item["last_error"]["S"])


def read_error(notification_id: str, channel: Channel) -> str | None:
    found = runtime.status_store().get(notification_id)
    assert found is not None
    return found.channels[channel].last_error


def test_a_transient_error_is_stored_masked(deployment):
    store, sent = runtime.status_store(), envelope([Channel.SMS])
    store.accept(sent)
    assert store.begin_attempt(sent, Channel.SMS, lease_seconds=30).granted

    store.record_error(sent.notification_id, Channel.SMS, TWILIO_INVALID_TO)

    expected = f"twilio 400 code 21211: The 'To' number {PHONE_MASKED} is not a valid phone number."
    assert stored_error(sent.notification_id, Channel.SMS) == expected
    assert read_error(sent.notification_id, Channel.SMS) == expected


def test_the_reasons_of_sent_and_failed_are_stored_masked(deployment):
    store, sent = runtime.status_store(), envelope([Channel.EMAIL, Channel.PUSH])
    store.accept(sent)
    for channel in sent.channels:
        store.begin_attempt(sent, channel, lease_seconds=30)

    assert store.advance(sent.notification_id, Channel.EMAIL, Status.FAILED, error=SENDGRID_INVALID_TO)
    assert store.advance(
        sent.notification_id,
        Channel.PUSH,
        Status.SENT,
        provider_message_id="projects/p/messages/0:1500415314455276%31bd1c9631bd1c96",
        error=f"fcm UNREGISTERED: Requested entity was not found. (token {APNS_TOKEN})",
    )

    email_error = stored_error(sent.notification_id, Channel.EMAIL)
    assert EMAIL not in email_error
    assert email_error == f"sendgrid 400: The to email {EMAIL_MASKED} does not contain a valid address."
    push_error = stored_error(sent.notification_id, Channel.PUSH)
    assert APNS_TOKEN not in push_error
    assert push_error == f"fcm UNREGISTERED: Requested entity was not found. (token {APNS_MASKED})"
    found = runtime.status_store().get(sent.notification_id)
    assert found is not None
    assert found.channels[Channel.PUSH].provider_message_id == (
        "projects/p/messages/0:1500415314455276%31bd1c9631bd1c96"
    )


def test_suppress_and_dead_letter_reasons_are_stored_masked(deployment):
    store, sent = runtime.status_store(), envelope([Channel.EMAIL, Channel.SMS])

    assert store.suppress(sent, Channel.EMAIL, f"{EMAIL} opted out of NOTIFICATION")
    assert store.dead_letter(sent, Channel.SMS, f"no delivery attempt finished for {PHONE}")

    assert stored_error(sent.notification_id, Channel.EMAIL) == f"{EMAIL_MASKED} opted out of NOTIFICATION"
    sms_error = stored_error(sent.notification_id, Channel.SMS)
    assert sms_error == f"no delivery attempt finished for {PHONE_MASKED}"


def test_an_address_at_the_length_limit_is_masked_before_the_cut(deployment):
    store, sent = runtime.status_store(), envelope([Channel.EMAIL])
    store.accept(sent)
    long_error = "x" * 990 + f" {EMAIL} rejected"  # cut first, "john.doe@" would stay unmasked

    store.record_error(sent.notification_id, Channel.EMAIL, long_error)

    kept = stored_error(sent.notification_id, Channel.EMAIL)
    assert len(kept) == 1000
    assert "john.doe" not in kept
    assert kept.endswith(" j***@e***")


def test_an_error_stored_unmasked_before_is_read_masked(deployment):
    store, sent = runtime.status_store(), envelope([Channel.SMS])
    store.accept(sent)
    boto3.client("dynamodb").update_item(
        TableName=store.table,
        Key={"notification_id": {"S": sent.notification_id}, "channel": {"S": "sms"}},
        UpdateExpression="SET last_error = :error",
        ExpressionAttributeValues={":error": {"S": TWILIO_INVALID_TO}},
    )

    error = read_error(sent.notification_id, Channel.SMS)

    assert error is not None
    assert PHONE not in error
    assert PHONE_MASKED in error


# ------------------------------------------------------------------- through a consumer and the API


class EchoingVendor(SandboxProvider):
    """A vendor that echoes the address in its error texts, as SendGrid and Twilio do."""

    name = "echoing"

    def __init__(self, transient: bool) -> None:
        super().__init__(Channel.EMAIL, Outbox())
        self.transient = transient

    def send(self, delivery: Delivery) -> str:
        text = f"sendgrid 400: The to email {delivery.address} does not contain a valid address."
        raise TransientDeliveryError(text) if self.transient else PermanentDeliveryError(text)


@pytest.fixture
def function_logs() -> Iterator[io.StringIO]:
    """What the functions' Logger writes, while the test runs."""
    handler = logs.logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    stream = io.StringIO()
    previous = handler.setStream(stream)
    yield stream
    handler.setStream(previous)


@pytest.mark.parametrize("transient", [False, True], ids=["permanent", "transient"])
def test_a_vendors_error_echoing_the_address_is_masked_in_the_api_and_the_logs(
    deployment, consumers, publish, function_logs, transient
):
    vendors.use_provider(Channel.EMAIL, EchoingVendor(transient))
    sent = envelope([Channel.EMAIL])
    record = record_of(
        sent.model_dump_json(), queue_arn=deployment.stack.attrs[("EmailStandardQueue", "Arn")]
    )

    answer = consumers["email"](sqs_event([record]))
    status = publish(
        api_event(
            "GET",
            f"/event/{sent.notification_id}",
            resource="/event/{event_id}",
            path_parameters={"event_id": sent.notification_id},
        )
    )

    assert len(answer["batchItemFailures"]) == (1 if transient else 0)
    assert status["statusCode"] == 200
    assert EMAIL not in status["body"]
    channel: dict[str, Any] = json.loads(status["body"])["channels"]["email"]
    assert channel["status"] == ("QUEUED" if transient else "FAILED")
    assert channel["last_error"] == SENDGRID_INVALID_TO.replace(EMAIL, EMAIL_MASKED)
    assert EMAIL not in stored_error(sent.notification_id, Channel.EMAIL)
    logged = function_logs.getvalue()
    assert EMAIL not in logged
    assert EMAIL_MASKED in logged
    assert all(json.loads(line) for line in logged.splitlines())
