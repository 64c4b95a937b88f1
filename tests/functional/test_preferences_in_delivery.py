"""The consumers honour each recipient's preferences, language and devices."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3

from devstack.lambda_events import load_event, sqs_event
from notifier import runtime
from notifier.models.channels import Channel
from notifier.models.recipients import Contacts, OptOut, Preferences, PushToken, QuietHours, Recipient


def status(notification_id: str, channel: Channel):
    found = runtime.status_store().get(notification_id)
    assert found is not None
    return found.channels[channel]


def one_record_batch(sample: str) -> tuple[dict, str]:
    """The sample's event for the stored recipient (no inline address), alone in a batch."""
    batch = load_event(sample)
    record = next(
        r
        for r in batch["Records"]
        if not json.loads(r["body"])["addresses"] and json.loads(r["body"])["content"]["kind"] == "event"
    )
    return sqs_event([record]), json.loads(record["body"])["notification_id"]


def quiet_now() -> QuietHours:
    """A quiet-hours window (in UTC) that the test's own clock is inside of."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    return QuietHours(start=(now - timedelta(hours=1)).time(), end=(now + timedelta(hours=1)).time())


def test_a_channel_the_recipient_opted_out_of_is_suppressed_and_not_sent(
    consumers, outbox, recipients, user_123
):
    recipients.put(
        user_123.model_copy(update={"preferences": Preferences(opt_out=OptOut(channels=[Channel.EMAIL]))})
    )
    batch, notification_id = one_record_batch("sqs_email_critical.json")

    answer = consumers["email"](batch)

    assert answer == {"batchItemFailures": []}
    assert len(outbox) == 0
    found = status(notification_id, Channel.EMAIL)
    assert found.status == "SUPPRESSED"
    assert "opted out" in (found.last_error or "")


def test_a_standard_notification_in_quiet_hours_waits_on_its_queue_and_is_not_sent(
    consumers, outbox, recipients, user_123, deployment
):
    recipients.put(user_123.model_copy(update={"preferences": Preferences(quiet_hours=quiet_now())}))
    batch, notification_id = one_record_batch("sqs_push_standard.json")
    batch["Records"][0]["eventSourceARN"] = deployment.stack.attrs[("PushStandardQueue", "Arn")]

    answer = consumers["push"](batch)

    assert answer == {"batchItemFailures": []}  # done here: the copy on the queue carries it on
    assert len(outbox) == 0
    found = status(notification_id, Channel.PUSH)
    assert found.status == "QUEUED"
    assert found.deferred_until is not None
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=deployment.queue_url("PushStandardQueue"),
        AttributeNames=["ApproximateNumberOfMessagesDelayed"],
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessagesDelayed"] == "1"


def test_a_critical_notification_goes_through_quiet_hours(consumers, outbox, recipients, user_123):
    recipients.put(user_123.model_copy(update={"preferences": Preferences(quiet_hours=quiet_now())}))
    batch, notification_id = one_record_batch("sqs_push_critical.json")

    consumers["push"](batch)

    assert [entry.notification_id for entry in outbox] == [notification_id]
    assert status(notification_id, Channel.PUSH).status == "SENT"


def test_a_recipient_gets_the_message_in_their_language(consumers, outbox, recipients, user_123):
    recipients.put(user_123.model_copy(update={"locale": "es-ES"}))
    batch, _ = one_record_batch("sqs_push_critical.json")
    english = Recipient(recipient_id="english", contacts=user_123.contacts)

    consumers["push"](batch)

    [entry] = outbox.entries()
    assert entry.content["title"] != _english_title(english, batch)


def _english_title(recipient: Recipient, batch: dict) -> str:
    from notifier.delivery.rendering import render  # noqa: PLC0415
    from notifier.models.envelope import Envelope  # noqa: PLC0415

    envelope = Envelope.model_validate_json(batch["Records"][0]["body"])
    return render(envelope, Channel.PUSH, recipient.locale).model_dump()["title"]


def test_an_unregistered_push_token_is_removed_and_the_other_devices_still_get_it(
    consumers, outbox, recipients, user_123
):
    live = PushToken(token="fcm-token-live-device-1", platform="ios")
    dead = PushToken(token="sandbox-unregistered", platform="android")
    recipients.put(user_123.model_copy(update={"contacts": Contacts(push_tokens=[dead, live])}))
    batch, notification_id = one_record_batch("sqs_push_critical.json")

    answer = consumers["push"](batch)

    assert answer == {"batchItemFailures": []}
    assert [entry.address for entry in outbox] == [live.token]
    assert status(notification_id, Channel.PUSH).status == "SENT"
    stored = recipients.get(user_123.recipient_id)
    assert stored is not None
    assert [t.token for t in stored.contacts.push_tokens] == [live.token]


def test_a_recipient_whose_only_token_is_unregistered_fails_and_loses_the_token(
    consumers, recipients, user_123
):
    dead = PushToken(token="sandbox-unregistered", platform="android")
    recipients.put(user_123.model_copy(update={"contacts": Contacts(push_tokens=[dead])}))
    batch, notification_id = one_record_batch("sqs_push_critical.json")

    answer = consumers["push"](batch)

    assert answer == {"batchItemFailures": []}
    assert status(notification_id, Channel.PUSH).status == "FAILED"
    stored = recipients.get(user_123.recipient_id)
    assert stored is not None
    assert stored.contacts.push_tokens == []
