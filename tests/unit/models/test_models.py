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
        ("inapp", "user-123", True),
        ("inapp", "has space inside", False),
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


# --------------------------------------------------------------------------------------------
# In-app notifications
# --------------------------------------------------------------------------------------------


def inapp(**fields) -> dict:
    return {"recipientId": "user-123", "type": "inapp", "messageBody": "Order shipped"} | fields


def test_an_inapp_notification_takes_a_title_and_data_and_no_address():
    request = PublishRequest.model_validate(
        inapp(title="Your order", data={"order_id": "1234", "items": [1, 2], "gift": None})
    )

    assert (request.type, request.title, request.to) == (Channel.INAPP, "Your order", None)
    assert request.data == {"order_id": "1234", "items": [1, 2], "gift": None}


def test_an_inapp_notification_needs_neither_title_nor_data():
    request = PublishRequest.model_validate(inapp())

    assert (request.title, request.data) == (None, None)


@pytest.mark.parametrize("channel", ["email", "sms", "push"])
@pytest.mark.parametrize(("field", "value"), [("title", "Hi"), ("data", {"order_id": "1"})])
def test_a_title_or_data_on_another_channel_is_refused_naming_the_field(channel, field, value):
    with pytest.raises(ValidationError) as caught:
        PublishRequest.model_validate({"recipientId": "u", "type": channel, "messageBody": "x", field: value})

    assert list(problems(caught.value)) == [field]
    assert "only in-app" in problems(caught.value)[field]


def test_an_inline_address_on_an_inapp_notification_is_refused_naming_to():
    with pytest.raises(ValidationError) as caught:
        PublishRequest.model_validate(inapp(to="user-123"))

    assert list(problems(caught.value)) == ["to"]
    assert "inbox" in problems(caught.value)["to"]


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({"title": "x" * 201}, "title", "200"),
        ({"title": ""}, "title", "at least 1"),
        ({"messageBody": "x" * 2001}, "messageBody", "2000"),
        ({"data": {f"k{i}": i for i in range(33)}}, "data", "at most 32 fields"),
        ({"data": {"text": "é" * 2100}}, "data", "at most 4096 bytes"),
        ({"data": ["not", "an", "object"]}, "data", "dictionary"),
    ],
)
def test_an_inapp_notification_over_its_limits_is_refused_naming_the_field(fields, field, reason):
    with pytest.raises(ValidationError) as caught:
        PublishRequest.model_validate(inapp(**fields))

    assert list(problems(caught.value)) == [field]
    assert reason in problems(caught.value)[field]


def test_an_inapp_notification_at_its_limits_is_accepted():
    data = {f"k{i:02d}": "x" * 100 for i in range(32)}  # 32 fields, 3,617 bytes as JSON
    request = PublishRequest.model_validate(inapp(title="t" * 200, messageBody="b" * 2000, data=data))

    assert len(request.data or {}) == 32
