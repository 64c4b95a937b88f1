"""Routing rules: which channels and priority each social event type goes to."""

from __future__ import annotations

from notifier.api.routing import route_event, routing_rules
from notifier.models.channels import Channel, Priority, SocialEventType
from notifier.models.requests import EventRequest


def event(event_type: str, **payload) -> EventRequest:
    return EventRequest.model_validate(
        {
            "user_id": "user-1",
            "event_type": event_type,
            "payload": {"parent_id": "post_1", "parent_type": "post", "timestamp": "2026-11-21T10:00:00Z"}
            | payload,
        }
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
