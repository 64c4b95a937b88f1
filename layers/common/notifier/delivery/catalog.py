"""The template files' shapes: one file per locale under `templates/` (`en.json` is the complete
default, the others translations named by BCP 47 tag), each validated when first loaded, so a broken
template fails a cold start rather than a send. `rendering` reads them into its catalog."""

from __future__ import annotations

import re
from pathlib import Path
from string import Formatter
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

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


# --------------------------------------------------------------------------------------------
# SMS segments (3GPP TS 23.038 alphabet, TS 23.040 concatenation)
# --------------------------------------------------------------------------------------------

# The GSM 03.38 default alphabet; position 0x1B (the escape to the extension table) is not a character.


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
    direct: DirectDefaults

    @model_validator(mode="after")
    def _complete(self) -> Self:
        problems: list[str] = []
        missing = sorted(set(SocialEventType) - set(self.events))
        if missing:
            problems.append(f"events: no templates for {', '.join(missing)}")
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
    direct: PartialDirectDefaults = PartialDirectDefaults()
