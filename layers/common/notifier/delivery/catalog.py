"""The template files' shapes: one file per locale under `templates/` (`en.json` is the complete
default, the others translations named by BCP 47 tag), each validated when first loaded, so a broken
template fails a cold start rather than a send. `rendering` reads them into its catalog; `fill` is how
every template is filled (by `rendering`, and by `sms_text` as it fits a text to its segments)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from string import Formatter
from typing import Annotated, Any, Generic, Self, TypeVar, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from notifier.delivery.plurals import PluralCategory
from notifier.models.channels import Channel, SocialEventType

TEMPLATES_DIR = Path(__file__).with_name("templates")
DEFAULT_LOCALE = "en"
# RFC 5646 `langtag` (grandfathered and private-use-only tags left out: no translation is named so).
_LANGUAGE_TAG = re.compile(
    r"(?:[a-z]{2,3}(?:-[a-z]{3}){0,3}|[a-z]{4,8})"  # language, extlang
    r"(?:-[a-z]{4})?"  # script
    r"(?:-(?:[a-z]{2}|[0-9]{3}))?"  # region
    r"(?:-(?:[a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*"  # variants
    r"(?:-[0-9a-wyz](?:-[a-z0-9]{2,8})+)*"  # extensions
    r"(?:-x(?:-[a-z0-9]{1,8})+)?",  # private use
    re.IGNORECASE,
)
_LAYOUT_FIELDS = frozenset({"lang", "subject", "content"})


def is_language_tag(tag: str) -> bool:
    """Whether `tag` is a well-formed BCP 47 language tag (such as "pt-BR"); registry not consulted."""
    return _LANGUAGE_TAG.fullmatch(tag) is not None


def placeholder_names(template: str) -> frozenset[str]:
    """The field names `template` fills. Only plain names are allowed: `str.format`'s attribute and
    index access, conversions and format specs would reach past the value or break the SMS cut."""
    try:
        parsed = list(Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"{template!r}: {exc} (write a literal brace as {{{{ or }}}})") from None
    names: set[str] = set()
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise ValueError(f"{template!r}: placeholders are plain field names such as {{actor_name}}")
        names.add(name)
    return frozenset(names)


class Fields(dict[str, str]):
    """Template fields; a placeholder without a value renders empty rather than failing a send."""

    def __missing__(self, key: str) -> str:
        return ""


def fill(template: str, fields: Mapping[str, str]) -> str:
    """`template` filled with `fields`, on one line: a subject must not carry a line break, and an
    empty field must not leave a double space."""
    return one_line(template.format_map(Fields(fields)))


def one_line(text: str) -> str:
    return " ".join(text.split())


class TemplateData(BaseModel):
    # A misspelt key ("emial") is an error, not a silently missing translation.
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Template(TemplateData):
    """A channel's template: every field is a `str.format` template with plain named placeholders."""

    @field_validator("*")
    @classmethod
    def _plain_placeholders(cls, value: str) -> str:
        placeholder_names(value)
        return value

    def placeholders(self) -> frozenset[str]:
        return frozenset[str]().union(*(placeholder_names(value) for value in self.model_dump().values()))


class EmailTemplate(_Template):
    subject: str
    text: str
    html: str = Field(description="The body's HTML, wrapped in the e-mail layout; values are escaped.")


class SmsTemplate(_Template):
    text: str


class PushTemplate(_Template):
    title: str
    body: str


class InAppTemplate(_Template):
    """The inbox item's words. Its `data` is not templated: it is what the app acts on (the event's
    parent), the same in every language, so `rendering` builds it from the payload."""

    title: str
    body: str


class EventTemplates(TemplateData):
    """Every channel, so a routing change never meets a missing template."""

    email: EmailTemplate
    sms: SmsTemplate
    push: PushTemplate
    inapp: InAppTemplate

    def channels(self) -> dict[str, _Template]:
        return {"email": self.email, "sms": self.sms, "push": self.push, "inapp": self.inapp}


class PartialEventTemplates(TemplateData):
    """A translation's templates for one event type; a channel left out is sent in English."""

    email: EmailTemplate | None = None
    sms: SmsTemplate | None = None
    push: PushTemplate | None = None
    inapp: InAppTemplate | None = None

    def channels(self) -> dict[str, _Template]:
        given = {"email": self.email, "sms": self.sms, "push": self.push, "inapp": self.inapp}
        return {channel: template for channel, template in given.items() if template is not None}


_CHANNELS_WITHOUT_TEMPLATES = set(Channel) - set(EventTemplates.model_fields)
if _CHANNELS_WITHOUT_TEMPLATES:  # a new channel must bring its templates, or no module loads
    raise TypeError(f"EventTemplates has no templates for {sorted(_CHANNELS_WITHOUT_TEMPLATES)}")


_T = TypeVar("_T")
_CATEGORIES: tuple[PluralCategory, ...] = get_args(PluralCategory)


class Plural(TemplateData, Generic[_T]):
    """A value in each plural form of a number ("1 other", "3 others"), by CLDR category (`plurals`).
    A number whose form a file does not give takes the file's `other`, so that one is always given."""

    one: _T | None = None
    many: _T | None = None
    other: _T

    def forms(self) -> dict[PluralCategory, _T]:
        """The forms given, by category."""
        given = {category: getattr(self, category) for category in _CATEGORIES}
        return {category: value for category, value in given.items() if value is not None}

    def form(self, category: PluralCategory) -> _T:
        """The value for a number of `category`."""
        return self.forms().get(category, self.other)


_CATEGORIES_WITHOUT_FORMS = set(_CATEGORIES) - set(Plural.model_fields)
if _CATEGORIES_WITHOUT_FORMS:  # a language with a new category must be able to write its form
    raise TypeError(f"Plural has no form for {sorted(_CATEGORIES_WITHOUT_FORMS)}")

ACTOR_FIELDS: dict[str, frozenset[str]] = {
    "one_name": frozenset({"first"}),
    "two_names": frozenset({"first", "second"}),
    "others": frozenset({"others"}),
    "one_name_and_others": frozenset({"first", "others"}),
    "two_names_and_others": frozenset({"first", "second", "others"}),
}
"""Each actor phrase and what it is filled with: the names shown ({first}, {second}) and the number of
the actors not named ({others})."""


def _plain_phrase(phrase: str) -> str:
    placeholder_names(phrase)
    return phrase


Phrase = Annotated[str, AfterValidator(_plain_phrase)]
"""A piece of a text, such as an actor phrase: a `str.format` template with plain named placeholders."""


class _Actors(TemplateData):
    """The actor phrases, all of them (the default file's) or a translation's."""

    def phrases(self) -> dict[str, str]:
        """Every phrase given, by its path in the file ("others.one")."""
        phrases: dict[str, str] = {}
        for name, value in self:
            if isinstance(value, Plural):
                phrases |= {f"{name}.{category}": text for category, text in value.forms().items()}
            elif value is not None:
                phrases[name] = value
        return phrases


class DigestActors(_Actors):
    """How a digest names its actors, its texts' {actors}: up to two names, then how many others (the
    rest, and the actors without a name) in the plural form of that number: "Ana, Ben and 3 others"."""

    one_name: Phrase
    two_names: Phrase
    others: Plural[Phrase] = Field(description="No name known: '4 people'.")
    one_name_and_others: Plural[Phrase]
    two_names_and_others: Plural[Phrase]


class PartialDigestActors(_Actors):
    """A translation's actor phrases; one left out, or a form of one, is English's."""

    one_name: Phrase | None = None
    two_names: Phrase | None = None
    others: Plural[Phrase] | None = None
    one_name_and_others: Plural[Phrase] | None = None
    two_names_and_others: Plural[Phrase] | None = None


class DigestTemplates(TemplateData):
    """Digests: several events of one type sent as one message ("Ana, Ben and 3 others liked your post").
    An event type's texts come in the plural forms of the digest's count, each with every channel, and
    may use {actors} and {count} besides the event's fields. An event type without them is never sent
    as a digest."""

    actors: DigestActors
    events: dict[SocialEventType, Plural[EventTemplates]]

    def plurals(self) -> dict[str, Plural[Any]]:
        """Every plural object, by its path in the file."""
        return {
            **{f"actors.{name}": value for name, value in self.actors if isinstance(value, Plural)},
            **{f"events.{event_type}": forms for event_type, forms in self.events.items()},
        }


class PartialDigestTemplates(TemplateData):
    """A translation's digests: an event type, a plural form or a channel left out is English's."""

    actors: PartialDigestActors = PartialDigestActors()
    events: dict[SocialEventType, Plural[PartialEventTemplates]] = {}


class DirectEmail(TemplateData):
    subject: str


class DirectPush(TemplateData):
    title: str


class DirectDefaults(TemplateData):
    """What a message from the explicit route gets when its caller gave no subject or title."""

    email: DirectEmail
    push: DirectPush


class PartialDirectDefaults(TemplateData):
    email: DirectEmail | None = None
    push: DirectPush | None = None


class _File(TemplateData):
    comment: str = Field(default="", alias="_comment", description="For the people editing the file.")


class LocaleTemplates(_File):
    """One language's complete set: the default file, and what a translation is merged into."""

    email_layout: str = Field(description="The HTML document around every e-mail's body.")
    defaults: dict[str, str] = Field(description="Values for placeholders a payload may leave out.")
    events: dict[SocialEventType, EventTemplates]
    digest: DigestTemplates
    direct: DirectDefaults

    @model_validator(mode="after")
    def _complete(self) -> Self:
        problems: list[str] = []
        missing = sorted(set(SocialEventType) - set(self.events))
        if missing:
            problems.append(f"events: no templates for {', '.join(missing)}")
        # English has both forms, and is what a translation's missing one falls back to.
        problems += [
            f"digest.{path}: no 'one' form (the default file gives each form English has)"
            for path, plural in self.digest.plurals().items()
            if plural.one is None
        ]
        layout_fields = placeholder_names(self.email_layout)
        if "content" not in layout_fields or not layout_fields <= _LAYOUT_FIELDS:
            problems.append(f"email_layout: must place {{content}} and may use only {sorted(_LAYOUT_FIELDS)}")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class Translation(_File):
    """A language's templates; anything left out is sent in the default language."""

    defaults: dict[str, str] = {}
    events: dict[SocialEventType, PartialEventTemplates] = {}
    digest: PartialDigestTemplates = PartialDigestTemplates()
    direct: PartialDirectDefaults = PartialDirectDefaults()
