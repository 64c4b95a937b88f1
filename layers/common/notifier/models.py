"""Every shape that crosses a boundary: API requests and answers, the SNS envelope, rendered messages.

The envelope is the one message contract between the publish function and the channel consumers;
it is versioned (`schema_version`) so a consumer can refuse a message it does not understand.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    WrapValidator,
    field_validator,
    model_validator,
)

RECIPIENT_ID_PATTERN = r"^[A-Za-z0-9_.:@+-]{1,128}$"
E164_PATTERN = r"^\+[1-9][0-9]{6,14}$"
# Any character but a control character or a space of any kind, written out rather than as \S: Python's
# and ECMAScript's (an OpenAPI client's) idea of a space differ, and each pattern below is published.
_VISIBLE = r"\x00-\x20\x7f-\x9f\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
# Deliberately simple: one "@", no spaces, a dot in the domain. Vendors do the final check.
EMAIL_PATTERN = rf"^[^@{_VISIBLE}]{{1,64}}@[^@{_VISIBLE}]+\.[^@{_VISIBLE}]{{2,}}$"
PUSH_TOKEN_PATTERN = rf"^[^{_VISIBLE}]{{8,4096}}$"
"""A registration token: at least 8 visible characters (FCM's are about 160, APNs' 64)."""
SMS_MAX_CHARS = 1600  # Twilio's limit for one message body, split into segments by the carrier
PUSH_MAX_CHARS = 2048  # keeps the FCM payload well under its 4 KB limit
EMAIL_MAX_CHARS = 100_000  # keeps the SNS message under its 256 KB limit
BULK_MAX_EVENTS = 100  # events in one `POST /events/bulk`
IDEMPOTENCY_KEY_MAX_CHARS = 255
# Printable ASCII; spaces inside only (an HTTP header value cannot start or end with one).
_IDEMPOTENCY_KEY_PATTERN = re.compile(
    rf"[\x21-\x7e](?:[\x20-\x7e]{{0,{IDEMPOTENCY_KEY_MAX_CHARS - 2}}}[\x21-\x7e])?"
)
IDEMPOTENCY_KEY_JSON_PATTERN = f"^{_IDEMPOTENCY_KEY_PATTERN.pattern}$"
"""The same, anchored, as the OpenAPI document states it."""


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    PUSH = "push"


class Priority(StrEnum):
    CRITICAL = "critical"
    STANDARD = "standard"


class SocialEventType(StrEnum):
    LIKE = "LIKE"
    COMMENT = "COMMENT"
    SHARE = "SHARE"
    FOLLOW = "FOLLOW"
    UNFOLLOW = "UNFOLLOW"
    MENTION = "MENTION"
    MESSAGE = "MESSAGE"
    POST = "POST"


_BODY_LIMITS = {Channel.SMS: SMS_MAX_CHARS, Channel.PUSH: PUSH_MAX_CHARS}
_ADDRESS_RULES = {
    Channel.EMAIL: (EMAIL_PATTERN, "not a valid e-mail address"),
    Channel.SMS: (E164_PATTERN, "not an E.164 phone number (such as +14155550100)"),
    Channel.PUSH: (PUSH_TOKEN_PATTERN, "not a push registration token"),
}


def _per_channel_rules() -> list[JsonValue]:
    """What PublishRequest's validators check per `type`, as JSON Schema says it (if/then), for the
    published contract: the body's length, the inline address's form, a subject for e-mail only."""
    rules: list[JsonValue] = []
    for channel in Channel:
        pattern, _ = _ADDRESS_RULES[channel]
        then: dict[str, JsonValue] = {
            "to": {"anyOf": [{"type": "string", "pattern": pattern}, {"type": "null"}]}
        }
        if channel in _BODY_LIMITS:
            then["messageBody"] = {"maxLength": _BODY_LIMITS[channel]}
        if channel is not Channel.EMAIL:
            then["subject"] = {"type": "null"}
        condition: JsonValue = {"properties": {"type": {"const": channel.value}}, "required": ["type"]}
        rules.append({"if": condition, "then": {"properties": then}})
    return rules


DIRECT_EVENT_TYPE: Literal["NOTIFICATION"] = "NOTIFICATION"
"""The `event_type` of a notification published through the explicit route."""

RecipientId = Annotated[str, Field(pattern=RECIPIENT_ID_PATTERN, examples=["user-123"])]


# --------------------------------------------------------------------------------------------
# API requests
# --------------------------------------------------------------------------------------------


class PublishRequest(BaseModel):
    """`POST /api/v1/notifications/publish`: one message to one recipient on one channel."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={
            # events/api_publish_notification.json, events/api_publish_notification_sms_critical.json
            "examples": [
                {"recipientId": "user-123", "type": "email", "messageBody": "Order shipped"},
                {
                    "recipientId": "user-123",
                    "type": "sms",
                    "messageBody": "Your login code is 482913",
                    "priority": "critical",
                    "to": "+14155550100",
                },
            ],
            "allOf": _per_channel_rules(),
        },
    )

    recipient_id: RecipientId = Field(alias="recipientId")
    type: Channel
    message_body: str = Field(alias="messageBody", min_length=1, max_length=EMAIL_MAX_CHARS)
    priority: Priority = Priority.STANDARD
    subject: str | None = Field(default=None, min_length=1, max_length=998)
    to: str | None = Field(
        default=None,
        min_length=1,
        max_length=4096,
        description="An inline address (e-mail, E.164 phone number or push token) used instead "
        "of the recipient's stored contact.",
    )

    # `type` is declared before the fields below, so their validators can read it from info.data.
    @field_validator("message_body")
    @classmethod
    def _body_fits_channel(cls, value: str, info: ValidationInfo) -> str:
        channel: Channel | None = info.data.get("type")
        limit = _BODY_LIMITS.get(channel) if channel else None
        if limit is not None and len(value) > limit:
            raise ValueError(f"at most {limit} characters for {channel} messages")
        return value

    @field_validator("subject")
    @classmethod
    def _subject_only_for_email(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("type", Channel.EMAIL) is not Channel.EMAIL:
            raise ValueError("only e-mail notifications take a subject")
        return value

    @field_validator("to")
    @classmethod
    def _address_fits_channel(cls, value: str | None, info: ValidationInfo) -> str | None:
        channel = info.data.get("type")
        if value is None or channel is None:
            return value
        problem = address_problem(channel, value)
        if problem:
            raise ValueError(problem)
        return value


_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)


def _rfc3339_text(value: Any) -> Any:
    """Only RFC 3339 text, as the contract's `date-time` says: lax parsing would read 0, "0" or
    "2023-10-15" as times."""
    if isinstance(value, datetime) or (isinstance(value, str) and _RFC3339.fullmatch(value)):
        return value
    raise ValueError("an RFC 3339 date-time with an offset, such as 2023-10-15T12:34:56Z")


Rfc3339DateTime = Annotated[datetime, BeforeValidator(_rfc3339_text)]

PAYLOAD_MAX_FIELDS = 32
"""Fields of one event payload, its named fields included."""
PAYLOAD_TEXT_MAX_CHARS = 1024
PAYLOAD_LIST_MAX_ITEMS = 32
SAFE_INTEGER = 2**53 - 1
"""The largest integer every JSON reader (JavaScript's included) reads exactly."""

PayloadScalar = (
    Annotated[StrictStr, Field(max_length=PAYLOAD_TEXT_MAX_CHARS)]
    | Annotated[StrictInt, Field(ge=-SAFE_INTEGER, le=SAFE_INTEGER)]
    | Annotated[StrictFloat, Field(allow_inf_nan=False, ge=-SAFE_INTEGER, le=SAFE_INTEGER)]
    | StrictBool
    | None
)
_PAYLOAD_VALUE_RULE = (
    f"must be text (at most {PAYLOAD_TEXT_MAX_CHARS} characters), a number between -(2^53-1) and "
    f"2^53-1, true, false, null, or a flat list or object of at most {PAYLOAD_LIST_MAX_ITEMS} of those"
)


def _one_problem(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """One reason for a payload value, instead of one per member of the union it failed."""
    try:
        return handler(value)
    except ValidationError:
        raise ValueError(_PAYLOAD_VALUE_RULE) from None


PayloadValue = Annotated[
    PayloadScalar
    | Annotated[list[PayloadScalar], Field(max_length=PAYLOAD_LIST_MAX_ITEMS)]
    | Annotated[
        dict[Annotated[str, Field(max_length=64)], PayloadScalar],
        Field(max_length=PAYLOAD_LIST_MAX_ITEMS),
    ],
    WrapValidator(_one_problem),
]
"""A payload field beyond the named ones: text, a number, a boolean, null, or one flat list or object
of those. Bounded so that whatever is accepted renders and fits in the SNS message."""


class EventPayload(BaseModel):
    """The payload of a social event. Fields beyond these are kept and offered to the templates: each
    a `PayloadValue`, at most PAYLOAD_MAX_FIELDS fields in all."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"maxProperties": PAYLOAD_MAX_FIELDS})
    __pydantic_extra__: dict[str, PayloadValue] = Field(init=False)

    parent_id: str = Field(min_length=1, max_length=256)
    parent_type: str = Field(min_length=1, max_length=64)
    timestamp: Rfc3339DateTime
    priority: Priority | None = Field(
        default=None, description="Overrides the event type's default priority."
    )

    @model_validator(mode="after")
    def _not_too_many_fields(self) -> EventPayload:
        count = len(self.model_fields_set)  # extra fields included
        if count > PAYLOAD_MAX_FIELDS:
            raise ValueError(f"at most {PAYLOAD_MAX_FIELDS} fields (got {count})")
        return self


SEED_EVENT: dict[str, JsonValue] = {
    "user_id": "user_12345",
    "event_type": "LIKE",
    "payload": {
        "parent_id": "post_67890",
        "parent_type": "post",
        "timestamp": "2023-10-15T12:34:56Z",
        "priority": "critical",
    },
}
"""The event of the seed document the service grew from, as is: the example of POST /event."""


class EventRequest(BaseModel):
    """`POST /event`: something happened to `user_id`; the routing rules pick channels."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [SEED_EVENT],  # events/api_publish_event.json
        },
    )

    user_id: RecipientId
    event_type: SocialEventType
    payload: EventPayload


class BulkEventRequest(BaseModel):
    """`POST /events/bulk`: up to BULK_MAX_EVENTS events, each exactly the body of `POST /event`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [  # events/api_publish_events_bulk.json
                {
                    "events": [
                        SEED_EVENT,
                        {
                            "user_id": "user-123",
                            "event_type": "COMMENT",
                            "payload": {
                                "parent_id": "post_67890",
                                "parent_type": "post",
                                "timestamp": "2023-10-15T12:35:10Z",
                                "actor_name": "Ana",
                            },
                        },
                        {
                            "user_id": "user-123",
                            "event_type": "MESSAGE",
                            "payload": {
                                "parent_id": "thread_42",
                                "parent_type": "thread",
                                "timestamp": "2023-10-15T12:36:00Z",
                                "actor_name": "Ana",
                            },
                        },
                    ]
                }
            ]
        },
    )

    events: list[EventRequest] = Field(min_length=1, max_length=BULK_MAX_EVENTS)


def _valid_idempotency_key(value: str | None) -> str | None:
    if value is not None and not _IDEMPOTENCY_KEY_PATTERN.fullmatch(value):
        raise ValueError(
            f"must be 1 to {IDEMPOTENCY_KEY_MAX_CHARS} printable ASCII characters, "
            "without leading or trailing spaces"
        )
    return value


IdempotencyKey = Annotated[
    str | None,
    AfterValidator(_valid_idempotency_key),
    # As the OpenAPI document states it: a header has a value or is absent, never null.
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "maxLength": IDEMPOTENCY_KEY_MAX_CHARS,
            "pattern": IDEMPOTENCY_KEY_JSON_PATTERN,
        }
    ),
]
"""The value of the optional `Idempotency-Key` request header of every POST."""


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


# --------------------------------------------------------------------------------------------
# The SNS envelope
# --------------------------------------------------------------------------------------------


class MessageContent(BaseModel):
    """Content written by the caller, sent as is."""

    kind: Literal["message"] = "message"
    body: str
    subject: str | None = None


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


OutboundMessage = Annotated[EmailMessage | SmsMessage | PushMessage, Field(discriminator="channel")]


# --------------------------------------------------------------------------------------------
# Addresses
# --------------------------------------------------------------------------------------------


def address_problem(channel: Channel, address: str) -> str | None:
    """Why `address` cannot be used on `channel`, or None when it can."""
    pattern, problem = _ADDRESS_RULES[channel]
    return None if re.fullmatch(pattern, address) else problem
