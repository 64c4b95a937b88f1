"""The preference rules: opt-outs suppress, quiet hours defer standard notifications to their end."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from notifier.delivery.preferences import Defer, Send, Suppress, decide, in_quiet_hours
from notifier.models.channels import DIRECT_EVENT_TYPE, Channel, Priority, SocialEventType
from notifier.models.recipients import QuietHours, Recipient

STANDARD, CRITICAL = Priority.STANDARD, Priority.CRITICAL


def recipient(
    *,
    timezone: str = "UTC",
    quiet: tuple[str, str] | None = None,
    channels: tuple[str, ...] = (),
    event_types: tuple[str, ...] = (),
) -> Recipient:
    return Recipient.model_validate(
        {
            "recipient_id": "ana",
            "timezone": timezone,
            "preferences": {
                "opt_out": {"channels": list(channels), "event_types": list(event_types)},
                "quiet_hours": {"start": quiet[0], "end": quiet[1]} if quiet else None,
            },
        }
    )


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def local(timezone: str, wall: str) -> datetime:
    """The instant a clock in `timezone` shows `wall` ("2026-01-15T23:30"), its first time if twice."""
    return datetime.fromisoformat(wall).replace(tzinfo=ZoneInfo(timezone))


def standard_like(someone: Recipient, now: datetime, channel: Channel = Channel.EMAIL):
    return decide(someone, channel, SocialEventType.LIKE, STANDARD, now)


NOON = utc(2026, 6, 15, 12, 0)


# --------------------------------------------------------------------------------------------
# Opt-outs
# --------------------------------------------------------------------------------------------


def test_given_an_opt_out_of_sms_when_an_sms_is_due_then_it_is_suppressed_naming_the_channel():
    assert standard_like(recipient(channels=("sms",)), NOON, Channel.SMS) == Suppress(
        "recipient opted out of sms"
    )


def test_given_an_opt_out_of_sms_when_a_critical_sms_is_due_then_it_is_still_suppressed():
    assert isinstance(
        decide(recipient(channels=("sms",)), Channel.SMS, SocialEventType.MESSAGE, CRITICAL, NOON), Suppress
    )


def test_given_an_opt_out_of_sms_when_an_email_is_due_then_it_is_sent():
    assert standard_like(recipient(channels=("sms",)), NOON, Channel.EMAIL) == Send()


def test_given_an_opt_out_of_likes_when_a_like_is_due_then_it_is_suppressed_naming_the_type():
    assert standard_like(recipient(event_types=("LIKE",)), NOON) == Suppress(
        "recipient opted out of LIKE notifications"
    )


def test_given_an_opt_out_of_likes_when_a_critical_like_is_due_then_it_is_still_suppressed():
    assert isinstance(
        decide(recipient(event_types=("LIKE",)), Channel.EMAIL, SocialEventType.LIKE, CRITICAL, NOON),
        Suppress,
    )


def test_given_an_opt_out_of_likes_when_a_comment_is_due_then_it_is_sent():
    assert decide(recipient(event_types=("LIKE",)), Channel.EMAIL, "COMMENT", STANDARD, NOON) == Send()


def test_given_an_opt_out_of_every_event_type_when_a_direct_notification_is_due_then_it_is_sent():
    everything = recipient(event_types=tuple(SocialEventType))

    assert decide(everything, Channel.EMAIL, DIRECT_EVENT_TYPE, STANDARD, NOON) == Send()


def test_given_an_opt_out_and_quiet_hours_when_due_in_them_then_it_is_suppressed_not_deferred():
    someone = recipient(channels=("email",), quiet=("09:00", "17:00"))

    assert isinstance(standard_like(someone, NOON), Suppress)


# --------------------------------------------------------------------------------------------
# Quiet hours
# --------------------------------------------------------------------------------------------


def test_given_no_quiet_hours_when_due_at_night_then_it_is_sent():
    assert standard_like(recipient(), utc(2026, 6, 15, 3, 0)) == Send()


def test_given_daytime_quiet_hours_when_due_inside_then_it_waits_for_their_end():
    assert standard_like(recipient(quiet=("13:00", "15:00")), utc(2026, 6, 15, 14, 0)) == Defer(
        utc(2026, 6, 15, 15, 0)
    )


def test_given_daytime_quiet_hours_when_due_at_their_start_then_it_waits():
    assert standard_like(recipient(quiet=("13:00", "15:00")), utc(2026, 6, 15, 13, 0)) == Defer(
        utc(2026, 6, 15, 15, 0)
    )


def test_given_daytime_quiet_hours_when_due_at_their_end_then_it_is_sent():
    assert standard_like(recipient(quiet=("13:00", "15:00")), utc(2026, 6, 15, 15, 0)) == Send()


def test_given_quiet_hours_past_midnight_when_due_before_midnight_then_it_waits_until_the_next_morning():
    assert standard_like(recipient(quiet=("22:00", "07:00")), utc(2026, 6, 15, 23, 30)) == Defer(
        utc(2026, 6, 16, 7, 0)
    )


def test_given_quiet_hours_past_midnight_when_due_after_midnight_then_it_waits_until_that_morning():
    assert standard_like(recipient(quiet=("22:00", "07:00")), utc(2026, 6, 16, 3, 0)) == Defer(
        utc(2026, 6, 16, 7, 0)
    )


def test_given_quiet_hours_past_midnight_when_due_at_their_end_then_it_is_sent():
    assert standard_like(recipient(quiet=("22:00", "07:00")), utc(2026, 6, 16, 7, 0)) == Send()


def test_given_quiet_hours_past_midnight_when_due_just_before_their_start_then_it_is_sent():
    assert standard_like(recipient(quiet=("22:00", "07:00")), utc(2026, 6, 15, 21, 59)) == Send()


def test_given_quiet_hours_when_a_critical_notification_is_due_inside_then_it_is_sent():
    someone = recipient(quiet=("22:00", "07:00"))

    assert decide(someone, Channel.SMS, SocialEventType.MESSAGE, CRITICAL, utc(2026, 6, 16, 3, 0)) == Send()


@pytest.mark.parametrize("event_type", [*SocialEventType, DIRECT_EVENT_TYPE])
@pytest.mark.parametrize(
    ("quiet", "now"),
    [
        (("22:00", "07:00"), utc(2026, 6, 16, 3, 0)),
        (("22:00", "07:00"), utc(2026, 6, 15, 22, 0)),
        (("13:00", "15:00"), utc(2026, 6, 15, 14, 0)),
    ],
)
def test_given_quiet_hours_when_an_inapp_notification_is_due_inside_then_it_is_sent_not_deferred(
    event_type, quiet, now
):
    # An inbox item makes no sound: holding it back would only make the inbox late.
    assert decide(recipient(quiet=quiet), Channel.INAPP, event_type, STANDARD, now) == Send()


def test_given_quiet_hours_when_inapp_and_push_are_due_inside_then_only_push_waits():
    someone, night = recipient(quiet=("22:00", "07:00")), utc(2026, 6, 16, 3, 0)

    assert standard_like(someone, night, Channel.PUSH) == Defer(utc(2026, 6, 16, 7, 0))
    assert standard_like(someone, night, Channel.INAPP) == Send()


def test_given_an_opt_out_of_inapp_when_an_inapp_notification_is_due_then_it_is_suppressed():
    assert decide(recipient(channels=("inapp",)), Channel.INAPP, SocialEventType.MESSAGE, CRITICAL, NOON) == (
        Suppress("recipient opted out of inapp")
    )


def test_given_an_opt_out_of_likes_when_an_inapp_like_is_due_in_quiet_hours_then_it_is_suppressed():
    someone = recipient(event_types=("LIKE",), quiet=("22:00", "07:00"))

    assert isinstance(standard_like(someone, utc(2026, 6, 16, 3, 0), Channel.INAPP), Suppress)


def test_given_an_opt_out_of_inapp_when_a_push_is_due_then_it_is_sent():
    assert standard_like(recipient(channels=("inapp",)), NOON, Channel.PUSH) == Send()


def test_given_quiet_hours_when_it_is_night_in_tokyo_and_day_in_new_york_then_only_tokyo_is_quiet():
    quiet = QuietHours.model_validate({"start": "22:00", "end": "07:00"})
    instant = utc(2026, 6, 15, 14, 0)  # 23:00 in Tokyo, 10:00 in New York

    assert in_quiet_hours(quiet, ZoneInfo("Asia/Tokyo"), instant)
    assert not in_quiet_hours(quiet, ZoneInfo("America/New_York"), instant)


def test_given_quiet_hours_in_madrid_when_deferred_then_the_end_is_madrids_morning_in_utc():
    decision = standard_like(
        recipient(timezone="Europe/Madrid", quiet=("22:00", "07:30")),
        local("Europe/Madrid", "2026-01-15T23:30"),
    )

    assert decision == Defer(utc(2026, 1, 16, 6, 30))
    assert isinstance(decision, Defer)
    assert decision.until.tzinfo is UTC


def test_given_a_naive_time_when_deciding_then_it_is_refused():
    with pytest.raises(ValueError, match="aware"):
        standard_like(recipient(quiet=("22:00", "07:00")), datetime(2026, 6, 16, 3, 0))


# --------------------------------------------------------------------------------------------
# Clock changes (America/New_York: 2026-03-08 02:00 EST -> 03:00 EDT, 2026-11-01 02:00 EDT -> 01:00 EST)
# --------------------------------------------------------------------------------------------

NEW_YORK = "America/New_York"


def test_given_quiet_hours_ending_at_a_skipped_time_when_due_inside_then_they_end_when_the_clock_jumps():
    someone = recipient(timezone=NEW_YORK, quiet=("22:00", "02:30"))

    # 01:30 EST; 02:30 never shows that night, and 03:00 EDT (07:00 UTC) is the first instant after it.
    assert standard_like(someone, utc(2026, 3, 8, 6, 30)) == Defer(utc(2026, 3, 8, 7, 0))


def test_given_quiet_hours_ending_at_a_skipped_time_when_due_after_the_jump_then_it_is_sent():
    someone = recipient(timezone=NEW_YORK, quiet=("22:00", "02:30"))

    assert standard_like(someone, utc(2026, 3, 8, 7, 0)) == Send()  # 03:00 EDT


def test_given_quiet_hours_starting_at_a_skipped_time_when_due_after_the_jump_then_it_waits():
    someone = recipient(timezone=NEW_YORK, quiet=("02:30", "06:00"))

    # 03:00 EDT: the window began at the jump and ends at 06:00 EDT.
    assert standard_like(someone, utc(2026, 3, 8, 7, 0)) == Defer(utc(2026, 3, 8, 10, 0))


def test_given_quiet_hours_ending_at_a_repeated_time_when_due_inside_then_they_end_at_its_first_showing():
    someone = recipient(timezone=NEW_YORK, quiet=("22:00", "01:30"))

    # 01:00 EDT; 01:30 shows twice, first at 01:30 EDT (05:30 UTC).
    assert standard_like(someone, utc(2026, 11, 1, 5, 0)) == Defer(utc(2026, 11, 1, 5, 30))


def test_given_quiet_hours_ending_at_a_repeated_time_when_the_hour_repeats_then_it_is_sent():
    someone = recipient(timezone=NEW_YORK, quiet=("22:00", "01:30"))

    # 01:15 EST, the second time the clock reads 01:15: the window already ended at 01:30 EDT.
    assert standard_like(someone, utc(2026, 11, 1, 6, 15)) == Send()


def test_given_quiet_hours_on_the_night_the_clock_goes_back_when_deferred_then_it_is_an_hour_longer():
    someone = recipient(timezone=NEW_YORK, quiet=("22:00", "07:00"))

    # 23:00 EDT on Oct 31 until 07:00 EST on Nov 1: nine hours, not eight.
    assert standard_like(someone, utc(2026, 11, 1, 3, 0)) == Defer(utc(2026, 11, 1, 12, 0))


def test_given_a_clock_that_skips_a_whole_day_when_quiet_hours_end_in_it_then_they_end_at_the_jump():
    someone = recipient(timezone="Pacific/Apia", quiet=("22:00", "07:00"))

    # Samoa went from 2011-12-29 23:59:59 (UTC-10) to 2011-12-31 00:00 (UTC+14): Dec 30 never showed.
    assert standard_like(someone, utc(2011, 12, 30, 9, 0)) == Defer(utc(2011, 12, 30, 10, 0))
