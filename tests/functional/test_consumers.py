"""The channel consumers, called with the sample SQS batches in events/."""

from __future__ import annotations

import json

import boto3
import pytest

from devstack.lambda_events import load_event, record_of, sqs_event
from notifier import runtime
from notifier.models.channels import Channel
from notifier.models.recipients import Contacts, PushToken, Recipient

# The channels delivered through a sandbox (its outbox, its failing addresses); in-app stores in the
# inbox, which has neither: its consumer's tests read the inbox.
CHANNELS = [c.value for c in Channel if c is not Channel.INAPP]


def status_of(notification_id: str, channel: str) -> str | None:
    found = runtime.status_store().get(notification_id)
    return found.channels[Channel(channel)].status if found and Channel(channel) in found.channels else None


def ids(batch: dict) -> list[str]:
    return [record["messageId"] for record in batch["Records"]]


def notification_id(record: dict) -> str:
    return json.loads(record["body"])["notification_id"]


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_critical_batch_is_delivered_in_full(consumers, outbox, user_123, channel):
    batch = load_event(f"sqs_{channel}_critical.json")

    answer = consumers[channel](batch)

    assert answer == {"batchItemFailures": []}
    delivered = {entry.notification_id for entry in outbox}
    assert delivered == {notification_id(r) for r in batch["Records"]}
    assert all(status_of(notification_id(r), channel) == "SENT" for r in batch["Records"])


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_permanent_failure_is_recorded_failed_and_not_retried(consumers, outbox, user_123, channel):
    batch = load_event(f"sqs_{channel}_standard.json")
    *good, bouncing = batch["Records"]

    answer = consumers[channel](batch)

    assert answer == {"batchItemFailures": []}
    assert {entry.notification_id for entry in outbox} == {notification_id(r) for r in good}
    found = runtime.status_store().get(notification_id(bouncing))
    assert found is not None
    assert found.channels[Channel(channel)].status == "FAILED"
    assert "rejected permanently" in (found.channels[Channel(channel)].last_error or "")


@pytest.mark.parametrize("channel", CHANNELS)
def test_malformed_and_transiently_failing_records_fail_alone(consumers, outbox, channel):
    batch = load_event(f"sqs_{channel}_malformed.json")
    good, not_json, missing_fields, throttled = batch["Records"]

    answer = consumers[channel](batch)

    failed = [item["itemIdentifier"] for item in answer["batchItemFailures"]]
    assert sorted(failed) == sorted(ids({"Records": [not_json, missing_fields, throttled]}))
    assert [entry.notification_id for entry in outbox] == [notification_id(good)]
    assert status_of(notification_id(good), channel) == "SENT"
    throttled_status = runtime.status_store().get(notification_id(throttled))
    assert throttled_status is not None
    assert throttled_status.channels[Channel(channel)].status == "QUEUED"
    assert "temporarily unavailable" in (throttled_status.channels[Channel(channel)].last_error or "")


def test_a_batch_in_which_every_record_fails_reports_every_record(consumers, deployment):
    arn = deployment.stack.attrs[("EmailStandardQueue", "Arn")]
    batch = sqs_event([record_of("{", queue_arn=arn), record_of("[]", queue_arn=arn)])

    answer = consumers["email"](batch)

    assert sorted(i["itemIdentifier"] for i in answer["batchItemFailures"]) == sorted(ids(batch))


def test_a_redelivered_message_that_was_already_sent_is_not_sent_again(consumers, outbox, user_123):
    batch = load_event("sqs_push_critical.json")
    consumers["push"](batch)
    sent = len(outbox)

    answer = consumers["push"](batch)

    assert answer == {"batchItemFailures": []}
    assert len(outbox) == sent


def test_a_recipient_without_an_address_on_the_channel_fails_permanently(consumers, outbox, recipients):
    recipients.put(Recipient(recipient_id="user-123", contacts=Contacts(email="only-email@example.com")))
    batch = load_event("sqs_sms_critical.json")
    from_recipient = batch["Records"][1]  # the record without an inline address

    answer = consumers["sms"](batch)

    assert answer == {"batchItemFailures": []}
    found = runtime.status_store().get(notification_id(from_recipient))
    assert found is not None
    assert found.channels[Channel.SMS].status == "FAILED"
    assert found.channels[Channel.SMS].last_error == "recipient 'user-123' has no sms address"


def test_an_event_is_rendered_from_its_template_with_the_payload(consumers, outbox, user_123):
    batch = load_event("sqs_email_critical.json")
    comment = batch["Records"][1]

    consumers["email"](batch)

    [entry] = [e for e in outbox if e.notification_id == notification_id(comment)]
    assert entry.address == "user-123@example.com"
    assert entry.content["subject"] == "Bob commented on your post"
    assert "post_67890" in entry.content["text"]


def test_statuses_are_kept_with_an_expiry(consumers, user_123, deployment):
    consumers["sms"](load_event("sqs_sms_critical.json"))

    items = boto3.client("dynamodb").scan(TableName=deployment.output("StatusTableName"))["Items"]

    assert items
    assert all(int(item["expires_at"]["N"]) > 0 for item in items)


def test_a_recipient_with_several_devices_is_sent_to_each_and_one_dead_token_does_not_fail_the_rest(
    consumers, outbox, recipients
):
    recipients.put(
        Recipient(
            recipient_id="user-123",
            contacts=Contacts(
                push_tokens=[
                    PushToken(token="fcm-token-phone-0001", platform="android"),
                    PushToken(token="sandbox-unregistered", platform="ios"),
                    PushToken(token="fcm-token-tablet-0002", platform="android"),
                ]
            ),
        )
    )
    batch = load_event("sqs_push_critical.json")
    from_recipient = batch["Records"][1]

    answer = consumers["push"](batch)

    assert answer == {"batchItemFailures": []}
    devices = sorted(e.address for e in outbox if e.notification_id == notification_id(from_recipient))
    assert devices == ["fcm-token-phone-0001", "fcm-token-tablet-0002"]
    found = runtime.status_store().get(notification_id(from_recipient))
    assert found is not None
    assert found.channels[Channel.PUSH].status == "SENT"
    assert "rejected permanently" in (found.channels[Channel.PUSH].last_error or "")
