"""A delivery receipt: what a vendor (or the app, for push) says became of a message we sent.

Each vendor's events are read into `Receipt`s (`notifier.receipts.sendgrid`, `notifier.receipts.twilio`)
and applied the same way (`notifier.receipts.ingest`): statuses move only forward, engagement is kept
at its first time, and what must not be sent to again goes on the suppression list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from notifier.models.channels import Channel


class ReceiptKind(StrEnum):
    DELIVERED = "delivered"
    """It reached the inbox or the phone: SENT -> DELIVERED."""
    BOUNCED = "bounced"
    """It never will: SENT -> BOUNCED, with the reason."""
    DEFERRED = "deferred"
    """Not yet (a soft bounce, a deferral): the status stays, the reason is kept."""
    OPENED = "opened"
    CLICKED = "clicked"
    COMPLAINED = "complained"
    """The recipient reported it as spam."""
    UNSUBSCRIBED = "unsubscribed"


ENGAGEMENT = frozenset(
    {ReceiptKind.OPENED, ReceiptKind.CLICKED, ReceiptKind.COMPLAINED, ReceiptKind.UNSUBSCRIBED}
)
"""Receipts that prove the message arrived, and so move SENT on to DELIVERED as well."""


@dataclass(frozen=True)
class Receipt:
    kind: ReceiptKind
    channel: Channel
    notification_id: str | None
    """Ours, as the vendor echoes it back (SendGrid's custom_args, our Twilio callback URL); None when
    the message was not sent by this service."""
    occurred_at: datetime
    event_id: str | None = None
    """The vendor's id of this event, to recognise it when the vendor sends it again."""
    address: str | None = None
    reason: str | None = None
    provider_message_id: str | None = None
    suppress: bool = False
    """Put the address on the suppression list: a hard bounce, a spam report, an unsubscribe."""
    source: str = ""
    """Who said so, for the suppression list: `sendgrid bounce`, `twilio 30005`, ..."""
