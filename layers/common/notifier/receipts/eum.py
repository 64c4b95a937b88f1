"""AWS End User Messaging SMS's delivery events, read into receipts.

The configuration set our SMS are sent with (`notifier.providers.eum_sms`) publishes each SMS event
to an SNS topic, and the topic to an SQS queue: a record's body is SNS's envelope around the event's
JSON, or the event itself with raw message delivery (`notifier.receipts.ses.sns_message` reads
both). The event is documented in "Example AWS End User Messaging SMS event data"
(https://docs.aws.amazon.com/sms-voice/latest/userguide/configuration-sets-event-format.html):
`eventType` (`TEXT_DELIVERED`, ...), `eventTimestamp` (Unix time in milliseconds), `isFinal`,
`destinationPhoneNumber`, `messageId` (the `MessageId` `SendTextMessage` answered), `messageStatus`
and `messageStatusDescription`, and `context`: the `Context` of the send, where our notification id
is (`context.notification_id`); an event without it is not ours (`notification_id` None). The event
types are those of "Event types for SMS, MMS, and voice"
(https://docs.aws.amazon.com/sms-voice/latest/userguide/configuration-sets-event-types.html).

| eventType | receipt |
|---|---|
| `TEXT_DELIVERED` | DELIVERED |
| `TEXT_SUCCESSFUL`, final | DELIVERED: accepted by the carrier, and in some countries the last word |
| `TEXT_SUCCESSFUL` not final, `TEXT_QUEUED`, `TEXT_PENDING`, `TEXT_SENT` | ignored: on its way |
| `TEXT_INVALID`, final | BOUNCED, the number suppressed: "the destination phone number is not valid" |
| the other failures, final | BOUNCED with the status description, not suppressed (see below) |
| a failure not final | DEFERRED: the reason is kept, the status stays SENT until the final event |
| anything else (`VOICE_*`, `MEDIA_*`, a `TEXT_*` added later) | ignored |

The other failures, and why the number stays usable: `TEXT_BLOCKED` (the recipient's device or
carrier blocks messages to the recipient, which may be lifted; Twilio's 30004 is not suppressed
either), `TEXT_UNREACHABLE` (the device is off or off the network), `TEXT_CARRIER_UNREACHABLE` (a
temporary error in the carrier's network), `TEXT_TTL_EXPIRED` (not delivered in time),
`TEXT_UNKNOWN` (temporary or permanent; also what the service says after 72 hours without a final
event), and those about the message or the sender, not the number: `TEXT_INVALID_MESSAGE`,
`TEXT_CARRIER_BLOCKED`, `TEXT_SPAM`, `TEXT_PROTECT_BLOCKED`.

There is no opt-out event: a number that replied STOP is on the phone number's opt-out list, and
`SendTextMessage` refuses it (`ConflictException` `DESTINATION_PHONE_NUMBER_OPTED_OUT`, a permanent
error in `notifier.providers.eum_sms`), so nothing is sent and no event follows.

Each receipt's `event_id` is the message id, the event type and whether it was final: the same
event delivered again (SNS and SQS deliver at least once) is recognised.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from notifier.models.channels import Channel
from notifier.receipts.models import Receipt, ReceiptKind
from notifier.receipts.ses import sns_message

CONTEXT_KEY = "notification_id"
"""The key of the send's `Context` that carries our notification id."""
MAX_REASON = 500

DELIVERED = frozenset({"TEXT_DELIVERED"})
DELIVERED_WHEN_FINAL = frozenset({"TEXT_SUCCESSFUL"})
UNREACHABLE_NUMBER = frozenset({"TEXT_INVALID"})
"""Failures that say the number itself can never receive an SMS: suppressed."""
FAILED = UNREACHABLE_NUMBER | {
    "TEXT_BLOCKED",
    "TEXT_TTL_EXPIRED",
    "TEXT_CARRIER_UNREACHABLE",
    "TEXT_INVALID_MESSAGE",
    "TEXT_CARRIER_BLOCKED",
    "TEXT_UNREACHABLE",
    "TEXT_SPAM",
    "TEXT_UNKNOWN",
    "TEXT_PROTECT_BLOCKED",
}


def read_eum_events(body: str) -> list[Receipt]:
    """The receipts one SQS record's body (an End User Messaging SMS event, in SNS's envelope or
    raw) is: none when the event changes nothing here. ValueError, with the reason, when the body is
    not such an event."""
    event = sns_message(body, "an End User Messaging SMS event")
    event_type = event.get("eventType")
    if event_type is None:
        raise ValueError("not an End User Messaging SMS event: no eventType")
    if not isinstance(event_type, str) or not event_type:
        raise ValueError("eventType: not a string")
    final = event.get("isFinal", True)
    if not isinstance(final, bool):
        raise ValueError("isFinal: not a boolean")
    if event_type in DELIVERED or (event_type in DELIVERED_WHEN_FINAL and final):
        kind, suppress = ReceiptKind.DELIVERED, False
    elif event_type in FAILED:
        kind = ReceiptKind.BOUNCED if final else ReceiptKind.DEFERRED
        suppress = final and event_type in UNREACHABLE_NUMBER
    else:
        return []
    message_id = _text(event, "messageId")
    description = _optional(event, "messageStatusDescription") or _optional(event, "messageStatus")
    source = f"eum {event_type}"
    return [
        Receipt(
            kind=kind,
            channel=Channel.SMS,
            notification_id=_notification_id(event.get("context")),
            occurred_at=_when(event),
            event_id=f"{message_id}:{event_type}:{'final' if final else 'interim'}",
            address=_optional(event, "destinationPhoneNumber"),
            reason=(f"{source}: {description}" if description else source)[:MAX_REASON],
            provider_message_id=message_id,
            suppress=suppress,
            source=source,
        )
    ]


def _notification_id(context: Any) -> str | None:
    if context is None:
        return None
    if not isinstance(context, dict):
        raise ValueError("context: not an object")
    value = context.get(CONTEXT_KEY)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ValueError(f"context.{CONTEXT_KEY}: not a string")
    return value


def _when(event: dict[str, Any]) -> datetime:
    value = event.get("eventTimestamp")
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 < value < 1e14:
        raise ValueError("eventTimestamp: not a Unix time in milliseconds")
    return datetime.fromtimestamp(value / 1000, UTC)


def _text(event: dict[str, Any], key: str) -> str:
    value = event.get(key)
    if not isinstance(value, str) or not value or len(value) > 1024:
        raise ValueError(f"{key}: not a string")
    return value


def _optional(event: dict[str, Any], key: str) -> str | None:
    value = event.get(key)
    return value.strip() if isinstance(value, str) and value.strip() else None
