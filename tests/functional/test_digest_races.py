"""Same-second bursts of one digest key, on the local stack's emulator (devstack.emulator), which
applies each DynamoDB write atomically as DynamoDB does (plain moto does not: two conditional writes
racing can both "win" there, so these races would prove nothing on it).

Events sent at the same instant from many threads open exactly one window between them and all join
it; with a maximum per window they fill consecutive windows, none counted twice or left out; flushes
of one window racing each other send it once."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from devstack.emulator import start_emulator
from devstack.provision import provision
from devstack.template import Stack, load_template
from notifier.api.publishing import event_envelope
from notifier.api.routing import routing_rules
from notifier.api.sns_publisher import Publisher
from notifier.models.channels import SocialEventType
from notifier.models.envelope import Envelope
from notifier.models.requests import EventRequest
from notifier.scheduling.digests import Digests
from notifier.stores.digests import DigestStore
from notifier.stores.status import StatusStore

BURST = 30
LIKE = routing_rules()[SocialEventType.LIKE].digest
assert LIKE is not None


@pytest.fixture(scope="module")
def aws() -> Iterator[Callable[[str], Any]]:
    server = start_emulator("127.0.0.1", 0)
    try:
        host, port = server.get_host_and_port()

        def client(service: str) -> Any:
            return boto3.client(  # type: ignore[call-overload]
                service,
                endpoint_url=f"http://{host}:{port}",
                region_name="us-east-1",
                aws_access_key_id="test",
                aws_secret_access_key="test",
            )

        client.deployment = provision(Stack(load_template()), client=client)  # type: ignore[attr-defined]
        yield client
    finally:
        server.stop()


def digests(aws: Callable[[str], Any], *, max_events: int = 100, at: datetime | None = None) -> Digests:
    deployment = aws.deployment  # type: ignore[attr-defined]
    environment = deployment.functions["DueFunction"].environment
    status = StatusStore(environment["STATUS_TABLE"], ttl_days=1, client=aws("dynamodb"))
    publisher = Publisher(environment["TOPIC_ARN"], status, aws("sns"))
    return Digests(
        DigestStore(environment["DIGESTS_TABLE"], aws("dynamodb")),
        status,
        lambda: publisher,
        sqs=lambda: aws("sqs"),
        due_queue_url=environment["DUE_QUEUE_URL"],
        max_events=max_events,
        clock=(lambda: at) if at else (lambda: datetime.now(UTC)),
    )


def likes(recipient: str, count: int) -> list[Envelope]:
    return [
        event_envelope(
            EventRequest.model_validate(
                {
                    "user_id": recipient,
                    "event_type": "LIKE",
                    "payload": {
                        "parent_id": "post_1",
                        "parent_type": "post",
                        "timestamp": "2026-12-03T10:00:00Z",
                        "actor_name": f"actor-{i % 12}",  # some names twice: shown once
                    },
                }
            ),
            correlation_id=f"c-{i}",
        )
        for i in range(count)
    ]


def at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Each call on its own thread, all let go at the same instant; what each returned."""
    start = threading.Barrier(len(calls))
    answers: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        start.wait()
        answers[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_a_burst_in_the_same_instant_opens_one_window_and_every_event_joins_it(aws):
    gather = digests(aws)
    events = likes("burst-one", BURST)

    into = at_once([lambda e=e: gather.add(e, LIKE) for e in events])  # type: ignore[misc]

    [digest_id] = set(into)
    key = gather.key_of(events[0], LIKE)
    window = gather.store.window(key, gather.store.current(key) or "")
    assert window is not None
    assert window.digest_id == digest_id
    assert window.event_count == BURST
    assert sorted(window.event_ids) == sorted(e.notification_id for e in events)
    assert len(window.actors) == len(set(window.actors)) == 10
    statuses = [gather.status.get(e.notification_id) for e in events]
    assert {s.channels[c].digested_into for s in statuses if s for c in s.channels} == {digest_id}


def test_with_a_maximum_a_burst_fills_consecutive_windows_none_counted_twice(aws):
    gather = digests(aws, max_events=5)
    events = likes("burst-full", BURST)

    into = at_once([lambda e=e: gather.add(e, LIKE) for e in events])  # type: ignore[misc]

    assert sorted(Counter(into).values()) == [5] * (BURST // 5)
    key = gather.key_of(events[0], LIKE)
    windows = {}
    for event, digest_id in zip(events, into, strict=True):
        windows.setdefault(digest_id, []).append(event.notification_id)
    # Every window holds exactly the events whose status names its digest.
    members = sorted(
        event_id
        for item in aws("dynamodb").query(
            TableName=gather.store.table,
            KeyConditionExpression="pk = :key AND begins_with(sk, :w)",
            ExpressionAttributeValues={":key": {"S": key}, ":w": {"S": "W#"}},
            ConsistentRead=True,
        )["Items"]
        for event_id in (v["S"] for v in item["event_ids"]["L"])
    )
    assert members == sorted(e.notification_id for e in events)


def test_flushes_of_one_window_racing_each_other_send_it_once(aws):
    gather = digests(aws)
    events = likes("burst-flush", 6)
    for event in events:
        gather.add(event, LIKE)
    key = gather.key_of(events[0], LIKE)
    window_id = gather.store.current(key) or ""
    closed = digests(aws, at=datetime.now(UTC) + timedelta(seconds=LIKE.window_seconds + 1))

    done = at_once([lambda: closed.flush(key, window_id, datetime.now(UTC)) for _ in range(8)])

    assert sorted(done) == ["nothing"] * 7 + ["sent"]
    digest = closed.status.get(gather.store.window(key, window_id).digest_id)  # type: ignore[union-attr]
    assert digest is not None
    assert {c.value: s.status for c, s in digest.channels.items()} == {
        "push": "ACCEPTED",
        "inapp": "ACCEPTED",
    }
