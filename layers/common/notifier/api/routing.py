"""Routing: which channels and which priority a notification goes to.

The rules for social events are data (`routing_rules.json`), validated when first used. Explicit
notifications name their channel and priority themselves.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from pydantic import BaseModel, Field, TypeAdapter

from notifier.models.channels import Channel, Priority, SocialEventType
from notifier.models.requests import EventRequest, PublishRequest

RULES_FILE = Path(__file__).with_name("routing_rules.json")


class Route(BaseModel):
    channels: list[Channel] = Field(min_length=1)
    priority: Priority


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
    rule = routing_rules()[event.event_type]
    return Route(channels=rule.channels, priority=event.payload.priority or rule.priority)


def route_notification(request: PublishRequest) -> Route:
    return Route(channels=[request.type], priority=request.priority)
