"""The whole flow in moto: API -> SNS -> the filtered queues -> the consumers -> status SENT."""

from __future__ import annotations

import json

from devstack.lambda_events import api_event, load_event
from tests.functional.conftest import receive_all

CONSUMER_OF = {"Email": "email", "Sms": "sms", "Push": "push", "Inapp": "inapp"}


def run_consumers_once(deployment, consumers) -> None:
    """Deliver what each queue holds to its function, as its event source would."""
    for queue in (
        "EmailCriticalQueue",
        "EmailStandardQueue",
        "SmsCriticalQueue",
        "SmsStandardQueue",
        "PushCriticalQueue",
        "PushStandardQueue",
        "InappCriticalQueue",
        "InappStandardQueue",
    ):
        records = receive_all(deployment, queue)
        if records:
            channel = next(v for k, v in CONSUMER_OF.items() if queue.startswith(k))
            answer = consumers[channel]({"Records": records})
            assert answer == {"batchItemFailures": []}


def test_a_published_multi_channel_event_is_sent_once_on_each_channel(
    deployment, publish, consumers, outbox, user_123
):
    accepted = publish(
        api_event(
            "POST",
            "/event",
            body={
                "user_id": "user-123",
                "event_type": "MESSAGE",
                "payload": {
                    "parent_id": "thread_1",
                    "parent_type": "thread",
                    "timestamp": "2026-11-21T10:00:00Z",
                    "actor_name": "Dana",
                },
            },
        )
    )
    event_id = json.loads(accepted["body"])["event_id"]

    run_consumers_once(deployment, consumers)
    status = publish(
        api_event(
            "GET", f"/event/{event_id}", resource="/event/{event_id}", path_parameters={"event_id": event_id}
        )
    )

    deliveries = sorted((e.channel, e.address) for e in outbox if e.notification_id == event_id)
    assert deliveries == [("push", "fcm-token-user-123-abcdef"), ("sms", "+14155550123")]
    channels = json.loads(status["body"])["channels"]
    assert {ch: (s["status"], s["attempts"]) for ch, s in channels.items()} == {
        "push": ("SENT", 1),
        "sms": ("SENT", 1),
        "inapp": ("SENT", 1),
    }
    assert channels["inapp"]["provider_message_id"] == f"user-123/{event_id}"  # the inbox's key
    assert all(channels[c]["provider_message_id"].startswith("sandbox-") for c in ("push", "sms"))


def test_the_seed_notification_reaches_the_recipients_stored_address(
    deployment, publish, consumers, outbox, user_123
):
    accepted = publish(load_event("api_publish_notification.json"))
    notification_id = json.loads(accepted["body"])["notificationId"]

    run_consumers_once(deployment, consumers)

    [entry] = list(outbox)
    assert (entry.notification_id, entry.channel, entry.address) == (
        notification_id,
        "email",
        "user-123@example.com",
    )
    assert entry.content["text"] == "Order shipped"
    assert entry.content["subject"] == "You have a new notification"
