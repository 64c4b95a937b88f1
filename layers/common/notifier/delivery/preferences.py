"""Whether, and when, a recipient gets a notification: their opt-outs, then their quiet hours.

Pure functions of the recipient, the notification and the time, so every consumer decides the same
way for the same input and the rules are tested without AWS or a clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeAlias
from zoneinfo import ZoneInfo

from notifier.models.channels import Channel, Priority
from notifier.models.recipients import QuietHours, Recipient

SILENT_CHANNELS = frozenset({Channel.INAPP})
"""Channels that never interrupt the recipient, so quiet hours do not apply to them."""


@dataclass(frozen=True)
class Send:
    """Deliver now."""


@dataclass(frozen=True)
class Suppress:
    """Do not deliver, ever: the recipient asked not to get it."""

    reason: str


@dataclass(frozen=True)
class Defer:
    """Deliver at `until` (aware, UTC), when the recipient's quiet hours end; never dropped."""

    until: datetime


Decision: TypeAlias = Send | Suppress | Defer


def decide(
    recipient: Recipient, channel: Channel, event_type: str, priority: Priority, now: datetime
) -> Decision:
    """What to do with a notification of `event_type` on `channel` for `recipient` at `now` (aware).

    Opt-outs come first and hold at any priority and on every channel: they are the recipient's
    explicit wish. Quiet hours hold back standard notifications only; a critical one (a security code,
    say) cannot wait. They never hold back in-app ones: an inbox item makes no sound and is read when
    the recipient opens the app, so waiting would only make the inbox late.
    """
    _require_aware(now)
    opt_out = recipient.preferences.opt_out
    if channel in opt_out.channels:
        return Suppress(f"recipient opted out of {channel}")
    # Direct notifications carry "NOTIFICATION", which is no SocialEventType and so never listed here.
    if event_type in opt_out.event_types:
        return Suppress(f"recipient opted out of {event_type} notifications")
    quiet = recipient.preferences.quiet_hours
    if priority is Priority.CRITICAL or quiet is None or channel in SILENT_CHANNELS:
        return Send()
    end = quiet_hours_end(quiet, ZoneInfo(recipient.timezone), now)
    return Send() if end is None else Defer(end)


def in_quiet_hours(quiet: QuietHours, tz: ZoneInfo, now: datetime) -> bool:
    """Whether `now` (aware) falls in the recipient's quiet hours, as `quiet_hours_end` reads them."""
    return quiet_hours_end(quiet, tz, now) is not None


def quiet_hours_end(quiet: QuietHours, tz: ZoneInfo, now: datetime) -> datetime | None:
    """When the quiet hours that `now` (aware) falls in end, in UTC; None when `now` is outside them.

    A day's window runs from the instant the clock in `tz` shows `start` that day (included) to the
    first instant after it that the clock shows `end` (excluded), which is the next day's for a window
    past midnight. Reading the window as instants, not as clock readings, keeps it one unbroken span
    when clocks change: see `_first_instant_showing` for the skipped and the repeated hour.
    """
    _require_aware(now)
    now = now.astimezone(UTC)
    today = now.astimezone(tz).date()
    past_midnight = quiet.end < quiet.start
    # The window that started yesterday may still be running (always so past midnight).
    for first_day in (today - timedelta(days=1), today):
        last_day = first_day + timedelta(days=1) if past_midnight else first_day
        start = _first_instant_showing(first_day, quiet.start, tz)
        end = _first_instant_showing(last_day, quiet.end, tz)
        if start <= now < end:
            return end
    return None


def _first_instant_showing(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """The first instant, in UTC, the clock in `tz` shows `wall` on `day`, or the first one after it.

    A wall time shown twice (the hour repeated when clocks go back) is its first occurrence. A wall
    time never shown (skipped when clocks go forward) becomes the instant of the jump, the first
    valid one after it: quiet hours ending at 02:30 on a night the clock goes 02:00 -> 03:00 end at
    03:00.
    """
    local = datetime.combine(day, wall, tzinfo=tz)  # fold=0: the first occurrence when repeated
    instant = local.astimezone(UTC)
    target = local.replace(tzinfo=None)
    if _clock(instant, tz) == target:
        return instant
    # Skipped. fold=1 reads the wall time with the offset after the jump, giving an instant before
    # it; fold=0 with the offset before, giving one after it. The jump is the first second between
    # them whose clock reading has passed `wall` (tz offsets are whole seconds).
    before = int(local.replace(fold=1).astimezone(UTC).timestamp())
    after = int(instant.timestamp())
    while after - before > 1:
        middle = (before + after) // 2
        if _clock(datetime.fromtimestamp(middle, UTC), tz) >= target:
            after = middle
        else:
            before = middle
    return datetime.fromtimestamp(after, UTC)


def _clock(instant: datetime, tz: ZoneInfo) -> datetime:
    """What a wall clock in `tz` shows at `instant`."""
    return instant.astimezone(tz).replace(tzinfo=None)


def _require_aware(now: datetime) -> None:
    # A naive time would be read as the machine's local time: wrong by hours, and silently.
    if now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
