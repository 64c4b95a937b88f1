"""How the template files fit together: the checks across them that their field types cannot make
(every placeholder filled, translation tags distinct, nothing translated that English lacks), and a
translation merged into the default templates, so whatever it leaves out is sent in English.
`rendering`'s catalog runs both."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

from notifier.delivery.catalog import (
    ACTOR_FIELDS,
    DEFAULT_LOCALE,
    DigestActors,
    DigestTemplates,
    DirectDefaults,
    EventTemplates,
    LocaleTemplates,
    PartialDigestActors,
    PartialEventTemplates,
    Plural,
    Translation,
    is_language_tag,
    placeholder_names,
)
from notifier.models.requests import EventPayload

DIGEST_FIELDS = frozenset({"actors", "count"})
"""What a digest's texts are filled with besides its first event's fields."""


def catalog_problems(default: LocaleTemplates, translations: Mapping[str, Translation]) -> list[str]:
    """What the field types cannot check. Every placeholder must have a value, a payload field or a
    default (or a digest's own field): a misspelt one would otherwise render empty on every send.
    Translation keys must be distinct language tags, since a recipient's locale is matched against
    them, and a translated digest must have an English one, or it is never sent."""
    known = set(EventPayload.model_fields) | set(default.defaults)
    problems = _unknown_placeholders(DEFAULT_LOCALE, default, known)
    problems += _unknown_actor_placeholders(DEFAULT_LOCALE, default.digest.actors)
    seen: dict[str, str] = {}
    for tag, translation in translations.items():
        if not is_language_tag(tag):
            problems.append(f"{tag!r} is not a BCP 47 language tag (such as 'es' or 'pt-BR')")
        elif tag.lower() == DEFAULT_LOCALE:
            problems.append(f"{tag!r} is the default locale, not a translation")
        elif tag.lower() in seen:
            problems.append(f"{tag!r} and {seen[tag.lower()]!r} are the same locale")
        seen[tag.lower()] = tag
        extra = sorted(set(translation.defaults) - set(default.defaults))
        if extra:
            problems.append(f"{tag}: defaults {extra} have no default in {DEFAULT_LOCALE}")
        extra = sorted(map(str, set(translation.digest.events) - set(default.digest.events)))
        if extra:
            problems.append(f"{tag}: digest.events {extra} have no digest in {DEFAULT_LOCALE}")
        problems += _unknown_placeholders(tag, translation, known)
        problems += _unknown_actor_placeholders(tag, translation.digest.actors)
    return problems


def merged(default: LocaleTemplates, translation: Translation) -> LocaleTemplates:
    """The default templates with the translation's in place: whole channel templates (so one message
    is never half translated) in each plural form of a digest, single actor phrases and their forms,
    single defaults and direct texts."""
    events = {
        event_type: _merged_channels(translation.events.get(event_type), english)
        for event_type, english in default.events.items()
    }
    digest = DigestTemplates(
        actors=_merged_actors(translation.digest.actors, default.digest.actors),
        events={
            event_type: _merged_forms(translation.digest.events.get(event_type), english, _merged_channels)
            for event_type, english in default.digest.events.items()
        },
    )
    direct = DirectDefaults(
        email=translation.direct.email or default.direct.email,
        push=translation.direct.push or default.direct.push,
    )
    return default.model_copy(
        update={
            "defaults": default.defaults | translation.defaults,
            "events": events,
            "digest": digest,
            "direct": direct,
        }
    )


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
