"""Scheduled sends in the local stack, as a user of `make run PROFILE=fast` sees them: a notification
scheduled a few seconds ahead reaches the outbox then and not before, and a cancelled one never
does."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from devstack.process import LocalStackProcess
from tests.e2e.conftest import wait_for


def schedule(local: LocalStackProcess, seconds: float) -> tuple[str, datetime]:
    send_at = (datetime.now(UTC) + timedelta(seconds=seconds)).replace(microsecond=0) + timedelta(seconds=1)
    status, body = local.request(
        "POST",
        "/api/v1/notifications/publish",
        {
            "recipientId": "user-123",
            "type": "email",
            "priority": "critical",  # no batching window: its time is its time
            "messageBody": "later",
            "sendAt": send_at.isoformat(),
        },
    )
    assert status == 202, body
    return str(body["notificationId"]), send_at


def in_outbox(local: LocalStackProcess, notification_id: str) -> list[dict]:
    return [e for e in local.outbox() if e["notification_id"] == notification_id]


def test_a_notification_scheduled_three_seconds_ahead_arrives_then_and_not_before(fast):
    notification_id, send_at = schedule(fast, 3)

    _, event = fast.request("GET", f"/event/{notification_id}")
    assert event["channels"]["email"]["status"] == "SCHEDULED"
    while datetime.now(UTC) < send_at - timedelta(seconds=0.3):
        assert in_outbox(fast, notification_id) == [], "sent before its time"
        time.sleep(0.1)
    [sent] = wait_for(lambda: in_outbox(fast, notification_id), timeout=10)
    sent_at = datetime.fromisoformat(sent["sent_at"].replace("Z", "+00:00"))
    assert send_at <= sent_at < send_at + timedelta(seconds=3)


def test_a_cancelled_notification_never_arrives(fast):
    notification_id, send_at = schedule(fast, 2)

    status, event = fast.request("DELETE", f"/event/{notification_id}")

    assert (status, event["channels"]["email"]["status"]) == (200, "CANCELLED")
    time.sleep(max(0.0, (send_at - datetime.now(UTC)).total_seconds()) + 2)
    assert in_outbox(fast, notification_id) == []
    _, event = fast.request("GET", f"/event/{notification_id}")
    assert event["channels"]["email"]["status"] == "CANCELLED"
