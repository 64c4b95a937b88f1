from __future__ import annotations

from notifier.status import ALLOWED_FROM, TERMINAL, Status


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
    for status in Status:
        if status is not Status.QUEUED:  # a retry stays QUEUED and counts another attempt
            assert status not in reachable_from(status), status


def test_terminal_statuses_lead_nowhere():
    assert all(reachable_from(s) == set() for s in TERMINAL)


def test_every_status_is_reachable_from_accepted():
    assert reachable_from(Status.ACCEPTED) == set(Status) - {Status.ACCEPTED}
