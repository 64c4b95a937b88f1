"""Digests in the local stack with the fast profile (every window 5 s), as a user of
`make run PROFILE=fast` sees them: five LIKEs on one post within the window reach the outbox as one
push and the inbox as one item, each naming five, and every LIKE shows DIGESTED into that digest."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from devstack.process import LocalStackProcess
from tests.e2e.conftest import wait_for, wait_for_value

WINDOW_SECONDS = 5  # samconfig.toml's fast profile: DigestWindowSeconds=5


def like(local: LocalStackProcess, actor: str, post: str = "post_1") -> str:
    status, body = local.request(
        "POST",
        "/event",
        {
            "user_id": "alice",
            "event_type": "LIKE",
            "payload": {
                "parent_id": post,
                "parent_type": "post",
                "timestamp": "2026-12-03T10:00:00Z",
                "actor_name": actor,
            },
        },
    )
    assert status == 202, body
    return str(body["event_id"])


def statuses_of(local: LocalStackProcess, notification_id: str) -> dict[str, str]:
    channels = local.request("GET", f"/event/{notification_id}")[1]["channels"]
    return {channel: state["status"] for channel, state in channels.items()}


def test_five_likes_within_the_window_arrive_as_one_notification_per_channel_naming_five(fast):
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=5) as pool:  # concurrent clients, the same second
        events = list(pool.map(lambda actor: like(fast, actor), ["Ana", "Ben", "Cy", "Dee", "Eve"]))

    statuses = [fast.request("GET", f"/event/{event_id}")[1]["channels"] for event_id in events]
    assert {s["status"] for channels in statuses for s in channels.values()} == {"DIGESTED"}
    [digest_id] = {s["digested_into"] for channels in statuses for s in channels.values()}
    assert [e for e in fast.outbox() if e["notification_id"] in {digest_id, *events}] == []

    [push] = wait_for(lambda: [e for e in fast.outbox() if e["notification_id"] == digest_id], timeout=20)
    assert time.monotonic() - started >= WINDOW_SECONDS - 1  # not before the window closed
    assert push["content"]["data"]["count"] == "5"
    assert "and 3 others" in push["content"]["body"]

    def inbox_items() -> list[dict]:  # the in-app consumer stores it on its own, after or before push
        status, inbox = fast.request("GET", "/recipients/alice/inbox")
        assert status == 200
        return [i for i in inbox["items"] if i["id"] == digest_id]

    [item] = wait_for(inbox_items, timeout=10)
    assert item["data"]["count"] == 5
    # The inbox's fetch above is the app receiving it: DELIVERED.
    wait_for_value(lambda: statuses_of(fast, digest_id), {"push": "SENT", "inapp": "DELIVERED"})
    # Sent once: nothing more arrives for it, nor for the events it carried.
    time.sleep(2)
    assert [e["notification_id"] for e in fast.outbox() if e["notification_id"] in {digest_id, *events}] == [
        digest_id
    ]


def test_likes_on_two_posts_are_two_digests_and_a_critical_like_goes_at_once(fast):
    first = like(fast, "Ana", post="post_a")
    second = like(fast, "Ben", post="post_b")
    status, critical = fast.request(
        "POST",
        "/event",
        {
            "user_id": "alice",
            "event_type": "LIKE",
            "payload": {
                "parent_id": "post_a",
                "parent_type": "post",
                "timestamp": "2026-12-03T10:00:00Z",
                "priority": "critical",
            },
        },
    )
    assert status == 202

    wait_for(lambda: [e for e in fast.outbox() if e["notification_id"] == critical["event_id"]], timeout=5)
    into = {
        fast.request("GET", f"/event/{event_id}")[1]["channels"]["push"]["digested_into"]
        for event_id in (first, second)
    }
    assert len(into) == 2
    wait_for(lambda: {e["notification_id"] for e in fast.outbox()} >= into, timeout=20)
