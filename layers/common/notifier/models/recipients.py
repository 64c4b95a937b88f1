"""Recipients: who a notification goes to, at which addresses, and what they asked for.

The document a client sends to `PUT /recipients/{recipientId}` is `RecipientDocument`; what is stored
and read back is `Recipient`, the same document with its id and the time it last changed. Every input
model forbids unknown fields, so a typo ("quiet_hour") is a 400 naming it instead of a preference
silently ignored.
"""

from __future__ import annotations

import re
from datetime import datetime, time
from importlib import resources
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    PlainSerializer,
    field_validator,
    model_validator,
)

from notifier.errors import PermanentDeliveryError
from notifier.models.channels import (
    E164_PATTERN,
    EMAIL_PATTERN,
    PUSH_TOKEN_PATTERN,
    Channel,
    RecipientId,
    SocialEventType,
    address_problem,
)
from notifier.models.envelope import Envelope

if TYPE_CHECKING:
    pass

MAX_PUSH_TOKENS = 20
LOCALE_PATTERN = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$"
"""A BCP 47-ish tag, in any case: a language, then subtags (script, region, variant)."""
_WALL_CLOCK_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
TIME_ZONES = frozenset(resources.files("tzdata").joinpath("zones").read_text(encoding="utf-8").split())
"""The IANA time zones of the tzdata package the functions ship, whatever the host has: the API's
answer to a zone name does not depend on where it runs, and the OpenAPI document lists them."""
_TIME_ZONE_NAMES: list[JsonValue] = [*sorted(TIME_ZONES)]


# --------------------------------------------------------------------------------------------
# The document
# --------------------------------------------------------------------------------------------


class PushToken(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=8, max_length=4096, json_schema_extra={"pattern": PUSH_TOKEN_PATTERN})
    platform: Literal["android", "ios", "web"]

    @field_validator("token")
    @classmethod
    def _valid_token(cls, value: str) -> str:
        return _checked(Channel.PUSH, value)


class Contacts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str | None = Field(default=None, json_schema_extra={"pattern": EMAIL_PATTERN})
    phone: str | None = Field(
        default=None, description="E.164, such as +14155550100", json_schema_extra={"pattern": E164_PATTERN}
    )
    push_tokens: list[PushToken] = Field(
        default_factory=list,
        max_length=MAX_PUSH_TOKENS,
        description="One per device. A token listed twice is kept once, with its first platform.",
    )

    @field_validator("email")
    @classmethod
    def _valid_email(cls, value: str | None) -> str | None:
        return None if value is None else _checked(Channel.EMAIL, value)

    @field_validator("phone")
    @classmethod
    def _valid_phone(cls, value: str | None) -> str | None:
        return None if value is None else _checked(Channel.SMS, value)

    @field_validator("push_tokens")
    @classmethod
    def _one_entry_per_token(cls, value: list[PushToken]) -> list[PushToken]:
        # An app re-registering sends the same token again; sending to it twice would notify twice.
        first: dict[str, PushToken] = {}
        for entry in value:
            first.setdefault(entry.token, entry)
        return list(first.values())


class OptOut(BaseModel):
    """What the recipient never wants. Listing something twice means the same as once."""

    model_config = ConfigDict(extra="forbid")

    channels: list[Channel] = Field(default_factory=list)
    event_types: list[SocialEventType] = Field(
        default_factory=list,
        description="Direct notifications (event type NOTIFICATION) cannot be opted out of by type.",
    )

    @field_validator("channels", "event_types")
    @classmethod
    def _once_each(cls, value: list[Any]) -> list[Any]:
        return list(dict.fromkeys(value))


def _wall_clock(value: object) -> object:
    """Only "HH:MM" (or a naive `time` on the minute): lax parsing would take 79200 or "22:00+02:00"."""
    if isinstance(value, str) and re.fullmatch(_WALL_CLOCK_PATTERN, value):
        return value
    if isinstance(value, time) and value.tzinfo is None and not (value.second or value.microsecond):
        return value
    raise ValueError("a local time as HH:MM, such as 22:00")


WallClock = Annotated[
    time,
    BeforeValidator(_wall_clock),
    PlainSerializer(lambda value: value.strftime("%H:%M"), return_type=str, when_used="json"),
    Field(examples=["22:00"], json_schema_extra={"pattern": _WALL_CLOCK_PATTERN}),
]
"""A time of day on the recipient's clock, in minutes, written "HH:MM"."""


class QuietHours(BaseModel):
    """A daily window, on the recipient's clock, when standard notifications wait.

    The window starts at `start` (included) and ends at `end` (excluded); an `end` earlier than
    `start` means the window runs past midnight (22:00 to 07:30).
    """

    model_config = ConfigDict(extra="forbid")

    start: WallClock
    end: WallClock

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        # Equal ends could mean "never" or "all day"; refuse rather than guess.
        if self.start == self.end:
            raise ValueError(
                f"quiet hours start and end at the same time ({self.start:%H:%M}); they must differ"
            )
        return self


class Preferences(BaseModel):
    model_config = ConfigDict(extra="forbid")

    opt_out: OptOut = Field(default_factory=OptOut)
    quiet_hours: QuietHours | None = None


_EXAMPLE_TIME = "2026-11-21T10:00:00Z"
EXAMPLE_DOCUMENT: dict[str, Any] = {  # events/api_put_recipient.json
    "contacts": {
        "email": "user-123@example.com",
        "phone": "+14155550123",
        "push_tokens": [{"token": "fcm-token-user-123-abcdef", "platform": "android"}],
    },
    "locale": "es-ES",
    "timezone": "Europe/Madrid",
    "preferences": {
        "opt_out": {"channels": ["sms"], "event_types": ["LIKE"]},
        "quiet_hours": {"start": "22:00", "end": "07:30"},
    },
}


class RecipientDocument(BaseModel):
    """The body of `PUT /recipients/{recipientId}`: everything about a recipient but its id."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE_DOCUMENT]})

    contacts: Contacts = Field(default_factory=Contacts)
    locale: str = Field(
        default="en", max_length=35, examples=["es-ES"], json_schema_extra={"pattern": LOCALE_PATTERN}
    )
    timezone: str = Field(
        default="UTC",
        max_length=64,
        examples=["Europe/Madrid"],
        description="An IANA time zone name.",
        json_schema_extra={"enum": _TIME_ZONE_NAMES},
    )
    preferences: Preferences = Field(default_factory=Preferences)

    @field_validator("locale")
    @classmethod
    def _normalised_locale(cls, value: str) -> str:
        if not re.fullmatch(LOCALE_PATTERN, value):
            raise ValueError("not a language tag such as en, es-ES or pt-BR")
        language, *subtags = value.split("-")
        return "-".join([language.lower(), *(_subtag_case(s) for s in subtags)])

    @field_validator("timezone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        if value not in TIME_ZONES:
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as Europe/Madrid")
        return value

    def for_recipient(self, recipient_id: str, updated_at: datetime) -> Recipient:
        """This document as recipient `recipient_id`'s, changed at `updated_at`."""
        document = {name: getattr(self, name) for name in RecipientDocument.model_fields}
        return Recipient(recipient_id=recipient_id, updated_at=updated_at, **document)


class Recipient(RecipientDocument):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"recipient_id": "user-123", "updated_at": "2026-11-21T10:00:00Z"} | EXAMPLE_DOCUMENT
            ]
        }
    )

    recipient_id: RecipientId
    updated_at: AwareDatetime | None = None

    def addresses(self, channel: Channel) -> list[str]:
        match channel:
            case Channel.EMAIL:
                return [self.contacts.email] if self.contacts.email else []
            case Channel.SMS:
                return [self.contacts.phone] if self.contacts.phone else []
            case Channel.PUSH:
                return [t.token for t in self.contacts.push_tokens]
            case Channel.INAPP:
                return [self.recipient_id]


# --------------------------------------------------------------------------------------------
# Addresses
# --------------------------------------------------------------------------------------------


def addresses_for(envelope: Envelope, channel: Channel, recipient: Recipient | None) -> list[str]:
    """The addresses to send to: the envelope's inline one, else the recipient's contacts (None: there
    is no such recipient).

    In-app, the address is the recipient id, the inbox's key, whether or not the recipient is stored:
    an inbox needs no contact, and a recipient who never registered one still has the app's inbox.
    """
    if channel is Channel.INAPP:
        return [envelope.recipient_id]
    inline = envelope.addresses.get(channel)
    if inline:
        return [inline]
    if recipient is None:
        raise PermanentDeliveryError(f"unknown recipient {envelope.recipient_id!r}")
    found = recipient.addresses(channel)
    if not found:
        raise PermanentDeliveryError(f"recipient {envelope.recipient_id!r} has no {channel} address")
    return found


def _checked(channel: Channel, value: str) -> str:
    problem = address_problem(channel, value)
    if problem:
        raise ValueError(problem)
    return value


def _subtag_case(subtag: str) -> str:
    """BCP 47's conventional case: regions upper (BR), scripts title (Hant), the rest lower."""
    if len(subtag) == 2 and subtag.isalpha():
        return subtag.upper()
    if len(subtag) == 4 and subtag.isalpha():
        return subtag.title()
    return subtag.lower()
