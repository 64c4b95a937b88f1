"""`make chaos`'s digests scenario: the bursts it sends, when it counts an event settled, and how it
accounts for every accepted event from the status rows and the sandbox's outbox."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from devstack.chaos import (
    DIGESTS,
    DigestResult,
    Published,
    StatusRow,
    account_digests,
    digest_bursts,
    digest_recipient,
    digests_sent,
    like,
    main,
    unsettled_digest_events,
)
from devstack.faults import Faults
from notifier.api.routing import routing_rules
from notifier.models.channels import SocialEventType
from notifier.models.recipients import RecipientDocument
from notifier.models.requests import EventRequest


def push(notification_id: str, count: int | None = None) -> dict[str, Any]:
    """An outbox entry as the sandbox records a push: a digest's data carries its count as text."""
    data = {"notification_id": notification_id, "event_type": "LIKE"}
    if count is not None:
        data["count"] = str(count)
    return {
        "notification_id": notification_id,
        "channel": "push",
        "address": "chaos-digest-token-0000",
        "content": {"channel": "push", "title": "t", "body": "b", "data": data},
        "provider_message_id": "m",
    }


def digested(statuses: dict[tuple[str, str], StatusRow], events: list[str], into: str) -> None:
    for event_id in events:
        for channel in ("push", "inapp"):
            statuses[(event_id, channel)] = StatusRow("DIGESTED", into)


def sent(statuses: dict[tuple[str, str], StatusRow], notification_id: str) -> None:
    for channel in ("push", "inapp"):
        statuses[(notification_id, channel)] = StatusRow("SENT")


def clean_run() -> tuple[list[str], list[str], dict[tuple[str, str], StatusRow], list[dict[str, Any]]]:
    """Two windows of one key (8 events, then 7), another key's window of 3, and a critical LIKE."""
    events = [f"e-{i}" for i in range(18)]
    statuses: dict[tuple[str, str], StatusRow] = {}
    digested(statuses, events[:8], "d-1")
    digested(statuses, events[8:15], "d-2")
    digested(statuses, events[15:], "d-3")
    for notification_id in ("d-1", "d-2", "d-3", "c-1"):
        sent(statuses, notification_id)
    outbox = [push("d-1", 8), push("c-1"), push("d-2", 7), push("d-3", 3)]
    return events, ["c-1"], statuses, outbox


def test_a_clean_run_sends_every_window_once_and_accounts_for_every_event():
    events, criticals, statuses, outbox = clean_run()

    account = account_digests(events, criticals, statuses, outbox)

    assert (account.windows, account.sent, account.duplicates, account.lost) == (3, 3, 0, 0)
    assert (account.events, account.counted, account.criticals_alone, account.criticals) == (18, 18, 1, 1)
    assert account.clean


def test_an_event_without_a_status_is_lost():
    events, criticals, statuses, outbox = clean_run()
    del statuses[("e-3", "push")], statuses[("e-3", "inapp")]

    account = account_digests(events, criticals, statuses, outbox)

    # e-3 is lost, and d-1, which says 8, now carries one more event than the 7 accounted for in it.
    assert account.lost == 2
    assert (account.windows, account.sent, account.duplicates) == (3, 3, 0)
    assert not account.clean


def test_an_event_not_digested_or_digested_into_two_digests_is_lost():
    events, criticals, statuses, outbox = clean_run()
    statuses[("e-16", "push")] = StatusRow("SENT")  # sent alone on push, never delivered
    statuses[("e-17", "inapp")] = StatusRow("DIGESTED", "d-9")

    account = account_digests(events, criticals, statuses, outbox)

    assert account.lost == 2 + 2  # the two events, and d-3's count (3) against the 1 left in it
    assert account.windows == 3


def test_a_digest_delivered_twice_is_a_duplicate():
    events, criticals, statuses, outbox = clean_run()

    account = account_digests(events, criticals, statuses, [*outbox, push("d-2", 7)])

    assert (account.duplicates, account.sent, account.lost) == (1, 3, 0)
    assert not account.clean


def test_a_delivery_of_something_no_event_went_into_is_a_duplicate():
    events, criticals, statuses, outbox = clean_run()

    account = account_digests(events, criticals, statuses, [*outbox, push("d-unknown", 2), push("e-4")])

    assert account.duplicates == 2
    assert account.sent == 3


def test_a_digest_whose_count_differs_from_the_events_in_it_loses_the_difference():
    events, criticals, statuses, outbox = clean_run()
    outbox[2] = push("d-2", 6)  # 7 events went into d-2

    account = account_digests(events, criticals, statuses, outbox)

    assert (account.lost, account.counted, account.sent, account.duplicates) == (1, 17, 3, 0)
    assert not account.clean


def test_every_event_of_a_digest_never_delivered_is_lost():
    events, criticals, statuses, outbox = clean_run()
    without_d2 = [entry for entry in outbox if entry["notification_id"] != "d-2"]

    account = account_digests(events, criticals, statuses, without_d2)

    assert (account.windows, account.sent, account.lost) == (3, 2, 7)


def test_a_digest_not_sent_to_the_inbox_loses_its_events():
    events, criticals, statuses, outbox = clean_run()
    statuses[("d-3", "inapp")] = StatusRow("FAILED")

    assert account_digests(events, criticals, statuses, outbox).lost == 3


def test_a_critical_like_digested_or_sent_twice_is_not_alone():
    events, criticals, statuses, outbox = clean_run()

    twice = account_digests(events, criticals, statuses, [*outbox, push("c-1")])
    statuses[("c-1", "push")] = StatusRow("DIGESTED", "d-1")
    digested_too = account_digests(events, criticals, statuses, outbox)

    assert (twice.criticals_alone, twice.duplicates) == (0, 1)
    assert digested_too.criticals_alone == 0
    assert not twice.clean
    assert not digested_too.clean


def test_an_event_is_settled_once_its_digest_is_sent_on_both_channels():
    events, criticals, statuses, _ = clean_run()
    assert unsettled_digest_events(events, criticals, statuses) == 0

    statuses[("d-2", "inapp")] = StatusRow("QUEUED")
    statuses[("c-1", "push")] = StatusRow("ACCEPTED")
    del statuses[("e-0", "push")]

    assert unsettled_digest_events(events, criticals, statuses) == 7 + 1 + 1


def test_the_due_functions_digest_sent_lines_are_counted_per_digest():
    log = (
        '{"level":"INFO","message":"digest sent","notification_id":"d-1","events":8}\n'
        "[chaos] injected flush crash: digest d-2 published, not marked SENT\n"
        '{"level":"INFO","message":"digest sent","notification_id":"d-2","events":7}\n'
        '{"level":"INFO","message":"due message handled","done":"sent"}\n'
        '{"level":"INFO","message":"digest sent","notification_id":"d-2"'
    )

    assert digests_sent(log) == Counter({"d-1": 1, "d-2": 1})


def test_the_bursts_are_same_key_likes_by_distinct_actors_with_a_few_critical_ones():
    bursts = digest_bursts(DIGESTS)

    assert len(bursts) == 12
    assert len({(b.recipient, b.post) for b in bursts}) == 12
    for burst in bursts:
        standard = [body for body, critical in burst.requests if not critical]
        assert len(standard) == DIGESTS.events_per_key
        assert {(b["user_id"], b["payload"]["parent_id"]) for b, _ in burst.requests} == {
            (burst.recipient, burst.post)
        }
        assert len({b["payload"]["actor_name"] for b, _ in burst.requests}) == len(burst.requests)
    criticals = [body for b in bursts for body, critical in b.requests if critical]
    assert len(criticals) == 3
    assert all(body["payload"]["priority"] == "critical" for body in criticals)
    # Each key fills a window of DigestMaxEvents and leaves the rest in the next.
    assert "DigestMaxEvents=8" in DIGESTS.overrides
    assert DIGESTS.events_per_key > 8


def test_the_scenarios_requests_are_valid_and_its_likes_are_digested():
    rule = routing_rules()[SocialEventType.LIKE]
    assert rule.digest is not None
    assert not rule.digest.leading
    assert {c.value for c in rule.channels} == {"push", "inapp"}
    EventRequest.model_validate(like("chaos-digests-0", "post_0", "Ana"))
    EventRequest.model_validate(like("chaos-digests-0", "post_0", "Ana", critical=True))
    _, document = digest_recipient(0)
    assert RecipientDocument.model_validate(document).contacts.push_tokens


def test_the_scenarios_chaos_injects_flush_crashes_only():
    faults = Faults.parse(DIGESTS.chaos)

    assert faults.flush_crash_rate > 0
    assert (faults.crash_rate, faults.timeout_rate, faults.receipts) == (0, 0, False)


def test_digests_is_a_scenario_make_chaos_can_run_alone(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])

    assert "digests" in capsys.readouterr().out


def test_the_scenario_fails_without_a_crash_a_crash_never_retried_or_a_window_left_open():
    events, criticals, statuses, outbox = clean_run()
    account = account_digests(events, criticals, statuses, outbox)

    def result(crashes: list[str], retried: int, unfinished: int = 0) -> DigestResult:
        return DigestResult("digests", account, 90.0, Published(), crashes, retried, unfinished, 0)

    assert result(["d-1"], retried=1).passed
    assert result(["d-1", "d-1"], retried=1).passed  # crashed twice, sent by the third flush
    assert not result([], retried=0).passed  # proved nothing
    assert not result(["d-1", "d-2"], retried=1).passed
    assert not result(["d-1"], retried=1, unfinished=1).passed
    assert (
        result(["d-1"], retried=1)
        .line()
        .startswith(
            "chaos digests: windows=3 sent=3 duplicates=0 lost=0 events=18 counted=18 critical=1/1 "
            "flush_crashes=1 seconds=90.0"
        )
    )
