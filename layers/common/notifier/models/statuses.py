"""The statuses a notification's channel passes through, and the rules between them.

ACCEPTED -> QUEUED -> SENT -> DELIVERED | BOUNCED, or FAILED, SUPPRESSED, DEAD_LETTERED. A notification
sent later is SCHEDULED first, then ACCEPTED when due or CANCELLED; an event that goes out in a digest
is DIGESTED instead. `ALLOWED_FROM` says which status may follow which, so a status only moves
forward (the status store writes each move as one conditional update, `notifier.stores.status`);
`TERMINAL` and `REDRIVABLE` group them; `Claim` is what an attempt to send finds.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    SCHEDULED = "SCHEDULED"
    DIGESTED = "DIGESTED"
    CANCELLED = "CANCELLED"
    ACCEPTED = "ACCEPTED"
    QUEUED = "QUEUED"
    SENT = "SENT"
    DELIVERED = "DELIVERED"
    BOUNCED = "BOUNCED"
    FAILED = "FAILED"
    SUPPRESSED = "SUPPRESSED"
    DEAD_LETTERED = "DEAD_LETTERED"


_IN_FLIGHT = frozenset({Status.ACCEPTED, Status.QUEUED})
_OPEN = _IN_FLIGHT | {Status.DEAD_LETTERED}  # a redriven message may still be delivered
ALLOWED_FROM: dict[Status, frozenset[Status]] = {
    # A scheduled notification is released when it is due, or cancelled before: one conditional
    # write from SCHEDULED decides which, so a cancelled notification is never released.
    Status.ACCEPTED: frozenset({Status.SCHEDULED}),
    Status.CANCELLED: frozenset({Status.SCHEDULED}),
    Status.QUEUED: _OPEN,
    Status.SENT: _OPEN,
    Status.FAILED: _OPEN,
    Status.SUPPRESSED: _OPEN,
    Status.DEAD_LETTERED: _IN_FLIGHT,
    # A vendor's receipt proves the message was sent, even if the attempt that sent it has not
    # recorded SENT yet (a fast receipt) or never will (it timed out after the vendor took it).
    Status.DELIVERED: frozenset({Status.SENT, Status.QUEUED, Status.DEAD_LETTERED}),
    Status.BOUNCED: frozenset({Status.SENT, Status.QUEUED, Status.DEAD_LETTERED}),
}
"""For each status, the statuses it may follow. SCHEDULED and DIGESTED follow nothing, and so does
ACCEPTED but when a scheduled notification is released: each is first. QUEUED never follows
SCHEDULED, so no attempt starts on a notification that is not due yet."""

TERMINAL = frozenset(
    {
        Status.DELIVERED,
        Status.BOUNCED,
        Status.FAILED,
        Status.SUPPRESSED,
        Status.DEAD_LETTERED,
        Status.CANCELLED,
        Status.DIGESTED,
    }
)
REDRIVABLE = frozenset({Status.DEAD_LETTERED})
"""Terminal, except that redriving the message from its dead-letter queue reopens it."""

RECEIPT_MOMENTS = (
    "delivered_at",
    "bounced_at",
    "opened_at",
    "clicked_at",
    "complained_at",
    "unsubscribed_at",
)
"""When each receipt first came (the vendor's time), as the status row keeps them."""


@dataclass(frozen=True)
class Claim:
    """What `begin_attempt` found: the attempt may send (`granted`), the channel is already past
    sending (neither), or another attempt holds the lease for `busy_seconds` more."""

    granted: bool
    busy_seconds: float | None = None

    @property
    def busy(self) -> bool:
        return self.busy_seconds is not None


GRANTED = Claim(granted=True)
ALREADY_HANDLED = Claim(granted=False)
