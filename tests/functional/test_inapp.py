"""The in-app channel in moto: a notification published through the API lands in the recipient's
inbox once, however often SQS delivers it, rendered in the recipient's language for an event."""

from __future__ import annotations

import json

from devstack.lambda_events import api_event
from notifier import runtime
from tests.functional.conftest import receive_all


def publish_inapp(publish, body: dict) -> str:
    answer = publish(api_event("POST", "/api/v1/notifications/publish", body=body))
    assert answer["statusCode"] == 202, answer["body"]
    return str(json.loads(answer["body"])["notificationId"])


def test_an_inapp_notification_lands_in_the_inbox_once_however_often_it_is_delivered(
    publish, consumers, deployment
):
    sent = publish_inapp(
        publish,
        {
            "recipientId": "ana",
            "type": "inapp",
            "priority": "critical",
            "messageBody": "Your order shipped",
            "title": "Order",
            "data": {"order": "o-1"},
        },
    )
    records = receive_all(deployment, "InappCriticalQueue")

    assert consumers["inapp"]({"Records": records}) == {"batchItemFailures": []}
    assert consumers["inapp"]({"Records": records}) == {"batchItemFailures": []}  # SQS again

    [item] = runtime.inbox_store().page("ana").items
    assert (item.notification_id, item.title, item.body, item.data) == (
        sent,
        "Order",
        "Your order shipped",
        {"order": "o-1"},
    )
    assert runtime.inbox_store().counts("ana") == (1, 1)
    status = runtime.status_store().get(sent)
    assert status is not None
    assert status.channels["inapp"].status == "SENT"
    assert status.channels["inapp"].provider_message_id == f"ana/{sent}"


def test_a_like_event_reaches_the_inbox_beside_push(publish, consumers, deployment, user_123):
    answer = publish(
        api_event(
            "POST",
            "/event",
            body={
                "user_id": "user-123",
                "event_type": "LIKE",
                "payload": {
                    "parent_id": "post_1",
                    "parent_type": "post",
                    "timestamp": "2023-10-15T12:34:56Z",
                    "actor_name": "Ana",
                    "priority": "critical",
                },
            },
        )
    )
    event_id = json.loads(answer["body"])["event_id"]
    records = receive_all(deployment, "InappCriticalQueue")

    assert consumers["inapp"]({"Records": records}) == {"batchItemFailures": []}

    [item] = runtime.inbox_store().page("user-123").items
    assert item.notification_id == event_id
    assert item.event_type == "LIKE"
    assert "Ana" in item.body
    assert item.data["parent_id"] == "post_1"
