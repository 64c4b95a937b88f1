from __future__ import annotations

import pytest
from pydantic import ValidationError

from notifier.models.channels import Channel, Priority, address_problem
from notifier.models.envelope import Envelope
from notifier.models.requests import EventRequest, PublishRequest

SEED_EVENT = {
    "user_id": "user_12345",
    "event_type": "LIKE",
    "payload": {
        "parent_id": "post_67890",
        "parent_type": "post",
        "timestamp": "2023-10-15T12:34:56Z",
        "priority": "critical",
    },
}


def problems(exc: ValidationError) -> dict[str, str]:
    return {".".join(str(p) for p in e["loc"]): e["msg"] for e in exc.errors()}


def test_the_seed_notification_parses_with_standard_priority_by_default():
    request = PublishRequest.model_validate(
        {"recipientId": "user-123", "type": "email", "messageBody": "Order shipped"}
    )

    assert (request.recipient_id, request.type, request.priority) == (
        "user-123",
        Channel.EMAIL,
        Priority.STANDARD,
    )


def test_the_seed_event_parses_and_keeps_extra_payload_fields():
    request = EventRequest.model_validate(
        SEED_EVENT | {"payload": SEED_EVENT["payload"] | {"actor_name": "Bob"}}
    )

    assert request.payload.priority is Priority.CRITICAL
    assert request.payload.model_dump()["actor_name"] == "Bob"


@pytest.mark.parametrize(
    ("channel", "address", "ok"),
    [
        ("email", "a@example.com", True),
        ("email", "a@b", False),
        ("email", "two@at@example.com", False),
        ("sms", "+14155550100", True),
        ("sms", "14155550100", False),
        ("sms", "+0123456789", False),
        ("push", "fcm-token-abcdefgh", True),
        ("push", "short", False),
        ("push", "has space inside", False),
    ],
)
def test_addresses_are_checked_per_channel(channel, address, ok):
    assert (address_problem(Channel(channel), address) is None) is ok


def test_an_inline_address_is_checked_against_the_notifications_channel():
    with pytest.raises(ValidationError) as caught:
        PublishRequest.model_validate(
            {"recipientId": "u", "type": "sms", "messageBody": "x", "to": "alice@example.com"}
        )

    assert list(problems(caught.value)) == ["to"]


def test_an_unknown_event_type_is_refused_by_name():
    with pytest.raises(ValidationError) as caught:
        EventRequest.model_validate(SEED_EVENT | {"event_type": "POKE"})

    assert "LIKE" in problems(caught.value)["event_type"]


def test_an_envelope_of_an_unknown_schema_version_is_refused():
    with pytest.raises(ValidationError) as caught:
        Envelope.model_validate(
            {
                "schema_version": 2,
                "notification_id": "n",
                "correlation_id": "c",
                "recipient_id": "r",
                "event_type": "LIKE",
                "priority": "standard",
                "channels": ["push"],
                "content": {"kind": "event", "payload": {}},
                "created_at": "2026-11-21T10:00:00Z",
            }
        )

    assert "schema_version" in problems(caught.value)
