"""The API's answers, errors included."""

from __future__ import annotations

from typing import Annotated, Literal

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
    provider_message_id: str | None = None
    last_error: str | None = None
    deferred_until: str | None = Field(
        default=None, description="Held back by the recipient's quiet hours until this time."
    )
    created_at: str | None = None
    updated_at: str | None = None


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
