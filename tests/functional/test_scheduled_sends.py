"""Scheduled sends and cancel through the handlers, in moto with the template's resources: a
notification sent later waits SCHEDULED, goes out once when due (through an SQS delay, or an
EventBridge Scheduler schedule fired by the local stack's firer), and a cancelled one never does."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import pytest

from devstack.lambda_events import LambdaContext, api_event, load_event
from devstack.schedules import ScheduleFirer
from notifier import runtime
from notifier.scheduling.due import DueMessages, due_message
from tests.functional.conftest import receive_all


def post(publish, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    answer = publish(api_event("POST", path, body=body))
    return answer["statusCode"], json.loads(answer["body"])


def cancel(publish, event_id: str) -> tuple[int, Any]:
    answer = publish(api_event("DELETE", f"/event/{event_id}", resource="/event/{event_id}"))
    return answer["statusCode"], json.loads(answer["body"])


def later(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat(timespec="seconds")


def scheduled_email(publish, send_at: str) -> str:
    status, body = post(
        publish,
        "/api/v1/notifications/publish",
        {"recipientId": "user-123", "type": "email", "messageBody": "later", "sendAt": send_at},
    )
    assert status == 202, body
    return str(body["notificationId"])


def due_handler(clock: datetime) -> DueMessages:
    """The due function's logic as deployed, at a chosen moment."""
    due = runtime.due_messages()
    return DueMessages(
        due.pending,
        due.status,
        runtime.due_publisher,
        sqs=lambda: boto3.client("sqs"),
        scheduler=lambda: boto3.client("scheduler"),
        due_queue_url=due.due_queue_url,
        targets=due.targets,
        clock=lambda: clock,
    )


@pytest.fixture
def due(deployment):
    from functions.due import app  # noqa: PLC0415 - its import reads the deployed environment

    return lambda event: app.lambda_handler(event, LambdaContext(function_name="due"))


def test_a_notification_sent_in_two_seconds_waits_scheduled_then_goes_out_once(
    publish, consumers, deployment, due, user_123
):
    notification_id = scheduled_email(publish, later(seconds=2))

    row = runtime.status_store().get(notification_id).channels["email"]
    assert row.status == "SCHEDULED"
    assert row.scheduled_for is not None
    assert receive_all(deployment, "EmailStandardQueue") == []
    sqs = boto3.client("sqs")
    waited = sqs.receive_message(
        QueueUrl=deployment.queue_url("DueQueue"), WaitTimeSeconds=5, MaxNumberOfMessages=1
    )
    [message] = waited["Messages"]  # the SQS delay brought it when it was due

    answer = due({"Records": [{"messageId": message["MessageId"], "body": message["Body"]}]})

    assert answer == {"batchItemFailures": []}
    records = receive_all(deployment, "EmailStandardQueue")
    assert len(records) == 1
    assert consumers["email"]({"Records": records}) == {"batchItemFailures": []}
    assert runtime.status_store().get(notification_id).channels["email"].status == "SENT"
    assert due_handler(datetime.now(UTC)).handle(message["Body"]) == "nothing"  # delivered twice: once


def test_further_than_fifteen_minutes_ahead_it_waits_in_a_schedule_that_fires_it(publish, deployment, due):
    send_at = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
    notification_id = scheduled_email(publish, send_at.isoformat())
    body = due_message(notification_id, send_at)

    assert due_handler(datetime.now(UTC)).handle(body) == "scheduled"
    scheduler = boto3.client("scheduler")
    group = runtime.due_messages().targets.group
    schedule = scheduler.get_schedule(Name=f"send-{notification_id}", GroupName=group)
    assert schedule["ScheduleExpression"] == f"at({send_at.strftime('%Y-%m-%dT%H:%M:%S')})"
    assert schedule["ActionAfterCompletion"] == "DELETE"
    assert schedule["Target"]["Arn"] == runtime.due_messages().targets.queue_arn
    assert due_handler(datetime.now(UTC)).handle(body) == "scheduled"  # the same schedule, not two

    firer = ScheduleFirer(scheduler, boto3.client("sqs"), group)
    assert firer.fire_due(send_at - timedelta(seconds=1)) == []
    assert firer.fire_due(send_at) == [f"send-{notification_id}"]
    fired = receive_all(deployment, "DueQueue")
    assert [r["body"] for r in fired] == [body]
    assert due_handler(send_at + timedelta(seconds=1)).handle(body) == "released"
    assert len(receive_all(deployment, "EmailStandardQueue")) == 1


@pytest.mark.parametrize(
    ("ahead", "done"),
    [(timedelta(minutes=15), "delayed"), (timedelta(minutes=15, seconds=1), "scheduled")],
)
def test_fifteen_minutes_ahead_is_an_sqs_delay_and_a_second_more_a_schedule(
    publish, deployment, due, ahead, done
):
    now = datetime.now(UTC).replace(microsecond=0)
    send_at = now + ahead
    notification_id = scheduled_email(publish, (now + timedelta(hours=1)).isoformat())

    assert due_handler(now).handle(due_message(notification_id, send_at)) == done


def test_a_message_that_comes_early_waits_again_for_the_seconds_left(publish, deployment, due):
    send_at = datetime.now(UTC) + timedelta(minutes=10)
    notification_id = scheduled_email(publish, send_at.isoformat())

    assert (
        due_handler(send_at - timedelta(seconds=40)).handle(due_message(notification_id, send_at))
        == "delayed"
    )
    assert runtime.status_store().get(notification_id).channels["email"].status == "SCHEDULED"


def test_a_cancelled_notification_is_never_sent_even_when_its_time_comes(publish, deployment, due):
    send_at = datetime.now(UTC) + timedelta(hours=1)
    notification_id = scheduled_email(publish, send_at.isoformat())

    status, body = cancel(publish, notification_id)

    assert (status, body["channels"]["email"]["status"]) == (200, "CANCELLED")
    assert due_handler(send_at).handle(due_message(notification_id, send_at)) == "nothing"
    assert receive_all(deployment, "EmailStandardQueue") == []
    assert runtime.status_store().get(notification_id).channels["email"].status == "CANCELLED"


def test_cancel_reports_a_sent_notification_as_it_is_and_an_unknown_one_as_404(
    publish, consumers, deployment, user_123
):
    status, body = post(
        publish,
        "/api/v1/notifications/publish",
        {"recipientId": "user-123", "type": "email", "messageBody": "now"},
    )
    consumers["email"]({"Records": receive_all(deployment, "EmailStandardQueue")})

    assert cancel(publish, body["notificationId"])[1]["channels"]["email"]["status"] == "SENT"
    status, answer = cancel(publish, "no-such-event")
    assert (status, answer["error"]) == (404, "not_found")


# Times relative to the clock are built in the test, never in the ids: pytest-xdist's workers must
# collect the same test names, and a fixed date would drift into the past.
@pytest.mark.parametrize(
    ("make_send_at", "reason"),
    [
        pytest.param(lambda: "2020-01-01T00:00:00Z", "in the past", id="past"),
        pytest.param(lambda: later(days=31), "more than 30 days ahead", id="beyond-horizon"),
        pytest.param(lambda: later(days=3)[:10], "RFC 3339", id="date-only"),
        # No offset: which zone would it be?
        pytest.param(lambda: later(days=3)[:19], "RFC 3339", id="no-offset"),
    ],
)
def test_a_time_in_the_past_too_far_ahead_or_without_an_offset_is_a_400_naming_the_field(
    publish, deployment, make_send_at, reason
):
    status, body = post(
        publish,
        "/api/v1/notifications/publish",
        {"recipientId": "user-123", "type": "email", "messageBody": "x", "sendAt": make_send_at()},
    )
    assert status == 400
    [problem] = body["fields"]
    assert problem["field"] == "sendAt"
    assert reason in problem["reason"]


def test_an_event_takes_send_at_with_any_offset_and_a_bulk_does_not(publish, deployment):
    event = {
        "user_id": "user-123",
        "event_type": "LIKE",
        "payload": {"parent_id": "p1", "parent_type": "post", "timestamp": "2026-12-03T10:00:00Z"},
        "send_at": (datetime.now(UTC) + timedelta(hours=3))
        .astimezone(ZoneInfo("America/Sao_Paulo"))
        .isoformat(timespec="seconds"),
    }
    status, body = post(publish, "/event", event)
    assert status == 202
    channels = runtime.status_store().get(body["event_id"]).channels
    assert {c.status for c in channels.values()} == {"SCHEDULED"}

    status, body = post(publish, "/events/bulk", {"events": [event]})
    assert (status, body["fields"][0]["field"]) == (400, "events.0.send_at")


def test_the_sample_due_message_of_a_notification_nobody_scheduled_is_consumed_and_sends_nothing(
    deployment, due
):
    event = load_event("sqs_due_messages.json")

    assert due(event) == {"batchItemFailures": []}
    assert receive_all(deployment, "EmailStandardQueue") == []


def test_a_due_message_that_is_not_one_fails_alone(deployment, due):
    event = load_event("sqs_due_messages.json")
    good = event["Records"][0]
    bad = {**good, "messageId": "not-a-due-message", "body": '{"hello": "world"}'}

    assert due({"Records": [good, bad]}) == {"batchItemFailures": [{"itemIdentifier": "not-a-due-message"}]}


def test_a_scheduled_notification_is_counted_scheduled_now_and_published_when_released(
    publish, deployment, due, capsys
):
    send_at = datetime.now(UTC) + timedelta(hours=1)
    capsys.readouterr()

    notification_id = scheduled_email(publish, send_at.isoformat())
    at_once = capsys.readouterr().out
    due_handler(send_at).handle(due_message(notification_id, send_at))
    when_due = capsys.readouterr().out

    assert '"NotificationsScheduled":[1.0]' in at_once
    assert "NotificationsPublished" not in at_once
    assert '"NotificationsPublished":[1.0]' in when_due
