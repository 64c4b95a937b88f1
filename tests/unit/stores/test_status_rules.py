from __future__ import annotations

from notifier.stores.status import ALLOWED_FROM, REDRIVABLE, TERMINAL, Status


def reachable_from(start: Status) -> set[Status]:
    seen, frontier = set(), {start}
    while frontier:
        current = frontier.pop()
        for target, sources in ALLOWED_FROM.items():
            if current in sources and target not in seen:
                seen.add(target)
                frontier.add(target)
    return seen


def test_accepted_is_only_ever_first():
    assert Status.ACCEPTED not in ALLOWED_FROM
    assert all(Status.ACCEPTED not in reachable_from(s) for s in Status)


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


def test_every_status_is_reachable_from_accepted():
    assert reachable_from(Status.ACCEPTED) == set(Status) - {Status.ACCEPTED}
