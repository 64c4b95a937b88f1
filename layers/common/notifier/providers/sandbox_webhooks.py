"""What the sandbox's receipts say, shaped as each vendor's webhook says it: SendGrid's Event Webhook
events and Twilio's status callbacks, for the addresses `notifier.providers.sandbox` reserves (which
address gets which receipt: `notifier.providers.sandbox_receipts`, whose poster signs and posts them).
"""

from __future__ import annotations

import base64
import functools
import uuid
from dataclasses import dataclass
from typing import Any

from notifier.models.channels import Channel
from notifier.providers.sandbox import RECEIPT_BOUNCES, RECEIPT_COMPLAINT

SANDBOX_ACCOUNT_SID = "AC5a4db0c5e1d0a1f00d5a5db0c5a5db0c"
"""The Twilio account the sandbox's callbacks name: a fixed fake, shaped as Twilio's (AC + 32 hex)."""
SANDBOX_FROM_NUMBER = "+15005550006"
"""Twilio's test credentials' number that passes as a valid sender."""
TWILIO_API_VERSION = "2010-04-01"

_SENDGRID_BOUNCE = {
    "type": "bounce",
    "status": "5.1.1",
    "reason": "550 5.1.1 The email account that you tried to reach does not exist",
    "bounce_classification": "Invalid Address",
}
_SENDGRID_DELIVERED = {"response": "250 2.0.0 OK"}
_SENDGRID_STALE = {"response": "421 4.7.0 Try again later", "attempt": "1"}
_UNKNOWN_HANDSET = 30005
"""Twilio's ErrorCode for an unknown destination handset."""


@dataclass(frozen=True)
class VendorEvent:
    """One vendor event: a SendGrid event object, or the form of one Twilio status callback."""

    notification_id: str
    name: str
    """SendGrid's `event` or Twilio's `MessageStatus`."""
    fields: dict[str, Any]
    repeat: bool = False
    """A duplicate or a stale event (a fault): never repeated again."""


def vendor_events(
    channel: Channel, notification_id: str, address: str, message_id: str, *, at: float, delay_seconds: float
) -> list[VendorEvent]:
    """What the vendor would say of this message, in order; `at`: when it reached the address, and a
    complaint comes `delay_seconds` after."""
    if channel is Channel.SMS:
        if address == RECEIPT_BOUNCES[Channel.SMS]:
            return [_twilio_callback(notification_id, address, message_id, "undelivered", _UNKNOWN_HANDSET)]
        return [_twilio_callback(notification_id, address, message_id, "delivered")]
    email = functools.partial(_sendgrid_event, notification_id, address, message_id)
    if address == RECEIPT_BOUNCES[Channel.EMAIL]:
        return [email("bounce", at=at, extra=_SENDGRID_BOUNCE)]
    delivered = email("delivered", at=at, extra=_SENDGRID_DELIVERED)
    if address == RECEIPT_COMPLAINT:
        return [delivered, email("spamreport", at=at + delay_seconds)]
    return [delivered]


def stale_event(channel: Channel, delivered: VendorEvent) -> VendorEvent:
    """An event from before `delivered`, posted after it: SendGrid's deferral, Twilio's `sent`."""
    fields = dict(delivered.fields)
    if channel is Channel.EMAIL:
        fields.pop("response", None)
        fields.update(_SENDGRID_STALE, event="deferred", timestamp=fields["timestamp"] - 1)
        fields["sg_event_id"] = _sg_event_id("deferred")
        return VendorEvent(delivered.notification_id, "deferred", fields, repeat=True)
    fields.update(MessageStatus="sent", SmsStatus="sent")
    return VendorEvent(delivered.notification_id, "sent", fields, repeat=True)


def _sendgrid_event(
    notification_id: str,
    address: str,
    message_id: str,
    name: str,
    *,
    at: float,
    extra: dict[str, str] | None = None,
) -> VendorEvent:
    """A SendGrid event as the Event Webhook posts it: delivery events (delivered, deferred, bounce)
    carry the message's SMTP id, engagement events (spamreport) do not."""
    fields: dict[str, Any] = {"email": address, "timestamp": int(at)}
    if name != "spamreport":
        fields["smtp-id"] = f"<{message_id}@ismtpd-sandbox>"
    fields.update(
        event=name,
        sg_event_id=_sg_event_id(name),
        sg_message_id=f"{message_id}.filterdrecv-sandbox-0.0",
        notification_id=notification_id,
        **(extra or {}),
    )
    return VendorEvent(notification_id, name, fields)


def _sg_event_id(name: str) -> str:
    """Unique, and shaped as SendGrid's: unpadded URL-safe base64 of the event's name and a serial."""
    return base64.urlsafe_b64encode(f"{name}-0-{uuid.uuid4().hex}".encode()).decode().rstrip("=")


def _twilio_callback(
    notification_id: str, address: str, message_id: str, status: str, error_code: int | None = None
) -> VendorEvent:
    """A Twilio status callback's form, as Twilio posts it."""
    fields: dict[str, Any] = {
        "AccountSid": SANDBOX_ACCOUNT_SID,
        "ApiVersion": TWILIO_API_VERSION,
        "From": SANDBOX_FROM_NUMBER,
        "MessageSid": message_id,
        "MessageStatus": status,
        "SmsSid": message_id,
        "SmsStatus": status,
        "To": address,
    }
    if error_code is not None:
        fields["ErrorCode"] = str(error_code)
    return VendorEvent(notification_id, status, fields)
