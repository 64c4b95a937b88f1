"""What a digest is made of: its key, the names it shows, and an envelope that always fits SNS."""

from __future__ import annotations

from datetime import UTC, datetime

from notifier.api.routing import routing_rules
from notifier.api.sns_publisher import SNS_MAX_PAYLOAD_BYTES, SnsMessage
from notifier.models.channels import SocialEventType
from notifier.models.envelope import Envelope, EventContent
from notifier.scheduling.digests import ACTOR_NAME_MAX_CHARS, Digests, _actor, digest_envelope
from notifier.stores.digests import Window, WindowState, digest_id, digest_key

LIKE = routing_rules()[SocialEventType.LIKE].digest
FOLLOW = routing_rules()[SocialEventType.FOLLOW].digest


def like(recipient: str = "ana", post: str = "post_1", event_type: str = "LIKE", **payload) -> Envelope:
    return Envelope(
        notification_id="n-1",
        correlation_id="c-1",
        recipient_id=recipient,
        event_type=event_type,
        priority="standard",
        channels=["push", "inapp"],
        content=EventContent(payload={"parent_id": post, "parent_type": "post"} | payload),
        created_at=datetime.now(UTC),
    )


def test_a_key_is_one_recipient_one_type_and_for_likes_one_post():
    assert LIKE is not None
    assert FOLLOW is not None
    key = Digests.key_of
    assert key(like(), LIKE) == key(like(actor_name="Ben"), LIKE)
    assert key(like(), LIKE) != key(like(post="post_2"), LIKE)
    assert key(like(), LIKE) != key(like(recipient="ben"), LIKE)
    assert key(like(event_type="FOLLOW"), FOLLOW) == key(like(event_type="FOLLOW", post="p2"), FOLLOW)
    assert key(like(event_type="FOLLOW"), FOLLOW) != key(like(), LIKE)


def test_values_cannot_run_into_each_other_whatever_they_hold():
    assert digest_key(["a|b", "c"]) != digest_key(["a", "b|c"])
    assert digest_key(["a", None]) != digest_key(["a", "null"])
    assert digest_key(['a", "b']) != digest_key(["a", "b"])


def test_the_digest_id_is_the_same_for_the_same_window_and_only_for_it():
    assert digest_id("digest#k", "w1") == digest_id("digest#k", "w1")
    assert digest_id("digest#k", "w1") != digest_id("digest#k", "w2")
    assert digest_id("digest#k", "w1") != digest_id("digest#j", "w1")


def test_an_actor_is_a_short_line_of_text_or_no_name_at_all():
    assert _actor({"actor_name": "  Ana \n Garcia "}) == "Ana Garcia"
    assert _actor({"actor_name": "x" * 1000}) == "x" * ACTOR_NAME_MAX_CHARS
    assert _actor({"actor_name": ["Ana", "Ben"]}) is None
    assert _actor({"actor_name": 7}) is None
    assert _actor({"actor_name": "   "}) is None
    assert _actor({}) is None


def window(payload: dict, actors: list[str]) -> Window:
    return Window(
        key="digest#k",
        window_id="w1",
        state=WindowState.FLUSHING,
        closes_at=datetime.now(UTC),
        event_count=12,
        event_ids=[],
        actors=actors,
        leading_event_id=None,
        lease_until=None,
        about={
            "recipient_id": "ana",
            "event_type": "LIKE",
            "priority": "standard",
            "channels": ["push", "inapp"],
            "correlation_id": "c-1",
            "payload": payload,
        },
    )


def test_a_digest_keeps_its_first_events_payload_unless_it_would_not_fit_sns():
    small = {"parent_id": "post_1", "parent_type": "post", "timestamp": "2026-12-03T10:00:00Z", "x": "y"}
    assert digest_envelope(window(small, ["Ana"]), datetime.now(UTC)).content.payload == small  # type: ignore[union-attr]

    # An event that only just fitted SNS, and ten long names beside it.
    large = small | {f"note{i}": ["x" * 1000] * 32 for i in range(7)}
    while SnsMessage.of(like(**large)).size < SNS_MAX_PAYLOAD_BYTES - 1500:
        large[f"more{len(large)}"] = "x" * 1000
    event = like(**large)
    assert SNS_MAX_PAYLOAD_BYTES - 2000 < SnsMessage.of(event).size <= SNS_MAX_PAYLOAD_BYTES
    names = [f"{'n' * (ACTOR_NAME_MAX_CHARS - 2)}{i:02}" for i in range(10)]
    envelope = digest_envelope(window(large, names), datetime.now(UTC))

    assert SnsMessage.of(envelope).size <= SNS_MAX_PAYLOAD_BYTES
    assert envelope.content.payload == {k: small[k] for k in ("parent_id", "parent_type", "timestamp")}  # type: ignore[union-attr]
    assert envelope.content.actors == names  # type: ignore[union-attr]
    assert envelope.notification_id == digest_id("digest#k", "w1")
