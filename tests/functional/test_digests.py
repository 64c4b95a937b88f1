"""Digests through the handlers, in moto with the template's resources: LIKEs on one post within the
window go out as one notification per channel naming them all, each event showing DIGESTED and the
digest it went in; keys bucket by recipient, type and post; a critical event is never digested; a
leading FOLLOW goes at once; a window that fills is sent at once; a flush that crashes after
publishing is retried and the digest is delivered once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from devstack.lambda_events import LambdaContext, api_event
from notifier import runtime
from notifier.api.routing import routing_rules
from notifier.models.channels import SocialEventType
from notifier.scheduling.digests import FLUSH_LEASE_SECONDS, WINDOW_WRITE_GRACE, Digests
from notifier.scheduling.due import flush_message
from notifier.stores.digests import WindowState, digest_key
from tests.functional.conftest import receive_all

LIKE_WINDOW = timedelta(seconds=routing_rules()[SocialEventType.LIKE].digest.window_seconds)  # type: ignore[union-attr]


def event(event_type: str = "LIKE", user: str = "user-123", post: str = "post_1", **payload: Any) -> dict:
    return {
        "user_id": user,
        "event_type": event_type,
        "payload": {"parent_id": post, "parent_type": "post", "timestamp": "2026-12-03T10:00:00Z"} | payload,
    }


def post_event(publish, body: dict[str, Any]) -> str:
    answer = publish(api_event("POST", "/event", body=body))
    assert answer["statusCode"] == 202, answer["body"]
    return str(json.loads(answer["body"])["event_id"])


def status(event_id: str) -> dict[str, Any]:
    found = runtime.status_store().get(event_id)
    assert found is not None
    return {channel.value: state for channel, state in found.channels.items()}


def digests_at(moment: datetime, *, max_events: int | None = None) -> Digests:
    """The deployed digests (the due function's, which sends them), with a clock set to `moment`."""
    deployed = runtime.due_digests()
    return Digests(
        deployed.store,
        deployed.status,
        runtime.due_publisher,
        sqs=lambda: boto3.client("sqs"),
        due_queue_url=deployed.due_queue_url,
        max_events=max_events or deployed.max_events,
        clock=lambda: moment,
    )


def current_window(user: str = "user-123", event_type: str = "LIKE", *by: str | None) -> str:
    window = runtime.due_digests().store.current(digest_key([user, event_type, *by]))
    assert window is not None
    return window


def flush(moment: datetime, user: str = "user-123", event_type: str = "LIKE", *by: str | None) -> str:
    key = digest_key([user, event_type, *by])
    window_id = current_window(user, event_type, *by)
    return digests_at(moment).flush(key, window_id, moment)


def envelopes(deployment, queue: str) -> list[dict[str, Any]]:
    return [json.loads(r["body"]) for r in receive_all(deployment, queue)]


@pytest.fixture
def due(deployment):
    from functions.due import app  # noqa: PLC0415 - its import reads the deployed environment

    return lambda event: app.lambda_handler(event, LambdaContext(function_name="due"))


def test_five_likes_on_one_post_go_out_as_one_notification_per_channel_naming_five(
    publish, consumers, deployment, due, user_123
):
    names = ["Ana", "Ben", "Cy", "Dee", "Eve"]
    events = [post_event(publish, event(actor_name=name)) for name in names]

    assert receive_all(deployment, "PushStandardQueue") == []
    assert receive_all(deployment, "InappStandardQueue") == []
    digested_into = {status(e)[c].digested_into for e in events for c in ("push", "inapp")}
    assert {status(e)[c].status for e in events for c in ("push", "inapp")} == {"DIGESTED"}
    [digest_id] = digested_into

    key, window_id = digest_key(["user-123", "LIKE", "post_1"]), current_window("user-123", "LIKE", "post_1")
    window = runtime.due_digests().store.window(key, window_id)
    assert window is not None
    closes = window.closes_at  # the first LIKE's moment + LIKE_WINDOW, however long the five took
    assert closes <= datetime.now(UTC) + LIKE_WINDOW
    assert flush(closes - timedelta(seconds=1), "user-123", "LIKE", "post_1") == "delayed"
    body = flush_message(key, window_id, closes)
    # The due function, when the window has closed (its clock is real: the window is made to close).
    assert flush(closes + timedelta(seconds=1), "user-123", "LIKE", "post_1") == "sent"
    assert due({"Records": [{"messageId": "m-1", "body": body}]}) == {"batchItemFailures": []}  # once

    push_records = receive_all(deployment, "PushStandardQueue")
    inapp_records = receive_all(deployment, "InappStandardQueue")
    [push_envelope] = [json.loads(r["body"]) for r in push_records]
    assert push_envelope["notification_id"] == digest_id
    assert push_envelope["content"] == {
        "kind": "digest",
        "count": 5,
        "actors": names,
        "payload": event(actor_name="Ana")["payload"],
    }
    assert len(inapp_records) == 1
    assert consumers["push"]({"Records": push_records}) == {"batchItemFailures": []}
    assert consumers["inapp"]({"Records": inapp_records}) == {"batchItemFailures": []}
    [sent] = [entry for entry in runtime.outbox() if entry.channel == "push"]
    assert sent.notification_id == digest_id
    assert "Ana, Ben and 3 others" in sent.content["body"]
    [item] = runtime.inbox_store().page("user-123").items
    assert (item.notification_id, item.data["count"]) == (digest_id, 5)
    assert {c: s.status for c, s in status(digest_id).items()} == {"push": "SENT", "inapp": "SENT"}


def test_keys_bucket_by_recipient_event_type_and_post(publish, deployment):
    like = {
        (user, post): post_event(publish, event(user=user, post=post))
        for user in ("ana", "ben")
        for post in ("post_1", "post_2")
    }
    again = post_event(publish, event(user="ana", post="post_1"))
    follows = [post_event(publish, event("FOLLOW", user="ana", post=post)) for post in ("p1", "p2", "p3")]

    into = {key: status(event_id)["push"].digested_into for key, event_id in like.items()}
    assert len(set(into.values())) == 4
    assert status(again)["push"].digested_into == into[("ana", "post_1")]
    # FOLLOW's key is the recipient and the type: the first went at once (leading), the rest together.
    assert status(follows[0])["push"].status == "ACCEPTED"
    assert status(follows[1])["push"].digested_into == status(follows[2])["push"].digested_into
    assert status(follows[1])["push"].digested_into not in into.values()


def test_a_critical_like_is_sent_at_once_and_never_digested(publish, deployment):
    event_id = post_event(publish, event(priority="critical"))

    assert status(event_id)["push"].status == "ACCEPTED"
    assert [e["notification_id"] for e in envelopes(deployment, "PushCriticalQueue")] == [event_id]


def test_a_leading_follow_goes_at_once_and_a_window_with_nothing_else_sends_nothing(publish, deployment):
    first = post_event(publish, event("FOLLOW", actor_name="Ana"))

    assert [e["notification_id"] for e in envelopes(deployment, "EmailStandardQueue")] == [first]
    assert status(first)["email"].status == "ACCEPTED"
    assert flush(datetime.now(UTC) + timedelta(hours=1), "user-123", "FOLLOW") == "empty"
    assert receive_all(deployment, "EmailStandardQueue") == []


def test_follows_after_the_leading_one_are_digested_together(publish, deployment):
    ids = [post_event(publish, event("FOLLOW", actor_name=name)) for name in ("Ana", "Ben", "Cy")]
    envelopes(deployment, "PushStandardQueue")  # the leading one's

    assert flush(datetime.now(UTC) + timedelta(hours=1), "user-123", "FOLLOW") == "sent"

    [digest] = envelopes(deployment, "PushStandardQueue")
    assert digest["content"]["count"] == 2
    assert digest["content"]["actors"] == ["Ben", "Cy"]
    assert (
        digest["notification_id"]
        == status(ids[1])["push"].digested_into
        == status(ids[2])["push"].digested_into
    )
    assert status(ids[0])["push"].status == "ACCEPTED"


def test_a_window_that_fills_is_flushed_at_once_and_the_next_event_opens_another(deployment):
    from notifier.api.publishing import event_envelope  # noqa: PLC0415
    from notifier.models.requests import EventRequest  # noqa: PLC0415

    now = datetime.now(UTC)
    digests = digests_at(now, max_events=3)
    rule = routing_rules()[SocialEventType.LIKE].digest
    assert rule is not None
    envelopes_ = [
        event_envelope(EventRequest.model_validate(event(actor_name=f"a{i}")), correlation_id="c")
        for i in range(4)
    ]
    into = [digests.add(envelope, rule) for envelope in envelopes_]

    assert into[0] == into[1] == into[2] != into[3]
    # The third filled the window: its flush is due now, not when the window closes.
    sqs = boto3.client("sqs")
    visible = sqs.receive_message(QueueUrl=deployment.queue_url("DueQueue"), MaxNumberOfMessages=10)
    [flush_now] = [json.loads(m["Body"]) for m in visible.get("Messages", [])]
    assert flush_now["kind"] == "flush"
    key = digest_key(["user-123", "LIKE", "post_1"])
    assert digests.flush(key, flush_now["window_id"], now) == "sent"
    assert digests.store.window(key, flush_now["window_id"]).event_count == 3  # type: ignore[union-attr]


def test_a_flush_that_crashes_after_publishing_is_retried_and_delivered_once(
    publish, consumers, deployment, user_123, monkeypatch
):
    for name in ("Ana", "Ben"):
        post_event(publish, event(actor_name=name))
    key = digest_key(["user-123", "LIKE", "post_1"])
    window_id = current_window("user-123", "LIKE", "post_1")
    closed = datetime.now(UTC) + LIKE_WINDOW + timedelta(seconds=1)
    crashing = digests_at(closed)

    def crash(*_: Any) -> bool:
        raise RuntimeError("the execution environment died")

    monkeypatch.setattr(crashing.store, "finish", crash)
    with pytest.raises(RuntimeError):
        crashing.flush(key, window_id, closed)
    monkeypatch.undo()

    assert crashing.store.window(key, window_id).state == WindowState.FLUSHING  # type: ignore[union-attr]
    # Another flush while the first one's lease holds: it leaves the window alone.
    assert digests_at(closed + timedelta(seconds=1)).flush(key, window_id, closed) == "nothing"
    # SQS hands the crashed flush's message out again after the lease: the same digest, again.
    assert (
        digests_at(closed + timedelta(seconds=FLUSH_LEASE_SECONDS + 1)).flush(key, window_id, closed)
        == "sent"
    )
    assert (
        digests_at(closed + timedelta(seconds=FLUSH_LEASE_SECONDS + 2)).flush(key, window_id, closed)
        == "nothing"
    )

    records = receive_all(deployment, "PushStandardQueue")
    assert len({json.loads(r["body"])["notification_id"] for r in records}) == 1
    assert len(records) == 2
    for record in records:  # each copy through the consumer, one after the other
        assert consumers["push"]({"Records": [record]}) == {"batchItemFailures": []}
    assert len([entry for entry in runtime.outbox() if entry.channel == "push"]) == 1


def test_an_event_type_without_a_digest_and_a_bulk_of_likes(publish, deployment):
    comment = post_event(publish, event("COMMENT"))
    answer = publish(api_event("POST", "/events/bulk", body={"events": [event(actor_name=n) for n in "ABC"]}))

    assert status(comment)["push"].status == "ACCEPTED"
    assert answer["statusCode"] == 202
    results = json.loads(answer["body"])["results"]
    assert [r["index"] for r in results] == [0, 1, 2]
    into = {status(r["event_id"])["push"].digested_into for r in results}
    assert len(into) == 1
    assert None not in into
    assert [e["notification_id"] for e in envelopes(deployment, "PushStandardQueue")] == [comment]


def test_a_flush_for_a_window_not_written_yet_comes_again_and_one_never_opened_does_nothing(deployment, due):
    key = digest_key(["nobody", "LIKE", "p"])
    just_closed = flush_message(key, "not-yet", datetime.now(UTC) - timedelta(seconds=1))
    long_closed = flush_message(key, "never-opened", datetime.now(UTC) - WINDOW_WRITE_GRACE)

    # SQS brings the first again after the visibility timeout, when its opener's write has landed.
    assert due({"Records": [{"messageId": "m-0", "body": just_closed}]}) == {
        "batchItemFailures": [{"itemIdentifier": "m-0"}]
    }
    assert due({"Records": [{"messageId": "m-1", "body": long_closed}]}) == {"batchItemFailures": []}
    ahead = datetime.now(UTC) + timedelta(minutes=20)
    assert digests_at(datetime.now(UTC)).flush(key, "opened-for-20-minutes", ahead) == "delayed"
    broken = json.dumps({"kind": "flush", "key": "not-a-digest-key", "window_id": "w"})
    assert due({"Records": [{"messageId": "m-2", "body": broken}]}) == {
        "batchItemFailures": [{"itemIdentifier": "m-2"}]
    }


def test_an_event_that_joined_is_never_failed_by_what_comes_after_the_join(deployment, monkeypatch):
    """Once an event is in its window it is answered 202, whatever fails next: a 503 would have its
    client send it again, to be counted twice."""
    from botocore.exceptions import ClientError  # noqa: PLC0415

    from notifier.api.publishing import event_envelope  # noqa: PLC0415
    from notifier.models.requests import EventRequest  # noqa: PLC0415

    digests = digests_at(datetime.now(UTC), max_events=2)
    rule = routing_rules()[SocialEventType.LIKE].digest
    assert rule is not None
    first, second = (
        event_envelope(EventRequest.model_validate(event(actor_name=name)), correlation_id="c")
        for name in "AB"
    )
    into = digests.add(first, rule)

    def throttled(*_: Any, **__: Any) -> None:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "Call")

    class ThrottledSqs:
        send_message = staticmethod(throttled)

    client = digests.store.client
    monkeypatch.setattr(digests, "_sqs", ThrottledSqs)
    monkeypatch.setattr(client, "update_item", _failing_name_writes(client.update_item))

    assert digests.add(second, rule) == into  # it filled the window; its early flush and name failed
    key = digests.key_of(first, rule)
    window = digests.store.window(key, digests.store.current(key) or "")
    assert window is not None
    assert (window.event_count, window.actors) == (2, ["A"])


def _failing_name_writes(update_item: Any) -> Any:
    from botocore.exceptions import ClientError  # noqa: PLC0415

    def update(**call: Any) -> Any:
        if "actors" in call["UpdateExpression"]:
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "UpdateItem")
        return update_item(**call)

    return update
