"""The channels, priorities and event types, and what an address on each channel looks like."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    Field,
)

RECIPIENT_ID_PATTERN = r"^[A-Za-z0-9_.:@+-]{1,128}$"
NOTIFICATION_ID_PATTERN = r"^[A-Za-z0-9._:-]+$"
"""An event's or a notification's id, as the API answers them (a UUID, or the caller's event id)."""
NOTIFICATION_ID_MAX_CHARS = 128
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
# The in-app inbox has no vendor limit: these keep an inbox item a glance in a notification list and
# its DynamoDB item small (a page of 100 items stays well under a query's 1 MB), whatever the caller sends.
INAPP_TITLE_MAX_CHARS = 200
INAPP_MAX_CHARS = 2000
INAPP_DATA_MAX_FIELDS = 32
INAPP_DATA_MAX_BYTES = 4096
"""The in-app `data` object, serialized as compact UTF-8 JSON: what the app reads to act on the item
(open the post, the thread), not content."""


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    PUSH = "push"
    INAPP = "inapp"
    """The recipient's in-app inbox: its address is the recipient id, so it needs no contact."""


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


BODY_LIMITS = {Channel.SMS: SMS_MAX_CHARS, Channel.PUSH: PUSH_MAX_CHARS, Channel.INAPP: INAPP_MAX_CHARS}
ADDRESS_RULES = {
    Channel.EMAIL: (EMAIL_PATTERN, "not a valid e-mail address"),
    Channel.SMS: (E164_PATTERN, "not an E.164 phone number (such as +14155550100)"),
    Channel.PUSH: (PUSH_TOKEN_PATTERN, "not a push registration token"),
    Channel.INAPP: (RECIPIENT_ID_PATTERN, "not a recipient id"),
}
"""What an address looks like on each channel. An in-app address is the recipient id (the inbox's key),
never written by a caller: the publish request refuses `to` for in-app."""
INLINE_ADDRESS_CHANNELS = frozenset({Channel.EMAIL, Channel.SMS, Channel.PUSH})
"""The channels a publish request may give an address (`to`) for."""


DIRECT_EVENT_TYPE: Literal["NOTIFICATION"] = "NOTIFICATION"
"""The `event_type` of a notification published through the explicit route."""

RecipientId = Annotated[str, Field(pattern=RECIPIENT_ID_PATTERN, examples=["user-123"])]


# --------------------------------------------------------------------------------------------
# Addresses
# --------------------------------------------------------------------------------------------


def address_problem(channel: Channel, address: str) -> str | None:
    """Why `address` cannot be used on `channel`, or None when it can."""
    pattern, problem = ADDRESS_RULES[channel]
    return None if re.fullmatch(pattern, address) else problem
