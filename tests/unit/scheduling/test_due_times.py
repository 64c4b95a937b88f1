"""The times of scheduled sends: what is ahead enough and not too far, the SQS delay that brings a
due message on time, and what a due message must hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from notifier.errors import InvalidRequestError
from notifier.scheduling.due import SQS_MAX_DELAY_SECONDS, _read, check_send_at, delay_seconds, due_message

NOW = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # Europe's spring change is at 01:00 UTC that day


def refused(send_at: datetime, max_days: int = 30) -> str:
    with pytest.raises(InvalidRequestError) as error:
        check_send_at(send_at, field="sendAt", max_days=max_days, now=NOW)
    assert list(error.value.problems) == ["sendAt"]
    return error.value.problems["sendAt"]


def test_a_time_ahead_within_the_horizon_is_taken_whatever_its_offset():
    for offset in (UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-3, minutes=-30))):
        check_send_at(NOW.astimezone(offset) + timedelta(seconds=1), field="sendAt", max_days=30, now=NOW)
    check_send_at(NOW + timedelta(days=30), field="sendAt", max_days=30, now=NOW)


def test_now_the_past_and_past_the_horizon_are_refused_with_the_reason():
    assert "in the past" in refused(NOW)
    assert "in the past" in refused(NOW - timedelta(seconds=1))
    assert "more than 30 days ahead" in refused(NOW + timedelta(days=30, seconds=1))
    assert "more than 2 days ahead" in refused(NOW + timedelta(days=3), max_days=2)


def test_the_same_instant_across_a_dst_change_is_the_same_time():
    # 03:30 CEST on the day the clocks go forward is 01:30 UTC: an offset names an instant, no zone rules.
    madrid_summer = timezone(timedelta(hours=2))
    send_at = datetime(2026, 3, 29, 3, 30, tzinfo=madrid_summer)
    assert delay_seconds(send_at, NOW) == SQS_MAX_DELAY_SECONDS  # an hour ahead: the longest delay
    assert delay_seconds(send_at, send_at - timedelta(seconds=61)) == 61


def test_the_delay_is_what_is_left_rounded_up_between_nothing_and_fifteen_minutes():
    assert delay_seconds(NOW + timedelta(seconds=2.2), NOW) == 3
    assert delay_seconds(NOW - timedelta(seconds=5), NOW) == 0
    assert delay_seconds(NOW + timedelta(minutes=15), NOW) == 900
    assert delay_seconds(NOW + timedelta(minutes=16), NOW) == 900


def test_a_due_message_holds_an_id_and_a_time_with_an_offset():
    body = due_message("n-1", NOW)
    assert _read(body) == {"notification_id": "n-1", "send_at": NOW}
    for bad in (
        '{"send_at": "2026-01-01T00:00:00Z"}',
        "[]",
        '{"notification_id": "n", "send_at": "2026-01-01T00:00:00"}',
    ):
        with pytest.raises(ValueError, match=r"due message|Expecting|Invalid|offset"):
            _read(bad)
