"""The SNS envelope, the one message contract between the publish function and the consumers
(versioned by `schema_version`, so a consumer can refuse a message it does not understand), and the
rendered message of each channel.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
)

from notifier.models.channels import Channel, Priority, SocialEventType

# --------------------------------------------------------------------------------------------
# The SNS envelope
# --------------------------------------------------------------------------------------------


class MessageContent(BaseModel):
    """Content written by the caller, sent as is. `title` and `data` are the in-app ones (the publish
    request takes them for in-app only); defaults, so a consumer reads an envelope written before them."""

    kind: Literal["message"] = "message"
    body: str
    subject: str | None = None
    title: str | None = None
    data: dict[str, JsonValue] = Field(default_factory=dict)


class EventContent(BaseModel):
    """Content rendered by the consumer from the event type's templates."""

    kind: Literal["event"] = "event"
    payload: dict[str, Any]


class Envelope(BaseModel):
    model_config = ConfigDict(frozen=True)

    schema_version: Literal[1] = 1
    notification_id: str = Field(min_length=1)
    correlation_id: str = Field(min_length=1)
    recipient_id: str = Field(min_length=1)
    event_type: SocialEventType | Literal["NOTIFICATION"]
    priority: Priority
    channels: list[Channel] = Field(min_length=1)
    content: Annotated[MessageContent | EventContent, Field(discriminator="kind")]
    addresses: dict[Channel, str] = Field(
        default_factory=dict, description="Inline addresses that override the recipient's."
    )
    created_at: datetime


# --------------------------------------------------------------------------------------------
# Rendered messages, one model per channel
# --------------------------------------------------------------------------------------------


class EmailMessage(BaseModel):
    channel: Literal[Channel.EMAIL] = Channel.EMAIL
    subject: str
    text: str
    html: str | None = None


class SmsMessage(BaseModel):
    channel: Literal[Channel.SMS] = Channel.SMS
    text: str


class PushMessage(BaseModel):
    channel: Literal[Channel.PUSH] = Channel.PUSH
    title: str
    body: str
    data: dict[str, str] = {}


class InAppMessage(BaseModel):
    """An item of the recipient's inbox. `event_type` travels with it because the inbox lists and
    filters by it, and a delivery carries only the message; `title` is None for a direct notification
    whose caller gave none (an inbox shows the body alone, where a push needs a title to be shown)."""

    channel: Literal[Channel.INAPP] = Channel.INAPP
    event_type: str
    title: str | None = None
    body: str
    data: dict[str, JsonValue] = {}


OutboundMessage = Annotated[
    EmailMessage | SmsMessage | PushMessage | InAppMessage, Field(discriminator="channel")
]
