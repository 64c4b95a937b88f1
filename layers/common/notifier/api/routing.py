"""Routing: which channels and which priority a notification goes to, and whether it is digested.

The rules for social events are data (`routing_rules.json`), validated when first used. Explicit
notifications name their channel and priority themselves, and are never digested.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from notifier.models.channels import Channel, Priority, SocialEventType
from notifier.models.requests import EventRequest, PublishRequest
from notifier.platform.settings import DIGEST_MIN_WINDOW_SECONDS

RULES_FILE = Path(__file__).with_name("routing_rules.json")
_DIGEST_KEY_PREFIX = ("recipient", "event_type")


class DigestRule(BaseModel):
    """Events of one type for one recipient (and, by `key`, one value of some payload fields) that
    arrive within `window_seconds` of the first are sent as one notification when it closes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window_seconds: int = Field(ge=DIGEST_MIN_WINDOW_SECONDS, le=86_400)
    key: tuple[str, ...] = Field(
        description='"recipient", "event_type", then any "payload.<field>" whose value splits the digests.'
    )
    leading: bool = Field(
        default=False, description="The window's first event is sent at once; only the rest are digested."
    )

    @model_validator(mode="after")
    def _key_is_per_recipient_and_type(self) -> Self:
        if self.key[:2] != _DIGEST_KEY_PREFIX:
            raise ValueError(
                'a digest key starts with "recipient", "event_type": one type, for one recipient'
            )
        for part in self.key[2:]:
            field = part.removeprefix("payload.")
            if field == part or not field.isidentifier():
                raise ValueError(f'digest key part {part!r} is not "payload.<field>"')
        return self

    def payload_fields(self) -> tuple[str, ...]:
        return tuple(part.removeprefix("payload.") for part in self.key[2:])


class Route(BaseModel):
    channels: list[Channel] = Field(min_length=1)
    priority: Priority
    digest: DigestRule | None = None


@cache
def routing_rules() -> dict[SocialEventType, Route]:
    raw = json.loads(RULES_FILE.read_text(encoding="utf-8"))
    raw.pop("_comment", None)
    rules = TypeAdapter(dict[SocialEventType, Route]).validate_python(raw)
    missing = set(SocialEventType) - set(rules)
    if missing:
        raise ValueError(f"{RULES_FILE.name} has no rule for {sorted(missing)}")
    return rules


def route_event(event: EventRequest) -> Route:
    """The event type's rule; a critical event (by its rule, or its payload's `priority`) is never
    digested."""
    rule = routing_rules()[event.event_type]
    priority = event.payload.priority or rule.priority
    digest = rule.digest if priority != Priority.CRITICAL else None
    return Route(channels=rule.channels, priority=priority, digest=digest)


def route_notification(request: PublishRequest) -> Route:
    return Route(channels=[request.type], priority=request.priority)
