"""Sending later, cancelling, and digests, on the deployed stack as its clients see them (docs/api.md):
a notification with `sendAt` waits SCHEDULED until its time and is sent then, not before; a cancelled
one is never sent; one further ahead than SQS's 15-minute delay waits as an EventBridge Scheduler
schedule; and standard LIKEs of one post within the digest window go out as one notification per
channel, naming how many there were, while a critical one goes at once."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from notifier.api.routing import routing_rules
from notifier.models.channels import SocialEventType
from notifier.scheduling.due import due_message
from notifier.stores.digests import digest_key
from ops.stack import DeployedStack
from tests.deployed.conftest import Api, Leftovers, wait_until

CLOCK_SKEW = timedelta(seconds=2)
"""How far this machine's clock and the stack's may disagree (the same machine for an emulator)."""
LATE = timedelta(seconds=60)
"""How late a scheduled notification may go out: an emulator's 1-second queue polling and cold
starts, and SQS's delay rounded up to the second."""


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def schedule(api: Api, recipient_id: str, send_at: datetime, text: str) -> str:
    """An in-app notification for `send_at`, written with the offset `send_at` carries: its id."""
    answer = api.call(
        "POST",
        "/api/v1/notifications/publish",
        body={
            "recipientId": recipient_id,
            "type": "inapp",
            "priority": "critical",  # no batching window: its time is its time
            "messageBody": text,
            "sendAt": send_at.isoformat(),
        },
    )
    assert answer.status_code == 202, answer.text
    return str(answer.json()["notificationId"])


def inbox(api: Api, recipient_id: str) -> list[dict[str, Any]]:
    answer = api.call("GET", f"/recipients/{recipient_id}/inbox?limit=100")
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


def ahead(seconds: float, *, offset_hours: int) -> datetime:
    """A whole second `seconds` ahead, written in a time zone `offset_hours` from UTC."""
    at = (datetime.now(UTC) + timedelta(seconds=seconds)).replace(microsecond=0)
    return at.astimezone(timezone(timedelta(hours=offset_hours)))


def test_a_notification_sent_later_waits_scheduled_and_goes_out_at_its_time_not_before(api: Api, recipient):
    recipient_id = recipient()
    send_at = ahead(20, offset_hours=2)
    notification_id = schedule(api, recipient_id, send_at, "see you in twenty seconds")

    state = api.status(notification_id)["channels"]["inapp"]
    assert state["status"] == "SCHEDULED", state
    assert moment(state["scheduled_for"]) == send_at
    assert state["attempts"] == 0
    # Until its time, it stays SCHEDULED and the inbox stays empty.
    while datetime.now(UTC) < send_at - CLOCK_SKEW:
        state = api.status(notification_id)["channels"]["inapp"]
        assert state["status"] == "SCHEDULED", f"left SCHEDULED before its time: {state}"
        assert inbox(api, recipient_id) == [], "sent before its time"
        time.sleep(1)

    state = api.wait_for_status(notification_id, "inapp", {"SENT", "DELIVERED"}, timeout=LATE.total_seconds())
    assert datetime.now(UTC) >= send_at - CLOCK_SKEW
    assert state["attempts"] == 1
    [item] = inbox(api, recipient_id)
    assert (item["id"], item["body"]) == (notification_id, "see you in twenty seconds")
    assert send_at - CLOCK_SKEW <= moment(item["created_at"]) <= send_at + LATE


def test_a_cancelled_notification_is_never_sent_even_after_its_time(api: Api, recipient):
    recipient_id = recipient()
    send_at = ahead(10, offset_hours=-5)
    notification_id = schedule(api, recipient_id, send_at, "never")

    cancelled = api.call("DELETE", f"/event/{notification_id}")

    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["channels"]["inapp"]["status"] == "CANCELLED"
    # Its time passes, with room for the due queue's message to come and be handled.
    time.sleep(max(0.0, (send_at - datetime.now(UTC)).total_seconds()) + 8)
    state = api.status(notification_id)["channels"]["inapp"]
    assert (state["status"], state["attempts"]) == ("CANCELLED", 0)
    assert inbox(api, recipient_id) == []
    # A second cancel answers the status as it is, unchanged; an unknown id is a 404.
    again = api.call("DELETE", f"/event/{notification_id}")
    assert again.status_code == 200, again.text
    assert again.json()["channels"]["inapp"]["status"] == "CANCELLED"
    unknown = api.call("DELETE", f"/event/no-such-event-{uuid.uuid4().hex}")
    assert unknown.status_code == 404, unknown.text
    assert unknown.json()["error"] == "not_found"


def test_a_send_still_more_than_15_minutes_off_waits_as_a_schedule_that_a_cancel_makes_harmless(
    api: Api, stack: DeployedStack, recipient
):
    """The publish function queues a due message with at most SQS's longest delay (15 minutes); the
    due function, given one while more than 15 minutes remain (for a send more than 30 minutes ahead,
    when the first delay ends), makes an EventBridge Scheduler one-time schedule that sends it again at
    the time (notifier/scheduling/due.py). Rather than wait 15 minutes, the test puts that message on
    the due queue at once, for a send 20 minutes ahead (whose own message, 15 minutes later, is only
    delayed again: nothing is left behind). A cancel does not delete the schedule: when it fires, the
    due function finds the notification CANCELLED and sends nothing."""
    recipient_id = recipient()
    send_at = ahead(20 * 60, offset_hours=9)
    notification_id = schedule(api, recipient_id, send_at, "in twenty minutes")
    assert api.status(notification_id)["channels"]["inapp"]["status"] == "SCHEDULED"
    sqs, scheduler = stack.client("sqs"), stack.client("scheduler")
    group, name = stack.outputs["ScheduleGroupName"], f"send-{notification_id}"
    due_queue = stack.outputs["DueQueueUrl"]
    due_queue_arn = sqs.get_queue_attributes(QueueUrl=due_queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]

    sqs.send_message(QueueUrl=due_queue, MessageBody=due_message(notification_id, send_at))
    try:
        wait_until(
            lambda: [s for s in scheduler.list_schedules(GroupName=group)["Schedules"] if s["Name"] == name],
            60,
            what=f"the schedule {name} in {group}",
        )
        made = scheduler.get_schedule(GroupName=group, Name=name)
        assert made["ScheduleExpression"] == f"at({send_at.astimezone(UTC):%Y-%m-%dT%H:%M:%S})"
        assert made["ActionAfterCompletion"] == "DELETE"
        assert made["Target"]["Arn"] == due_queue_arn
        message = json.loads(made["Target"]["Input"])
        assert message["notification_id"] == notification_id
        assert moment(message["send_at"]) == send_at
        assert api.status(notification_id)["channels"]["inapp"]["status"] == "SCHEDULED"

        cancelled = api.call("DELETE", f"/event/{notification_id}")
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["channels"]["inapp"]["status"] == "CANCELLED"

        # The schedule fires at its time with its message: the due function, finding the time
        # come, releases what is still SCHEDULED (nothing) and forgets the pending envelope. Its
        # time is 20 minutes off, so the message says a moment just past instead.
        sqs.send_message(
            QueueUrl=due_queue,
            MessageBody=due_message(notification_id, datetime.now(UTC) - timedelta(seconds=1)),
        )
        pending = stack.outputs["PendingTableName"]
        dynamodb = stack.client("dynamodb")
        wait_until(
            lambda: (
                "Item"
                not in dynamodb.get_item(TableName=pending, Key={"notification_id": {"S": notification_id}})
            ),
            60,
            what="the due function handling the schedule's message",
        )
        time.sleep(3)  # had it been released, the in-app consumer would have stored it by now
        state = api.status(notification_id)["channels"]["inapp"]
        assert (state["status"], state["attempts"]) == ("CANCELLED", 0)
        assert inbox(api, recipient_id) == []
    finally:
        with contextlib.suppress(scheduler.exceptions.ResourceNotFoundException):
            scheduler.delete_schedule(GroupName=group, Name=name)


def digest_window_seconds(stack: DeployedStack) -> int:
    environment = stack.client("lambda").get_function_configuration(
        FunctionName=stack.outputs["PublishFunctionName"]
    )["Environment"]["Variables"]
    return int(environment.get("DIGEST_WINDOW_SECONDS") or 0)


def like(api: Api, recipient_id: str, post: str, actor: str, **payload: Any) -> str:
    answer = api.call(
        "POST",
        "/event",
        body={
            "user_id": recipient_id,
            "event_type": "LIKE",
            "payload": {
                "parent_id": post,
                "parent_type": "post",
                "timestamp": "2026-12-03T10:00:00Z",
                "actor_name": actor,
                **payload,
            },
        },
    )
    assert answer.status_code == 202, answer.text
    return str(answer.json()["event_id"])


def test_likes_of_one_post_within_the_window_go_out_as_one_digest_per_channel_and_a_critical_one_at_once(
    api: Api, stack: DeployedStack, recipient, leftovers: Leftovers
):
    window = digest_window_seconds(stack)
    if not 0 < window <= 60:
        pytest.skip(f"needs DigestWindowSeconds between 1 and 60 (make deploy-local: 5); it is {window}")
    recipient_id = recipient()
    post = f"post_{uuid.uuid4().hex[:8]}"
    rule = routing_rules()[SocialEventType.LIKE].digest
    assert rule is not None
    assert rule.payload_fields() == ("parent_id",), "the key below is recipient, type and parent_id"
    leftovers.digest_keys.add(digest_key([recipient_id, "LIKE", post]))
    started = time.monotonic()

    likes = [like(api, recipient_id, post, actor) for actor in ("Ana", "Ben", "Cy")]
    assert time.monotonic() - started < window, "the likes took longer than the window to post"
    critical = like(api, recipient_id, post, "Dee", priority="critical")  # while the window is open

    channels = [api.status(event_id)["channels"] for event_id in likes]
    assert [{c: s["status"] for c, s in states.items()} for states in channels] == [
        {"push": "DIGESTED", "inapp": "DIGESTED"}
    ] * 3
    [digest_id] = {state["digested_into"] for states in channels for state in states.values()}
    for channel in ("push", "inapp"):
        state = api.wait_for_status(critical, channel, {"SENT", "DELIVERED"}, timeout=60)
        assert state["digested_into"] is None
        assert state["attempts"] == 1

    # The digest has no status until its window closes and it is published.
    wait_until(
        lambda: api.call("GET", f"/event/{digest_id}").status_code == 200, 90, what=f"the digest {digest_id}"
    )
    digest = {
        channel: api.wait_for_status(digest_id, channel, {"SENT", "DELIVERED"}, timeout=60)
        for channel in ("push", "inapp")
    }
    assert time.monotonic() - started >= window - CLOCK_SKEW.total_seconds(), "sent before the window closed"
    assert {channel: state["attempts"] for channel, state in digest.items()} == {"push": 1, "inapp": 1}
    assert set(api.status(digest_id)["channels"]) == {"push", "inapp"}
    time.sleep(2)  # a second digest, or a like sent alone, would be in the inbox by now
    items = {item["id"]: item for item in inbox(api, recipient_id)}
    assert set(items) == {digest_id, critical}
    assert (items[digest_id]["title"], items[digest_id]["body"]) == (
        "3 new likes",
        "Ana, Ben and 1 other liked your post.",
    )
    assert items[digest_id]["data"]["count"] == 3
    assert (items[critical]["title"], items[critical]["body"]) == ("New like", "Dee liked your post.")
    for event_id in likes:
        assert {s["status"] for s in api.status(event_id)["channels"].values()} == {"DIGESTED"}
