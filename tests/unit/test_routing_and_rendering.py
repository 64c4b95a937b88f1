from __future__ import annotations

from datetime import UTC, datetime

import pytest

from notifier.models import (
    Channel,
    EmailMessage,
    Envelope,
    EventContent,
    EventRequest,
    MessageContent,
    Priority,
    PushMessage,
    SmsMessage,
    SocialEventType,
)
from notifier.rendering import render
from notifier.routing import route_event, routing_rules


def event(event_type: str, **payload) -> EventRequest:
    return EventRequest.model_validate(
        {
            "user_id": "user-1",
            "event_type": event_type,
            "payload": {"parent_id": "post_1", "parent_type": "post", "timestamp": "2026-11-21T10:00:00Z"}
            | payload,
        }
    )


def envelope(event_type: str, content, channels=(Channel.EMAIL,)) -> Envelope:
    return Envelope(
        notification_id="n-1",
        correlation_id="c-1",
        recipient_id="user-1",
        event_type=event_type,
        priority=Priority.STANDARD,
        channels=list(channels),
        content=content,
        created_at=datetime.now(UTC),
    )


def test_every_event_type_has_a_rule():
    assert set(routing_rules()) == set(SocialEventType)


def test_a_payload_priority_overrides_the_rule_and_its_absence_keeps_it():
    assert route_event(event("LIKE")).priority is routing_rules()[SocialEventType.LIKE].priority
    assert route_event(event("LIKE", priority="critical")).priority is Priority.CRITICAL


def test_a_direct_message_is_a_critical_channel_for_messages():
    # MESSAGE is the event users expect at once: critical, and it reaches the phone.
    rule = routing_rules()[SocialEventType.MESSAGE]
    assert rule.priority is Priority.CRITICAL
    assert Channel.SMS in rule.channels


@pytest.mark.parametrize("event_type", list(SocialEventType))
@pytest.mark.parametrize("channel", list(Channel))
def test_every_event_type_renders_on_every_channel_without_leftover_placeholders(event_type, channel):
    content = EventContent(payload={"parent_id": "post_1", "parent_type": "photo", "actor_name": "Bob"})

    message = render(envelope(event_type, content, [channel]), channel)

    assert message.channel == channel
    text = " ".join(v for v in message.model_dump().values() if isinstance(v, str))
    assert "{" not in text
    assert "Bob" in text


def test_an_event_without_an_actor_names_someone():
    message = render(
        envelope("FOLLOW", EventContent(payload={"parent_id": "p", "parent_type": "post"})), Channel.EMAIL
    )

    assert isinstance(message, EmailMessage)
    assert message.subject == "Someone started following you"


def test_payload_text_is_escaped_in_email_html():
    content = EventContent(
        payload={"parent_id": "p", "parent_type": "post", "actor_name": "<script>x</script>"}
    )

    message = render(envelope("LIKE", content), Channel.EMAIL)

    assert isinstance(message, EmailMessage)
    assert "<script>" not in (message.html or "")
    assert "&lt;script&gt;" in (message.html or "")


def test_a_direct_message_is_sent_as_written_with_a_default_subject():
    content = MessageContent(body="Order shipped\n\nTrack it online.")

    email = render(envelope("NOTIFICATION", content), Channel.EMAIL)
    sms = render(envelope("NOTIFICATION", content, [Channel.SMS]), Channel.SMS)
    push = render(envelope("NOTIFICATION", content, [Channel.PUSH]), Channel.PUSH)

    assert isinstance(email, EmailMessage)
    assert email.subject == "You have a new notification"
    assert email.html == "<p>Order shipped</p><p>Track it online.</p>"
    assert isinstance(sms, SmsMessage)
    assert sms.text == content.body
    assert isinstance(push, PushMessage)
    assert (push.title, push.data) == ("New notification", {"notification_id": "n-1"})


def test_push_data_carries_the_event_for_the_app():
    content = EventContent(payload={"parent_id": "post_9", "parent_type": "post"})

    push = render(envelope("COMMENT", content, [Channel.PUSH]), Channel.PUSH)

    assert isinstance(push, PushMessage)
    assert push.data == {
        "notification_id": "n-1",
        "event_type": "COMMENT",
        "parent_id": "post_9",
        "parent_type": "post",
    }
