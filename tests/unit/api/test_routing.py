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


INBOX_EVENTS = {"COMMENT", "MENTION", "MESSAGE", "FOLLOW", "LIKE"}


def test_the_events_a_user_looks_back_on_reach_the_inbox_and_the_others_do_not():
    reach_inbox = {str(t) for t, rule in routing_rules().items() if Channel.INAPP in rule.channels}

    assert reach_inbox == INBOX_EVENTS


def test_an_event_routed_to_the_inbox_keeps_its_other_channels():
    # The inbox is added beside push, never instead of it.
    assert all(Channel.PUSH in routing_rules()[SocialEventType(t)].channels for t in INBOX_EVENTS)
    assert route_event(event("COMMENT")).channels == [Channel.PUSH, Channel.EMAIL, Channel.INAPP]
