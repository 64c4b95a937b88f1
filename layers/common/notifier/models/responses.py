"""The API's answers, errors included."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    Field,
)

from notifier.models.channels import Channel, Priority

# --------------------------------------------------------------------------------------------
# API answers
# --------------------------------------------------------------------------------------------


class PublishAccepted(BaseModel):
    message: Literal["Notification accepted for processing"] = "Notification accepted for processing"
    notificationId: str  # noqa: N815 - public contract


class EventAccepted(BaseModel):
    event_id: str
    status: Literal["SUCCESS"] = "SUCCESS"
    message: Literal["Event published successfully"] = "Event published successfully"


class BulkItemAccepted(BaseModel):
    index: int = Field(description="The event's position in the request, from 0.")
    event_id: str
    status: Literal["SUCCESS"] = "SUCCESS"


class BulkItemFailed(BaseModel):
    index: int = Field(description="The event's position in the request, from 0.")
    status: Literal["FAILED"] = "FAILED"
    error: str
    retryable: bool = Field(description="Sending this event again (with a new Idempotency-Key) may work.")


BulkItemResult = Annotated[BulkItemAccepted | BulkItemFailed, Field(discriminator="status")]


class BulkPublished(BaseModel):
    """The answer of `POST /events/bulk`: one result per event, in request order."""

    accepted: int
    failed: int
    results: list[BulkItemResult]


class BulkNotPublished(BulkPublished):
    """503 from `POST /events/bulk`: no event was queued. The per-event answer, and what every error
    body says."""

    error: Literal["unavailable"] = "unavailable"
    message: str
    retryable: bool


class ChannelStatus(BaseModel):
    status: str
    attempts: int = 0
    provider: str | None = Field(
        default=None, description="Who sent it: sendgrid, ses, twilio, eum, fcm, inbox or sandbox."
    )
    provider_message_id: str | None = None
    last_error: str | None = None
    deferred_until: str | None = Field(
        default=None, description="Held back by the recipient's quiet hours until this time."
    )
    scheduled_for: str | None = Field(
        default=None, description="When a scheduled notification is (or was) due to be sent."
    )
    digested_into: str | None = Field(
        default=None,
        description="DIGESTED: the notification (a digest) that carried this event with others; "
        "GET /event/{id} with it shows how that went.",
    )
    created_at: str | None = None
    updated_at: str | None = None
    delivered_at: str | None = Field(
        default=None, description="When the vendor (or the app) said it arrived."
    )
    bounced_at: str | None = Field(default=None, description="When the vendor said it never will arrive.")
    opened_at: str | None = Field(
        default=None, description="First opened (e-mail, push), or read (SMS, in-app)."
    )
    clicked_at: str | None = Field(default=None, description="A link in it first clicked (e-mail).")
    complained_at: str | None = Field(default=None, description="The recipient reported it as spam.")
    unsubscribed_at: str | None = Field(default=None, description="The recipient unsubscribed from it.")


class EventStatus(BaseModel):
    event_id: str
    recipient_id: str | None = None
    event_type: str | None = None
    priority: Priority | None = None
    channels: dict[Channel, ChannelStatus]


class FieldProblem(BaseModel):
    field: str
    reason: str


class ErrorBody(BaseModel):
    error: str
    message: str
    fields: list[FieldProblem] = []
    retryable: bool = Field(
        default=False, description="The same request may succeed later (after Retry-After seconds)."
    )


class Suppression(BaseModel):
    """An address no notification is sent to, and why."""

    address: str
    channel: Literal["email", "sms"]
    reason: str
    source: str = Field(
        description="Who said so: `sendgrid bounce`, `sendgrid spamreport`, `twilio 30005`, ..."
    )
    notification_id: str | None = Field(default=None, description="The notification whose receipt said so.")
    created_at: str


class SuppressionPage(BaseModel):
    items: list[Suppression]
    next: str | None = Field(description="Pass as `after` for the next page; null on the last.")


class ReceiptsApplied(BaseModel):
    """What a webhook POST did. Answered 200 whenever the request was verified, so the vendor does not
    send it again: a receipt for a notification this stack does not know is counted, not refused."""

    received: int = Field(description="Receipts in the request (events that change nothing not counted).")
    applied: int = Field(description="Receipts that changed a status, or added engagement.")
    unchanged: int = Field(description="Receipts the status already reflected (or may no longer take).")
    duplicates: int = Field(description="Receipts already applied from an earlier request.")
    unknown: int = Field(description="Receipts for a notification this stack does not know.")
    ignored: int = Field(description="Events that change nothing here (SendGrid `processed`, Twilio `sent`).")
    invalid: int = Field(description="Events that could not be read; each is logged with why.")
    suppressed: int = Field(description="Addresses newly put on the suppression list.")


class InboxItemView(BaseModel):
    """An in-app notification in its recipient's inbox."""

    id: str = Field(description="The notification id (as in `GET /event/{id}`).")
    event_type: str
    title: str | None
    body: str
    data: dict[str, Any] = Field(description="What the template and the event's payload give the app.")
    created_at: str
    seen_at: str | None = Field(description="When it was marked seen (or read); null until then.")
    read_at: str | None = Field(description="When it was read; null while unread.")
    archived_at: str | None = Field(description="When it was archived; null unless archived.")


class InboxPageView(BaseModel):
    items: list[InboxItemView]
    unread_count: int = Field(description="Unread items, archived ones left out.")
    unseen_count: int = Field(description="Unseen items, archived ones left out.")
    next: str | None = Field(description="Pass as `after` for the next page; null on the last.")


class InboxCounts(BaseModel):
    """What a mark did, and the counts after it."""

    marked: int = Field(description="Items the mark changed.")
    unread_count: int
    unseen_count: int


class InboxToken(BaseModel):
    token: str = Field(
        description="Send as `Authorization: Bearer <token>`, or as `?token=` to the WebSocket."
    )
    expires_at: str
