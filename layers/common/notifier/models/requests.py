"""The API's requests: their shapes and limits, as the published contract states them."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
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

from notifier.models.channels import (
    ADDRESS_RULES,
    BODY_LIMITS,
    EMAIL_MAX_CHARS,
    INAPP_DATA_MAX_BYTES,
    INAPP_DATA_MAX_FIELDS,
    INAPP_TITLE_MAX_CHARS,
    INLINE_ADDRESS_CHANNELS,
    Channel,
    Priority,
    RecipientId,
    SocialEventType,
    address_problem,
)

BULK_MAX_EVENTS = 100  # events in one `POST /events/bulk`
IDEMPOTENCY_KEY_MAX_CHARS = 255
# Printable ASCII; spaces inside only (an HTTP header value cannot start or end with one).
_IDEMPOTENCY_KEY_PATTERN = re.compile(
    rf"[\x21-\x7e](?:[\x20-\x7e]{{0,{IDEMPOTENCY_KEY_MAX_CHARS - 2}}}[\x21-\x7e])?"
)
IDEMPOTENCY_KEY_JSON_PATTERN = f"^{_IDEMPOTENCY_KEY_PATTERN.pattern}$"
"""The same, anchored, as the OpenAPI document states it."""


def _per_channel_rules() -> list[JsonValue]:
    """What PublishRequest's validators check per `type`, as JSON Schema says it (if/then), for the
    published contract: the body's length, the inline address's form (none for in-app), a subject for
    e-mail only, a title and data for in-app only."""
    rules: list[JsonValue] = []
    for channel in Channel:
        then: dict[str, JsonValue] = {"to": {"type": "null"}}
        if channel in INLINE_ADDRESS_CHANNELS:
            pattern, _ = ADDRESS_RULES[channel]
            then["to"] = {"anyOf": [{"type": "string", "pattern": pattern}, {"type": "null"}]}
        if channel in BODY_LIMITS:
            then["messageBody"] = {"maxLength": BODY_LIMITS[channel]}
        if channel is not Channel.EMAIL:
            then["subject"] = {"type": "null"}
        if channel is not Channel.INAPP:
            then["title"] = {"type": "null"}
            then["data"] = {"type": "null"}
        condition: JsonValue = {"properties": {"type": {"const": channel.value}}, "required": ["type"]}
        rules.append({"if": condition, "then": {"properties": then}})
    return rules


# --------------------------------------------------------------------------------------------
# API requests
# --------------------------------------------------------------------------------------------


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


class PublishRequest(BaseModel):
    """`POST /api/v1/notifications/publish`: one message to one recipient on one channel."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={
            # events/api_publish_notification.json, api_publish_notification_sms_critical.json,
            # api_publish_notification_inapp.json
            "examples": [
                {"recipientId": "user-123", "type": "email", "messageBody": "Order shipped"},
                {
                    "recipientId": "user-123",
                    "type": "sms",
                    "messageBody": "Your login code is 482913",
                    "priority": "critical",
                    "to": "+14155550100",
                },
                {
                    "recipientId": "user-123",
                    "type": "inapp",
                    "title": "Order shipped",
                    "messageBody": "Your order 1234 is on its way.",
                    "data": {"order_id": "1234", "action": "open_order"},
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
        "of the recipient's stored contact. Not for in-app: the inbox is the recipient's.",
    )
    title: str | None = Field(
        default=None,
        min_length=1,
        max_length=INAPP_TITLE_MAX_CHARS,
        description="In-app only: the inbox item's title (none: the body alone).",
    )
    send_at: Rfc3339DateTime | None = Field(
        default=None,
        alias="sendAt",
        description="Send it then, not now: an RFC 3339 time with an offset, ahead of now by at most "
        "MaxScheduleDays (30 days). Until then its status is SCHEDULED, and DELETE /event/{id} cancels it.",
    )
    data: dict[str, JsonValue] | None = Field(
        default=None,
        description=f"In-app only: what the app reads to act on the inbox item; a JSON object of at "
        f"most {INAPP_DATA_MAX_FIELDS} fields and {INAPP_DATA_MAX_BYTES} bytes as compact UTF-8 JSON.",
        json_schema_extra={"maxProperties": INAPP_DATA_MAX_FIELDS},
    )

    # `type` is declared before the fields below, so their validators can read it from info.data.
    @field_validator("message_body")
    @classmethod
    def _body_fits_channel(cls, value: str, info: ValidationInfo) -> str:
        channel: Channel | None = info.data.get("type")
        limit = BODY_LIMITS.get(channel) if channel else None
        if limit is not None and len(value) > limit:
            raise ValueError(f"at most {limit} characters for {channel} messages")
        return value

    @field_validator("subject")
    @classmethod
    def _subject_only_for_email(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("type", Channel.EMAIL) is not Channel.EMAIL:
            raise ValueError("only e-mail notifications take a subject")
        return value

    @field_validator("title", "data")
    @classmethod
    def _only_for_inapp(cls, value: Any, info: ValidationInfo) -> Any:
        if value is not None and info.data.get("type", Channel.INAPP) is not Channel.INAPP:
            raise ValueError(f"only in-app notifications take a {info.field_name}")
        return value

    @field_validator("data")
    @classmethod
    def _data_fits_inbox(cls, value: dict[str, JsonValue] | None) -> dict[str, JsonValue] | None:
        if value is None:
            return value
        if len(value) > INAPP_DATA_MAX_FIELDS:
            raise ValueError(f"at most {INAPP_DATA_MAX_FIELDS} fields (got {len(value)})")
        size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
        if size > INAPP_DATA_MAX_BYTES:
            raise ValueError(f"at most {INAPP_DATA_MAX_BYTES} bytes as JSON (got {size})")
        return value

    @field_validator("to")
    @classmethod
    def _address_fits_channel(cls, value: str | None, info: ValidationInfo) -> str | None:
        channel = info.data.get("type")
        if value is None or channel is None:
            return value
        if channel not in INLINE_ADDRESS_CHANNELS:
            raise ValueError(f"{channel} notifications go to the recipient's inbox and take no address")
        problem = address_problem(channel, value)
        if problem:
            raise ValueError(problem)
        return value


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
    send_at: Rfc3339DateTime | None = Field(
        default=None,
        description="Send it then, not now: an RFC 3339 time with an offset, ahead of now by at most "
        "MaxScheduleDays (30 days). Until then its status is SCHEDULED, and DELETE /event/{id} cancels it.",
    )


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


RECEIPT_CLOCK_SKEW = timedelta(minutes=5)
"""How far ahead of ours a device's clock may be."""


class PushReceiptRequest(BaseModel):
    """The app's word that a push notification reached the device, or was opened: push has no vendor
    receipt. The app finds the notification's id in the push message's data (`notification_id`)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    channel: Literal["push"] = Field(
        description="Only push: e-mail and SMS receipts come from the vendors' webhooks."
    )
    event: Literal["delivered", "opened"]
    occurred_at: Rfc3339DateTime | None = Field(
        default=None,
        description="When it happened on the device (RFC 3339 with an offset, not in the future); "
        "default now.",
    )

    @field_validator("occurred_at")
    @classmethod
    def _not_in_the_future(cls, value: datetime | None) -> datetime | None:
        if value is not None and value > datetime.now(UTC) + RECEIPT_CLOCK_SKEW:
            raise ValueError("is in the future")
        return value
