"""Rendering: from an envelope's content to the message one channel sends, in the recipient's language.

The words are data, one file per locale under `templates/` (`en.json` is the complete default, the
others translations named by BCP 47 tag), so copy and translations change without code. They are all
validated when first loaded, so a broken template fails a cold start rather than a send.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any, Self

from pydantic import Field, JsonValue, model_validator

from notifier.delivery.catalog import (
    DEFAULT_LOCALE,
    TEMPLATES_DIR,
    DirectDefaults,
    EventTemplates,
    LocaleTemplates,
    PartialEventTemplates,
    TemplateData,
    Translation,
    is_language_tag,
    placeholder_names,
)
from notifier.models.channels import (
    DIRECT_EVENT_TYPE,
    INAPP_MAX_CHARS,
    INAPP_TITLE_MAX_CHARS,
    Channel,
    SocialEventType,
)
from notifier.models.envelope import (
    EmailMessage,
    Envelope,
    EventContent,
    InAppMessage,
    MessageContent,
    OutboundMessage,
    PushMessage,
    SmsMessage,
)
from notifier.models.requests import EventPayload

SMS_MAX_SEGMENTS = 2
"""Rendered event texts are cut to fit: each segment is billed, and a text is meant to be read at a glance."""

_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Sent as escape + character, so each takes two septets.
_GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")
_GSM7 = _GSM7_BASIC | _GSM7_EXTENSION


def sms_segments(text: str) -> int:
    """How many segments `text` is sent (and billed) as.

    GSM-7 when every character is in the GSM 03.38 alphabet (extension characters take two septets):
    160 septets fit one segment, and a longer text is split into parts of 153 (the rest of 160 holds
    the concatenation header). Any other character switches the whole text to UCS-2: 70 UTF-16 code
    units in one segment, 67 per part, an emoji taking two. A part never splits an escape sequence or
    a surrogate pair, so a character that would straddle a boundary starts the next part.
    """
    if _is_gsm7(text):
        units = [2 if char in _GSM7_EXTENSION else 1 for char in text]
        single, part = 160, 153
    else:
        units = [len(char.encode("utf-16-le")) // 2 for char in text]
        single, part = 70, 67
    if sum(units) <= single:
        return 1
    parts, used = 1, 0
    for unit in units:
        if used + unit > part:
            parts, used = parts + 1, 0
        used += unit
    return parts


def _is_gsm7(text: str) -> bool:
    return all(char in _GSM7 for char in text)


def _ellipsis(text: str) -> str:
    """The cut marker for `text`: "…" is not GSM-7, so it would turn a GSM-7 text into UCS-2."""
    return "..." if _is_gsm7(text) else "…"


class TemplateCatalog(TemplateData):
    """The default templates and the translations, keyed by BCP 47 tag."""

    default: LocaleTemplates
    translations: dict[str, Translation] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        """What the field types cannot check. Every placeholder must have a value, a payload field or a
        default: a misspelt one would otherwise render empty on every send. Translation keys must be
        distinct language tags, since a recipient's locale is matched against them."""
        known = set(EventPayload.model_fields) | set(self.default.defaults)
        problems = _unknown_placeholders(DEFAULT_LOCALE, self.default.events, known)
        seen: dict[str, str] = {}
        for tag, translation in self.translations.items():
            if not is_language_tag(tag):
                problems.append(f"{tag!r} is not a BCP 47 language tag (such as 'es' or 'pt-BR')")
            elif tag.lower() == DEFAULT_LOCALE:
                problems.append(f"{tag!r} is the default locale, not a translation")
            elif tag.lower() in seen:
                problems.append(f"{tag!r} and {seen[tag.lower()]!r} are the same locale")
            seen[tag.lower()] = tag
            extra = sorted(set(translation.defaults) - set(self.default.defaults))
            if extra:
                problems.append(f"{tag}: defaults {extra} have no default in {DEFAULT_LOCALE}")
            problems += _unknown_placeholders(tag, translation.events, known)
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
                return tag, self._merged(self.translations[tag])
            subtags.pop()
            if subtags and len(subtags[-1]) == 1:  # a singleton ("x", "u") is never left last
                subtags.pop()
        return DEFAULT_LOCALE, self.default

    def _merged(self, translation: Translation) -> LocaleTemplates:
        """The default templates with the translation's in place: whole channel templates (so one message
        is never half translated), single defaults and direct texts."""
        events: dict[SocialEventType, EventTemplates] = {}
        for event_type, english in self.default.events.items():
            own = translation.events.get(event_type, PartialEventTemplates())
            events[event_type] = EventTemplates(
                email=own.email or english.email,
                sms=own.sms or english.sms,
                push=own.push or english.push,
                inapp=own.inapp or english.inapp,
            )
        direct = DirectDefaults(
            email=translation.direct.email or self.default.direct.email,
            push=translation.direct.push or self.default.direct.push,
        )
        return self.default.model_copy(
            update={
                "defaults": self.default.defaults | translation.defaults,
                "events": events,
                "direct": direct,
            }
        )

    def render(self, envelope: Envelope, channel: Channel, locale: str | None = None) -> OutboundMessage:
        """The message `channel` sends for `envelope`, in `locale` where a translation has it."""
        lang, chosen = self.select(locale)
        content = envelope.content
        if isinstance(content, MessageContent):
            # The caller's own words are most likely in the recipient's language, translated or not.
            text_lang = locale if locale and is_language_tag(locale) else lang
            return _render_direct(content, channel, envelope.notification_id, chosen=chosen, lang=text_lang)
        event_type = SocialEventType(envelope.event_type)
        return _render_event(content, event_type, channel, envelope.notification_id, chosen=chosen, lang=lang)


def _unknown_placeholders(
    tag: str, events: Mapping[SocialEventType, EventTemplates | PartialEventTemplates], known: set[str]
) -> list[str]:
    return [
        f"{tag}: events.{event_type}.{channel} uses {{{name}}}, which is neither a payload field nor "
        f"a default (known: {', '.join(sorted(known))})"
        for event_type, templates in events.items()
        for channel, template in templates.channels().items()
        for name in sorted(template.placeholders() - known)
    ]


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
    fields = chosen.defaults | _payload_fields(content.payload)
    event = chosen.events[event_type]
    match channel:
        case Channel.EMAIL:
            subject = _fill(event.email.subject, fields)
            escaped = {name: html.escape(value) for name, value in fields.items()}
            body = event.email.html.format_map(_Fields(escaped))
            return EmailMessage(
                subject=subject,
                text=_fill(event.email.text, fields),
                html=_document(chosen.email_layout, lang, subject, body),
            )
        case Channel.SMS:
            return SmsMessage(text=_fit_sms(event.sms.text, fields))
        case Channel.PUSH:
            data: dict[str, str] = {
                "notification_id": notification_id,
                "event_type": event_type.value,
                **{name: fields[name] for name in ("parent_id", "parent_type") if name in fields},
            }
            return PushMessage(
                title=_fill(event.push.title, fields), body=_fill(event.push.body, fields), data=data
            )
        case Channel.INAPP:
            # What the app opens from the item; the id and event type are the item's own attributes.
            parent: dict[str, JsonValue] = {
                name: fields[name] for name in ("parent_id", "parent_type", "timestamp") if name in fields
            }
            return InAppMessage(
                event_type=event_type.value,
                title=_cut(_fill(event.inapp.title, fields), INAPP_TITLE_MAX_CHARS),
                body=_cut(_fill(event.inapp.body, fields), INAPP_MAX_CHARS),
                data=parent,
            )


def _payload_fields(payload: Mapping[str, Any]) -> dict[str, str]:
    """Payload values as one-line text. A blank or null value is left out, so its default applies."""
    fields: dict[str, str] = {}
    for name, value in payload.items():
        if value is None:
            continue
        text = _one_line(value if isinstance(value, str) else json.dumps(value, default=str))
        if text:
            fields[name] = text
    return fields


class _Fields(dict[str, str]):
    """Template fields; a placeholder without a value renders empty rather than failing a send."""

    def __missing__(self, key: str) -> str:
        return ""


def _fill(template: str, fields: Mapping[str, str]) -> str:
    # One line: a subject must not carry a line break, and an empty field must not leave a double space.
    return _one_line(template.format_map(_Fields(fields)))


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _cut(text: str, limit: int) -> str:
    """`text` in at most `limit` characters: an inbox item is as long as a direct one may be, however
    long the payload values it was filled with (each may be 1,024 characters)."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _document(layout: str, lang: str, subject: str, content: str) -> str:
    return layout.format(lang=html.escape(lang), subject=html.escape(subject), content=content)


def _paragraphs(text: str) -> str:
    blocks = [b.strip() for b in text.split("\n\n") if b.strip()]
    return "".join(f"<p>{html.escape(b).replace(chr(10), '<br>')}</p>" for b in blocks)


def _fit_sms(template: str, fields: Mapping[str, str]) -> str:
    """The SMS text in at most SMS_MAX_SEGMENTS segments.

    A long text is almost always a long payload value (a name, a type), so those are cut first: all
    values the text uses are capped at the longest length that fits, which cuts only the longest
    ones and keeps the sentence whole. Only when even empty values would not fit (the template
    itself is too long) is the text's end cut.
    """
    text = _fill(template, fields)
    if _fits(text):
        return text
    used = placeholder_names(template) & fields.keys()

    def capped(cap: int) -> str:
        cut = {name: fields[name][:cap].rstrip() for name in used if len(fields[name]) > cap}
        marker = _ellipsis(_fill(template, {**fields, **cut}))
        return _fill(template, {**fields, **{name: value + marker for name, value in cut.items()}})

    longest = max((len(fields[name]) for name in used), default=0)
    cap = _largest(0, longest - 1, lambda cap: _fits(capped(cap)))
    if cap is not None:
        return capped(cap)

    def prefix(length: int) -> str:
        kept = text[:length].rstrip()
        return kept + _ellipsis(kept)

    return prefix(_largest(0, len(text), lambda length: _fits(prefix(length))) or 0)


def _fits(text: str) -> bool:
    return sms_segments(text) <= SMS_MAX_SEGMENTS


def _largest(low: int, high: int, fits: Callable[[int], bool]) -> int | None:
    """The largest value in [low, high] that fits, by bisection (a shorter text never needs more
    segments), or None when none does."""
    best = None
    while low <= high:
        middle = (low + high) // 2
        if fits(middle):
            best, low = middle, middle + 1
        else:
            high = middle - 1
    return best
