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


DIGEST_MAX_ACTORS = 10
"""Actors a digest names at most (the first distinct ones); its count covers them all."""


class DigestContent(BaseModel):
    """Several events of one type and digest key, sent as one when their window closes
    (`notifier.scheduling.digests`): rendered from the event type's digest templates, in the plural
    form of `count` in the recipient's language ("Ana, Ben and 3 others liked your post")."""

    kind: Literal["digest"] = "digest"
    count: int = Field(ge=1, description="The events in the digest, named or not.")
    actors: list[str] = Field(
        default_factory=list,
        max_length=DIGEST_MAX_ACTORS,
        description="The distinct `actor_name`s of its events, first come first; events without one are "
        "counted but not named.",
    )
    payload: dict[str, Any] = Field(description="The payload of the window's first event (its parent).")


class Envelope(BaseModel):
    model_config = ConfigDict(frozen=True)

    schema_version: Literal[1] = 1
    notification_id: str = Field(min_length=1)
    correlation_id: str = Field(min_length=1)
    recipient_id: str = Field(min_length=1)
    event_type: SocialEventType | Literal["NOTIFICATION"]
    priority: Priority
    channels: list[Channel] = Field(min_length=1)
    content: Annotated[MessageContent | EventContent | DigestContent, Field(discriminator="kind")]
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
