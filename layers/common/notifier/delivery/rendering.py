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
from typing import Any, Self, TypeVar

from pydantic import Field, JsonValue, model_validator

from notifier.delivery.catalog import (
    ACTOR_FIELDS,
    DEFAULT_LOCALE,
    TEMPLATES_DIR,
    DigestActors,
    DigestTemplates,
    DirectDefaults,
    EventTemplates,
    LocaleTemplates,
    PartialDigestActors,
    PartialEventTemplates,
    Plural,
    TemplateData,
    Translation,
    is_language_tag,
    placeholder_names,
)
from notifier.delivery.plurals import plural_category
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
from notifier.models.requests import EventPayload

SMS_MAX_SEGMENTS = 2
"""Rendered event texts are cut to fit: each segment is billed, and a text is meant to be read at a glance."""

DIGEST_FIELDS = frozenset({"actors", "count"})
"""What a digest's texts are filled with besides its first event's fields."""

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
        default (or a digest's own field): a misspelt one would otherwise render empty on every send.
        Translation keys must be distinct language tags, since a recipient's locale is matched against
        them, and a translated digest must have an English one, or it is never sent."""
        known = set(EventPayload.model_fields) | set(self.default.defaults)
        problems = _unknown_placeholders(DEFAULT_LOCALE, self.default, known)
        problems += _unknown_actor_placeholders(DEFAULT_LOCALE, self.default.digest.actors)
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
            extra = sorted(map(str, set(translation.digest.events) - set(self.default.digest.events)))
            if extra:
                problems.append(f"{tag}: digest.events {extra} have no digest in {DEFAULT_LOCALE}")
            problems += _unknown_placeholders(tag, translation, known)
            problems += _unknown_actor_placeholders(tag, translation.digest.actors)
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
        is never half translated) in each plural form of a digest, single actor phrases and their forms,
        single defaults and direct texts."""
        events = {
            event_type: _merged_channels(translation.events.get(event_type), english)
            for event_type, english in self.default.events.items()
        }
        digest = DigestTemplates(
            actors=_merged_actors(translation.digest.actors, self.default.digest.actors),
            events={
                event_type: _merged_forms(
                    translation.digest.events.get(event_type), english, _merged_channels
                )
                for event_type, english in self.default.digest.events.items()
            },
        )
        direct = DirectDefaults(
            email=translation.direct.email or self.default.direct.email,
            push=translation.direct.push or self.default.direct.push,
        )
        return self.default.model_copy(
            update={
                "defaults": self.default.defaults | translation.defaults,
                "events": events,
                "digest": digest,
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
        if isinstance(content, DigestContent):
            return _render_digest(
                content, event_type, channel, envelope.notification_id, chosen=chosen, lang=lang
            )
        return _render_event(content, event_type, channel, envelope.notification_id, chosen=chosen, lang=lang)


_Own = TypeVar("_Own")
_English = TypeVar("_English")


def _merged_channels(own: PartialEventTemplates | None, english: EventTemplates) -> EventTemplates:
    if own is None:
        return english
    return EventTemplates(
        email=own.email or english.email,
        sms=own.sms or english.sms,
        push=own.push or english.push,
        inapp=own.inapp or english.inapp,
    )


def _merged_forms(
    own: Plural[_Own] | None, english: Plural[_English], merge: Callable[[_Own | None, _English], _English]
) -> Plural[_English]:
    """English's plural forms with the translation's merged in, form by form. A form the translation
    leaves out is English's; one English has not (Spanish "many") is merged with English's text for
    that number, its `other`."""
    given = own.forms() if own is not None else {}
    categories = english.forms().keys() | given.keys()
    return english.model_copy(
        update={category: merge(given.get(category), english.form(category)) for category in categories}
    )


def _own_or_english(own: str | None, english: str) -> str:
    return english if own is None else own


def _merged_actors(own: PartialDigestActors, english: DigestActors) -> DigestActors:
    return DigestActors(
        one_name=_own_or_english(own.one_name, english.one_name),
        two_names=_own_or_english(own.two_names, english.two_names),
        others=_merged_forms(own.others, english.others, _own_or_english),
        one_name_and_others=_merged_forms(
            own.one_name_and_others, english.one_name_and_others, _own_or_english
        ),
        two_names_and_others=_merged_forms(
            own.two_names_and_others, english.two_names_and_others, _own_or_english
        ),
    )


def _unknown_placeholders(tag: str, templates: LocaleTemplates | Translation, known: set[str]) -> list[str]:
    """The placeholders of a file's event and digest texts that nothing fills; a digest's texts are
    filled with its own fields too."""
    texts: list[tuple[str, EventTemplates | PartialEventTemplates, set[str]]] = [
        (f"events.{event_type}", channels, known) for event_type, channels in templates.events.items()
    ]
    texts += [
        (f"digest.events.{event_type}.{category}", channels, known | DIGEST_FIELDS)
        for event_type, forms in templates.digest.events.items()
        for category, channels in forms.forms().items()
    ]
    return [
        f"{tag}: {path}.{channel} uses {{{name}}}, which is neither a payload field nor "
        f"a default (known: {', '.join(sorted(given))})"
        for path, channels, given in texts
        for channel, template in channels.channels().items()
        for name in sorted(template.placeholders() - given)
    ]


def _unknown_actor_placeholders(tag: str, actors: DigestActors | PartialDigestActors) -> list[str]:
    """The placeholders of the actor phrases that nothing fills: each phrase has its own fields."""
    problems: list[str] = []
    for path, phrase in actors.phrases().items():
        given = ACTOR_FIELDS[path.split(".")[0]]
        problems += [
            f"{tag}: digest.actors.{path} uses {{{name}}}, which is not one of its fields "
            f"(known: {', '.join(sorted(given))})"
            for name in sorted(placeholder_names(phrase) - given)
        ]
    return problems


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
    return phrase.format_map(_Fields(names_shown, others=str(others)))


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
            subject = _fill(templates.email.subject, fields)
            escaped = {name: html.escape(value) for name, value in fields.items()}
            body = templates.email.html.format_map(_Fields(escaped))
            return EmailMessage(
                subject=subject,
                text=_fill(templates.email.text, fields),
                html=_document(layout, lang, subject, body),
            )
        case Channel.SMS:
            return SmsMessage(text=_fit_sms(templates.sms.text, fields))
        case Channel.PUSH:
            data: dict[str, str] = {
                "notification_id": notification_id,
                "event_type": event_type.value,
                **{name: fields[name] for name in ("parent_id", "parent_type") if name in fields},
                **push_data,
            }
            return PushMessage(
                title=_fill(templates.push.title, fields), body=_fill(templates.push.body, fields), data=data
            )
        case Channel.INAPP:
            # What the app opens from the item; the id and event type are the item's own attributes.
            parent: dict[str, JsonValue] = {
                name: fields[name] for name in ("parent_id", "parent_type", "timestamp") if name in fields
            }
            return InAppMessage(
                event_type=event_type.value,
                title=_cut(_fill(templates.inapp.title, fields), INAPP_TITLE_MAX_CHARS),
                body=_cut(_fill(templates.inapp.body, fields), INAPP_MAX_CHARS),
                data=parent | dict(inapp_data),
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
