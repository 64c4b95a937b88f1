from __future__ import annotations

from notifier.models.statuses import ALLOWED_FROM, REDRIVABLE, TERMINAL, Status


def reachable_from(start: Status) -> set[Status]:
    seen, frontier = set(), {start}
    while frontier:
        current = frontier.pop()
        for target, sources in ALLOWED_FROM.items():
            if current in sources and target not in seen:
                seen.add(target)
                frontier.add(target)
    return seen


def test_scheduled_is_only_ever_first_and_accepted_first_or_released_from_scheduled():
    assert Status.SCHEDULED not in ALLOWED_FROM
    assert all(Status.SCHEDULED not in reachable_from(s) for s in Status)
    assert ALLOWED_FROM[Status.ACCEPTED] == {Status.SCHEDULED}
    assert {s for s in Status if Status.ACCEPTED in reachable_from(s)} == {Status.SCHEDULED}


def test_only_a_scheduled_notification_can_be_cancelled_and_a_cancelled_one_goes_nowhere():
    assert ALLOWED_FROM[Status.CANCELLED] == {Status.SCHEDULED}
    assert reachable_from(Status.CANCELLED) == set()


def test_no_attempt_starts_on_a_notification_that_is_not_released():
    assert Status.SCHEDULED not in ALLOWED_FROM[Status.QUEUED]
    assert all(
        Status.SCHEDULED not in sources
        for target, sources in ALLOWED_FROM.items()
        if target not in (Status.ACCEPTED, Status.CANCELLED)
    )


def test_no_status_can_come_back_once_left():
    # A retry stays QUEUED and counts another attempt; a redriven message may be dead-lettered again.
    for status in set(Status) - {Status.QUEUED} - REDRIVABLE:
        assert status not in reachable_from(status), status


def test_terminal_statuses_lead_nowhere_except_a_redriven_dead_letter():
    assert all(reachable_from(s) == set() for s in TERMINAL - REDRIVABLE)


def test_a_redriven_dead_letter_is_queued_again_and_can_end_sent():
    assert Status.DEAD_LETTERED in ALLOWED_FROM[Status.QUEUED]
    assert Status.SENT in reachable_from(Status.DEAD_LETTERED)


def test_only_an_attempt_in_flight_can_be_dead_lettered():
    assert ALLOWED_FROM[Status.DEAD_LETTERED] == {Status.ACCEPTED, Status.QUEUED}


def test_every_status_but_the_scheduled_and_digested_ones_is_reachable_from_accepted():
    assert reachable_from(Status.ACCEPTED) == set(Status) - {
        Status.ACCEPTED,
        Status.SCHEDULED,
        Status.CANCELLED,
        Status.DIGESTED,
    }
    assert reachable_from(Status.SCHEDULED) == set(Status) - {Status.SCHEDULED, Status.DIGESTED}
    # A digested event goes out in its digest, a notification of its own: its rows never move on.
    assert reachable_from(Status.DIGESTED) == set()
