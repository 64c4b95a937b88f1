"""Retrying a POST with its `Idempotency-Key`, and refusing a bad bulk, on the deployed stack as its
clients see them (docs/api.md): a retry gets the first answer again and nothing is sent twice; the
same key with another body is refused and publishes nothing; a bulk with one bad event publishes none
of its events."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any, NamedTuple

import pytest

from tests.deployed.conftest import Api

SETTLE_SECONDS = 3
"""How long after a notification is in the inbox a duplicate of it, published at the same moment,
would have arrived as well."""


def new_key() -> str:
    return f"deployed-test-{uuid.uuid4()}"


def inbox(api: Api, recipient_id: str) -> list[dict[str, Any]]:
    answer = api.call("GET", f"/recipients/{recipient_id}/inbox?limit=100")
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


def mention(recipient_id: str, post: str = "post_1") -> dict[str, Any]:
    """MENTION: push, e-mail and in-app, critical (routing_rules.json)."""
    return {
        "user_id": recipient_id,
        "event_type": "MENTION",
        "payload": {"parent_id": post, "parent_type": "post", "timestamp": "2026-12-03T10:00:00Z"},
    }


def in_app(recipient_id: str, text: str) -> dict[str, Any]:
    return {"recipientId": recipient_id, "type": "inapp", "priority": "critical", "messageBody": text}


class Route(NamedTuple):
    body: Callable[[str], dict[str, Any]]
    """The request's body for a recipient."""
    other_body: Callable[[str], dict[str, Any]]
    """Another request's body for the same recipient."""
    id_field: str
    """The answer's field naming what it published."""
    channels: tuple[str, ...]


ROUTES = {
    "/event": Route(mention, lambda r: mention(r, post="post_2"), "event_id", ("push", "email", "inapp")),
    "/api/v1/notifications/publish": Route(
        lambda r: in_app(r, "Order shipped"),
        lambda r: in_app(r, "Order delivered"),
        "notificationId",
        ("inapp",),
    ),
}


@pytest.mark.parametrize("route", list(ROUTES))
def test_a_post_sent_twice_with_one_idempotency_key_gets_one_id_and_is_sent_once(api: Api, recipient, route):
    body_of, _, id_field, channels = ROUTES[route]
    recipient_id = recipient()
    key = new_key()

    first = api.call("POST", route, body=body_of(recipient_id), headers={"Idempotency-Key": key})
    retry = api.call("POST", route, body=body_of(recipient_id), headers={"Idempotency-Key": key})

    assert (first.status_code, retry.status_code) == (202, 202), (first.text, retry.text)
    assert retry.json() == first.json()
    assert first.headers.get("Idempotent-Replayed") is None
    assert retry.headers.get("Idempotent-Replayed") == "true"
    notification_id = first.json()[id_field]
    for channel in channels:
        state = api.wait_for_status(notification_id, channel, {"SENT", "DELIVERED"}, timeout=90)
        assert state["attempts"] == 1, state
    time.sleep(SETTLE_SECONDS)
    assert [item["id"] for item in inbox(api, recipient_id)] == [notification_id]
    assert {c: s["attempts"] for c, s in api.status(notification_id)["channels"].items()} == dict.fromkeys(
        channels, 1
    )


@pytest.mark.parametrize("route", list(ROUTES))
def test_one_idempotency_key_with_another_body_is_a_422_and_publishes_nothing(api: Api, recipient, route):
    body_of, other_body_of, id_field, _ = ROUTES[route]
    recipient_id = recipient()
    key = new_key()
    first = api.call("POST", route, body=body_of(recipient_id), headers={"Idempotency-Key": key})
    assert first.status_code == 202, first.text

    reused = api.call("POST", route, body=other_body_of(recipient_id), headers={"Idempotency-Key": key})

    assert reused.status_code == 422, reused.text
    refusal = reused.json()
    assert refusal["error"] == "idempotency_key_reused"
    assert "Idempotency-Key" in refusal["message"]
    assert refusal["retryable"] is False
    assert id_field not in refusal
    notification_id = first.json()[id_field]
    api.wait_for_status(notification_id, "inapp", {"SENT", "DELIVERED"}, timeout=90)
    time.sleep(SETTLE_SECONDS)
    assert [item["id"] for item in inbox(api, recipient_id)] == [notification_id]


@pytest.mark.parametrize(
    ("bad", "field", "reason"),
    [
        (lambda event: {**event, "event_type": "POKE"}, "events.1.event_type", "Input should be"),
        (
            lambda event: {**event, "send_at": "2099-01-01T00:00:00Z"},
            "events.1.send_at",
            "not taken in a bulk",
        ),
    ],
    ids=["an unknown event type", "a send_at"],
)
def test_a_bulk_with_one_bad_event_is_a_400_naming_it_and_publishes_none_of_its_events(
    api: Api, recipient, bad, field, reason
):
    recipient_id = recipient()
    events = [mention(recipient_id, "post_1"), bad(mention(recipient_id, "post_2")), mention(recipient_id)]

    refused = api.call(
        "POST", "/events/bulk", body={"events": events}, headers={"Idempotency-Key": new_key()}
    )

    assert refused.status_code == 400, refused.text
    assert refused.json()["error"] == "invalid_request"
    problems = {problem["field"]: problem["reason"] for problem in refused.json()["fields"]}
    assert list(problems) == [field]
    assert reason in problems[field]
    assert "results" not in refused.json()
    # A good bulk after it is sent; had the refused one published anything, it would be there too.
    marker = api.call("POST", "/events/bulk", body={"events": [mention(recipient_id, "post_marker")]})
    assert marker.status_code == 202, marker.text
    [result] = marker.json()["results"]
    api.wait_for_status(result["event_id"], "inapp", {"SENT", "DELIVERED"}, timeout=90)
    time.sleep(SETTLE_SECONDS)
    assert [item["id"] for item in inbox(api, recipient_id)] == [result["event_id"]]
