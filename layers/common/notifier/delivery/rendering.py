"""Rendering: from an envelope's content to the message one channel sends, in the recipient's language.

The words are data, one file per locale under `templates/` (`en.json` is the complete default, the
others translations named by BCP 47 tag), so copy and translations change without code. They are all
validated when first loaded, so a broken template fails a cold start rather than a send: their shapes
are in `catalog`, the checks across files and a translation's merge into the default in `translations`,
and an SMS text's fitting into its segments in `sms_text`.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from functools import cache
from typing import Any, Self

from pydantic import Field, JsonValue, model_validator

from notifier.delivery.catalog import (
    DEFAULT_LOCALE,
    TEMPLATES_DIR,
    DigestActors,
    EventTemplates,
    Fields,
    LocaleTemplates,
    TemplateData,
    Translation,
    fill,
    is_language_tag,
    one_line,
)
from notifier.delivery.plurals import plural_category
from notifier.delivery.sms_text import fit_sms
from notifier.delivery.translations import catalog_problems, merged
from notifier.errors import PermanentDeliveryError
from notifier.models.channels import (
    DIRECT_EVENT_TYPE,
    INAPP_MAX_CHARS,
    INAPP_TITLE_MAX_CHARS,
    Channel,
    SocialEventType,
)
from notifier.models.envelope import (
    DigestContent,
    EmailMessage,
    Envelope,
    EventContent,
    InAppMessage,
    MessageContent,
    OutboundMessage,
    PushMessage,
    SmsMessage,
)


class TemplateCatalog(TemplateData):
    """The default templates and the translations, keyed by BCP 47 tag."""

    default: LocaleTemplates
    translations: dict[str, Translation] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        """What the field types cannot check (`translations.catalog_problems`)."""
        problems = catalog_problems(self.default, self.translations)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def select(self, locale: str | None) -> tuple[str, LocaleTemplates]:
        """The tag and templates for a recipient's `locale`: the translation of that exact tag, else of
        ever shorter prefixes ("fr-CA" -> "fr", RFC 4647 lookup), else the default. Tags match
        case-insensitively, and "_" is read as "-" since platform locales are often written "pt_BR"."""
        by_tag = {tag.lower(): tag for tag in self.translations}
        subtags = (locale or "").strip().replace("_", "-").lower().split("-")
        while subtags:
            tag = by_tag.get("-".join(subtags))
            if tag is not None:
                return tag, merged(self.default, self.translations[tag])
            subtags.pop()
            if subtags and len(subtags[-1]) == 1:  # a singleton ("x", "u") is never left last
                subtags.pop()
        return DEFAULT_LOCALE, self.default

    def render(self, envelope: Envelope, channel: Channel, locale: str | None = None) -> OutboundMessage:
        """The message `channel` sends for `envelope`, in `locale` where a translation has it."""
        lang, chosen = self.select(locale)
        content = envelope.content
        if isinstance(content, MessageContent):
            # The caller's own words are most likely in the recipient's language, translated or not.
            text_lang = locale if locale and is_language_tag(locale) else lang
            return _render_direct(content, channel, envelope.notification_id, chosen=chosen, lang=text_lang)
        event_type = SocialEventType(envelope.event_type)
        if isinstance(content, DigestContent):
            return _render_digest(
                content, event_type, channel, envelope.notification_id, chosen=chosen, lang=lang
            )
        return _render_event(content, event_type, channel, envelope.notification_id, chosen=chosen, lang=lang)


@cache
def catalog() -> TemplateCatalog:
    """The templates, read and validated once per process."""
    files = {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in TEMPLATES_DIR.glob("*.json")}
    if DEFAULT_LOCALE not in files:
        raise FileNotFoundError(f"{TEMPLATES_DIR / DEFAULT_LOCALE}.json: the default templates are missing")
    return TemplateCatalog.model_validate({"default": files.pop(DEFAULT_LOCALE), "translations": files})


def render(envelope: Envelope, channel: Channel, locale: str | None = None) -> OutboundMessage:
    """The message `channel` sends for `envelope`; `locale` is the recipient's BCP 47 tag, if known."""
    return catalog().render(envelope, channel, locale)


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def _render_direct(
    content: MessageContent, channel: Channel, notification_id: str, *, chosen: LocaleTemplates, lang: str
) -> OutboundMessage:
    """The caller's body as written, on every channel; only the missing subject or title is ours."""
    match channel:
        case Channel.EMAIL:
            subject = content.subject or chosen.direct.email.subject
            return EmailMessage(
                subject=subject,
                text=content.body,
                html=_document(chosen.email_layout, lang, subject, _paragraphs(content.body)),
            )
        case Channel.SMS:
            return SmsMessage(text=content.body)
        case Channel.PUSH:
            return PushMessage(
                title=content.subject or chosen.direct.push.title,
                body=content.body,
                data={"notification_id": notification_id},
            )
        case Channel.INAPP:
            # No default title: an inbox lists the body alone well, and the caller's words are all
            # there is to show. The data is the caller's, as given: the inbox item has its own id.
            return InAppMessage(
                event_type=DIRECT_EVENT_TYPE, title=content.title, body=content.body, data=content.data
            )


def _render_event(
    content: EventContent,
    event_type: SocialEventType,
    channel: Channel,
    notification_id: str,
    *,
    chosen: LocaleTemplates,
    lang: str,
) -> OutboundMessage:
    return _render_templates(
        chosen.events[event_type],
        channel,
        chosen.defaults | _payload_fields(content.payload),
        event_type=event_type,
        notification_id=notification_id,
        layout=chosen.email_layout,
        lang=lang,
        push_data={},
        inapp_data={},
    )


def _render_digest(
    content: DigestContent,
    event_type: SocialEventType,
    channel: Channel,
    notification_id: str,
    *,
    chosen: LocaleTemplates,
    lang: str,
) -> OutboundMessage:
    """The event type's digest texts in the plural form of the count in the chosen language. An event
    type without them cannot be sent as a digest, in any language or on any retry: a permanent failure."""
    forms = chosen.digest.events.get(event_type)
    if forms is None:
        raise PermanentDeliveryError(f"no digest templates for {event_type.value}")
    digest = {
        "actors": _actor_phrase(chosen.digest.actors, content.actors, content.count, lang),
        "count": str(content.count),
    }
    actors: list[JsonValue] = [*content.actors]
    return _render_templates(
        forms.form(plural_category(lang, content.count)),
        channel,
        chosen.defaults | _payload_fields(content.payload) | digest,
        event_type=event_type,
        notification_id=notification_id,
        layout=chosen.email_layout,
        lang=lang,
        push_data={"count": digest["count"]},
        inapp_data={"count": content.count, "actors": actors},
    )


def _actor_phrase(actors: DigestActors, names: list[str], count: int, lang: str) -> str:
    """Who acted: the first two names, then how many others in the plural form of that number. An
    actor without a name is one of the others, so with no name at all the phrase is just a number."""
    shown = names[:2]
    others = count - len(shown)
    if others > 0:
        forms = (actors.others, actors.one_name_and_others, actors.two_names_and_others)[len(shown)]
        phrase = forms.form(plural_category(lang, others))
    else:
        phrase = actors.two_names if len(shown) == 2 else actors.one_name
    names_shown = dict(zip(("first", "second"), shown, strict=False))
    return phrase.format_map(Fields(names_shown, others=str(others)))


def _render_templates(
    templates: EventTemplates,
    channel: Channel,
    fields: Mapping[str, str],
    *,
    event_type: SocialEventType,
    notification_id: str,
    layout: str,
    lang: str,
    push_data: Mapping[str, str],
    inapp_data: Mapping[str, JsonValue],
) -> OutboundMessage:
    """The channel's template filled with `fields`; the push and in-app data are the event's parent and
    the given data."""
    match channel:
        case Channel.EMAIL:
            subject = fill(templates.email.subject, fields)
            escaped = {name: html.escape(value) for name, value in fields.items()}
            body = templates.email.html.format_map(Fields(escaped))
            return EmailMessage(
                subject=subject,
                text=fill(templates.email.text, fields),
                html=_document(layout, lang, subject, body),
            )
        case Channel.SMS:
            return SmsMessage(text=fit_sms(templates.sms.text, fields))
        case Channel.PUSH:
            data: dict[str, str] = {
                "notification_id": notification_id,
                "event_type": event_type.value,
                **{name: fields[name] for name in ("parent_id", "parent_type") if name in fields},
                **push_data,
            }
            return PushMessage(
                title=fill(templates.push.title, fields), body=fill(templates.push.body, fields), data=data
            )
        case Channel.INAPP:
            # What the app opens from the item; the id and event type are the item's own attributes.
            parent: dict[str, JsonValue] = {
                name: fields[name] for name in ("parent_id", "parent_type", "timestamp") if name in fields
            }
            return InAppMessage(
                event_type=event_type.value,
                title=_cut(fill(templates.inapp.title, fields), INAPP_TITLE_MAX_CHARS),
                body=_cut(fill(templates.inapp.body, fields), INAPP_MAX_CHARS),
                data=parent | dict(inapp_data),
            )


def _payload_fields(payload: Mapping[str, Any]) -> dict[str, str]:
    """Payload values as one-line text. A blank or null value is left out, so its default applies."""
    fields: dict[str, str] = {}
    for name, value in payload.items():
        if value is None:
            continue
        text = one_line(value if isinstance(value, str) else json.dumps(value, default=str))
        if text:
            fields[name] = text
    return fields


def _cut(text: str, limit: int) -> str:
    """`text` in at most `limit` characters: an inbox item is as long as a direct one may be, however
    long the payload values it was filled with (each may be 1,024 characters)."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _document(layout: str, lang: str, subject: str, content: str) -> str:
    return layout.format(lang=html.escape(lang), subject=html.escape(subject), content=content)


def _paragraphs(text: str) -> str:
    blocks = [b.strip() for b in text.split("\n\n") if b.strip()]
    return "".join(f"<p>{html.escape(b).replace(chr(10), '<br>')}</p>" for b in blocks)
