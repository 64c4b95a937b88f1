"""Routing rules: which channels and priority each social event type goes to, and its digest."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from notifier.api.routing import DigestRule, route_event, routing_rules
from notifier.delivery.rendering import catalog
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


# ------------------------------------------------------------------ digests


def test_likes_are_digested_per_post_and_follows_per_recipient_with_the_first_at_once():
    like, follow = (
        routing_rules()[SocialEventType.LIKE].digest,
        routing_rules()[SocialEventType.FOLLOW].digest,
    )
    assert like == DigestRule(window_seconds=600, key=("recipient", "event_type", "payload.parent_id"))
    assert like.payload_fields() == ("parent_id",)
    assert follow == DigestRule(window_seconds=600, key=("recipient", "event_type"), leading=True)
    assert follow.payload_fields() == ()


def test_a_critical_event_is_never_digested():
    standard = event("LIKE")
    critical = event("LIKE", priority="critical")

    assert route_event(standard).digest is not None
    assert route_event(critical).digest is None
    assert route_event(event("MENTION")).digest is None  # critical by its rule, and has no digest


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        ({"window_seconds": 600, "key": ["event_type", "recipient"]}, "starts with"),
        ({"window_seconds": 600, "key": ["recipient"]}, "starts with"),
        ({"window_seconds": 600, "key": ["recipient", "event_type", "parent_id"]}, "payload.<field>"),
        ({"window_seconds": 600, "key": ["recipient", "event_type", "payload.a b"]}, "payload.<field>"),
        ({"window_seconds": 4, "key": ["recipient", "event_type"]}, "greater than or equal to 5"),
        ({"window_seconds": 600, "key": ["recipient", "event_type"], "lead": True}, "Extra inputs"),
    ],
)
def test_a_digest_rule_that_could_mix_recipients_or_types_or_misname_a_field_is_refused(rule, reason):
    with pytest.raises(ValidationError, match=re.escape(reason)):
        DigestRule.model_validate(rule)


def test_every_event_type_with_a_digest_has_digest_templates_in_every_locale():
    digested = {event_type for event_type, route in routing_rules().items() if route.digest}
    assert digested
    for locale in (None, "de", "es", "fr", "pt-BR"):
        _, templates = catalog().select(locale)
        assert digested <= set(templates.digest.events), locale
