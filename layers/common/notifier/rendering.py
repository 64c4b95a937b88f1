"""Rendering: from an envelope's content to the message one channel sends."""

from __future__ import annotations

import html
import json
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from .models import (
    Channel,
    EmailMessage,
    Envelope,
    EventContent,
    MessageContent,
    OutboundMessage,
    PushMessage,
    SmsMessage,
    SocialEventType,
)

TEMPLATES_FILE = Path(__file__).with_name("templates.json")


class EmailTemplate(BaseModel):
    subject: str
    text: str


class SmsTemplate(BaseModel):
    text: str


class PushTemplate(BaseModel):
    title: str
    body: str


class EventTemplates(BaseModel):
    email: EmailTemplate
    sms: SmsTemplate
    push: PushTemplate


class DirectDefaults(BaseModel):
    email: dict[str, str]
    push: dict[str, str]


class Templates(BaseModel):
    defaults: dict[str, str]
    events: dict[SocialEventType, EventTemplates]
    direct: DirectDefaults


@cache
def templates() -> Templates:
    loaded = Templates.model_validate(json.loads(TEMPLATES_FILE.read_text(encoding="utf-8")))
    missing = set(SocialEventType) - set(loaded.events)
    if missing:
        raise ValueError(f"{TEMPLATES_FILE.name} has no templates for {sorted(missing)}")
    return loaded


class _Fields(dict[str, str]):
    """Template fields; a placeholder without a value renders empty rather than failing a send."""

    def __missing__(self, key: str) -> str:
        return ""


def _fill(template: str, fields: _Fields) -> str:
    return " ".join(template.format_map(fields).split())


def render(envelope: Envelope, channel: Channel) -> OutboundMessage:
    """The message `channel` sends for `envelope`."""
    content = envelope.content
    if isinstance(content, MessageContent):
        return _render_direct(content, channel, envelope)
    return _render_event(content, SocialEventType(envelope.event_type), channel, envelope)


def _render_direct(content: MessageContent, channel: Channel, envelope: Envelope) -> OutboundMessage:
    direct = templates().direct
    match channel:
        case Channel.EMAIL:
            return EmailMessage(
                subject=content.subject or direct.email["subject"],
                text=content.body,
                html=_paragraphs(content.body),
            )
        case Channel.SMS:
            return SmsMessage(text=content.body)
        case Channel.PUSH:
            return PushMessage(
                title=content.subject or direct.push["title"],
                body=content.body,
                data={"notification_id": envelope.notification_id},
            )


def _render_event(
    content: EventContent, event_type: SocialEventType, channel: Channel, envelope: Envelope
) -> OutboundMessage:
    chosen = templates()
    fields = _Fields(chosen.defaults)
    fields.update({key: _text(value) for key, value in content.payload.items()})
    event = chosen.events[event_type]
    match channel:
        case Channel.EMAIL:
            text = _fill(event.email.text, fields)
            return EmailMessage(subject=_fill(event.email.subject, fields), text=text, html=_paragraphs(text))
        case Channel.SMS:
            return SmsMessage(text=_fill(event.sms.text, fields))
        case Channel.PUSH:
            data = {
                "notification_id": envelope.notification_id,
                "event_type": event_type.value,
                **{k: fields[k] for k in ("parent_id", "parent_type") if k in fields},
            }
            return PushMessage(
                title=_fill(event.push.title, fields), body=_fill(event.push.body, fields), data=data
            )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _paragraphs(text: str) -> str:
    blocks = [b.strip() for b in text.split("\n\n") if b.strip()]
    return "".join(f"<p>{html.escape(b).replace(chr(10), '<br>')}</p>" for b in blocks)
