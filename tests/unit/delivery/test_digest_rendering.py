"""Digests: several events of one type sent as one message, named and counted in the plural forms of
the recipient's language ("Ana, Ben and 3 others liked your post")."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from notifier.delivery.catalog import DEFAULT_LOCALE
from notifier.delivery.plurals import plural_category
from notifier.delivery.rendering import TemplateCatalog, catalog, render
from notifier.delivery.sms_text import sms_segments
from notifier.errors import PermanentDeliveryError
from notifier.models.channels import Channel, Priority
from notifier.models.envelope import DigestContent, EmailMessage, Envelope, InAppMessage, PushMessage

SHIPPED_TRANSLATIONS = ["de", "es", "fr", "pt-BR"]
LOCALES = [DEFAULT_LOCALE, *SHIPPED_TRANSLATIONS]
DIGEST_TYPES = ["LIKE", "FOLLOW"]
PAYLOAD = {"parent_id": "post_67890", "parent_type": "post", "timestamp": "2026-11-21T10:00:00Z"}


def digest(
    event_type: str,
    channel: Channel,
    locale: str | None = None,
    templates: TemplateCatalog | None = None,
    *,
    count: int,
    actors: list[str],
    **payload: Any,
) -> Any:
    """The message for a digest; with the shipped templates unless `templates` are given."""
    message = Envelope(
        notification_id="n-1",
        correlation_id="c-1",
        recipient_id="user-1",
        event_type=event_type,
        priority=Priority.STANDARD,
        channels=[channel],
        content=DigestContent(count=count, actors=actors, payload=PAYLOAD | payload),
        created_at=datetime.now(UTC),
    )
    return templates.render(message, channel, locale) if templates else render(message, channel, locale)


def shipped() -> dict[str, dict[str, Any]]:
    """The shipped files as plain dicts, by tag, to craft catalogues from."""
    default = catalog().default.model_dump(mode="json", by_alias=True, exclude_none=True)
    translations = {
        tag: translation.model_dump(mode="json", by_alias=True, exclude_none=True)
        for tag, translation in catalog().translations.items()
    }
    return {DEFAULT_LOCALE: default} | translations


def with_translation(tag: str, translation: dict[str, Any]) -> TemplateCatalog:
    return TemplateCatalog.model_validate(
        {"default": shipped()[DEFAULT_LOCALE], "translations": {tag: translation}}
    )


def strings(message: Any) -> list[str]:
    return [v for v in message.model_dump().values() if isinstance(v, str) and v != message.channel]


# --------------------------------------------------------------------------------------------
# What a recipient reads
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("event_type", DIGEST_TYPES)
@pytest.mark.parametrize("channel", list(Channel))
@pytest.mark.parametrize(
    "case",
    [(1, ["Ana"], None), (2, ["Ana", "Ben"], None), (5, ["Ana", "Ben"], 3), (4, [], 4), (2, ["Ana"], 1)],
    ids=["one-named", "two-named", "two-named-and-3", "four-unnamed", "one-named-and-1"],
)
def test_given_a_digest_in_any_locale_and_channel_when_rendered_then_it_names_and_counts_the_actors(
    locale, event_type, channel, case
):
    count, actors, others = case
    message = digest(event_type, channel, locale, count=count, actors=actors)

    texts = strings(message)
    assert message.channel == channel
    assert all(texts)
    assert not any("{" in text for text in texts)
    assert all(any(name in text for text in texts) for name in actors)
    if others is not None:
        assert any(re.search(rf"\b{others}\b", text) for text in texts)


@pytest.mark.parametrize(
    ("count", "actors", "title", "body"),
    [
        (1, ["Ana"], "New like", "Ana liked your post."),
        (2, ["Ana", "Ben"], "2 new likes", "Ana and Ben liked your post."),
        (5, ["Ana", "Ben"], "5 new likes", "Ana, Ben and 3 others liked your post."),
        (4, [], "4 new likes", "4 people liked your post."),
        (2, ["Ana"], "2 new likes", "Ana and 1 other liked your post."),
        (1, [], "New like", "1 person liked your post."),
        (3, ["Ana", "Ben", "Cy"], "3 new likes", "Ana, Ben and 1 other liked your post."),
    ],
)
def test_given_a_digest_in_english_when_rendered_then_two_names_at_most_and_the_others_counted(
    count, actors, title, body
):
    push = digest("LIKE", Channel.PUSH, count=count, actors=actors)

    assert (push.title, push.body) == (title, body)


@pytest.mark.parametrize(
    ("locale", "one", "other"),
    [
        ("en", "Ana liked your post.", "Ana, Ben and 3 others liked your post."),
        ("de", "Ana mag deinen post.", "Ana, Ben und 3 weitere Personen mögen deinen post."),
        (
            "es",
            "Ana indicó que le gusta tu post.",
            "Ana, Ben y 3 personas más indicaron que les gusta tu post.",
        ),
        ("fr", "Ana a aimé votre post.", "Ana, Ben et 3 autres ont aimé votre post."),
        ("pt-BR", "Ana curtiu seu post.", "Ana, Ben e mais 3 pessoas curtiram seu post."),
    ],
)
def test_given_a_digest_when_rendered_then_the_verb_agrees_with_the_count(locale, one, other):
    assert digest("LIKE", Channel.SMS, locale, count=1, actors=["Ana"]).text == one
    assert digest("LIKE", Channel.SMS, locale, count=5, actors=["Ana", "Ben"]).text == other


@pytest.mark.parametrize(
    ("locale", "one", "other"),
    [
        ("en", "1 person started following you.", "2 people started following you."),
        ("de", "1 Person folgt dir jetzt.", "2 Personen folgen dir jetzt."),
        ("es", "1 persona empezó a seguirte.", "2 personas empezaron a seguirte."),
        ("fr", "1 personne vous suit désormais.", "2 personnes vous suivent désormais."),
        ("pt-BR", "1 pessoa começou a seguir você.", "2 pessoas começaram a seguir você."),
    ],
)
def test_given_a_digest_without_names_when_rendered_then_the_people_are_counted_in_the_right_form(
    locale, one, other
):
    assert digest("FOLLOW", Channel.INAPP, locale, count=1, actors=[]).body == one
    assert digest("FOLLOW", Channel.INAPP, locale, count=2, actors=[]).body == other


@pytest.mark.parametrize(
    ("locale", "one", "other"),
    [
        ("en", "Ana and 1 other liked your post.", "Ana and 2 others liked your post."),
        (
            "de",
            "Ana und 1 weitere Person mögen deinen post.",
            "Ana und 2 weitere Personen mögen deinen post.",
        ),
        (
            "es",
            "Ana y 1 persona más indicaron que les gusta tu post.",
            "Ana y 2 personas más indicaron que les gusta tu post.",
        ),
        ("fr", "Ana et 1 autre ont aimé votre post.", "Ana et 2 autres ont aimé votre post."),
        ("pt-BR", "Ana e mais 1 pessoa curtiram seu post.", "Ana e mais 2 pessoas curtiram seu post."),
    ],
)
def test_given_one_other_actor_when_rendered_then_the_others_are_singular_and_the_verb_plural(
    locale, one, other
):
    assert digest("LIKE", Channel.PUSH, locale, count=2, actors=["Ana"]).body == one
    assert digest("LIKE", Channel.PUSH, locale, count=3, actors=["Ana"]).body == other


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("event_type", DIGEST_TYPES)
def test_given_one_or_several_events_when_rendered_for_push_then_the_titles_differ(locale, event_type):
    one = digest(event_type, Channel.PUSH, locale, count=1, actors=["Ana"])
    several = digest(event_type, Channel.PUSH, locale, count=7, actors=["Ana"])

    assert one.title != several.title
    assert "7" in several.title


def test_given_a_count_of_millions_in_spanish_when_rendered_then_its_missing_many_form_is_other():
    push = digest("LIKE", Channel.PUSH, "es", count=1_000_000, actors=[])

    assert push.body == "1000000 personas indicaron que les gusta tu post."


def test_given_a_many_form_when_a_count_of_millions_is_rendered_then_it_is_used():
    data = shipped()["es"]
    data["digest"]["actors"]["others"]["many"] = "{others} de personas"
    templates = with_translation("es", data)

    assert digest("LIKE", Channel.SMS, "es", templates, count=2_000_000, actors=[]).text == (
        "2000000 de personas indicaron que les gusta tu post."
    )
    assert digest("LIKE", Channel.SMS, "es", templates, count=5, actors=[]).text == (
        "5 personas indicaron que les gusta tu post."
    )


def test_given_a_regional_locale_when_rendered_then_its_language_and_plural_rules_are_used():
    assert digest("FOLLOW", Channel.SMS, "pt_BR", count=3, actors=["Ana"]).text == (
        "Ana e mais 2 pessoas começaram a seguir você."
    )
    assert (
        digest("FOLLOW", Channel.SMS, "fr-CA", count=1, actors=[]).text == "1 personne vous suit désormais."
    )


# --------------------------------------------------------------------------------------------
# Channels
# --------------------------------------------------------------------------------------------


def test_given_an_actor_name_with_markup_when_rendered_for_email_then_it_is_escaped_in_html_only():
    email = digest("LIKE", Channel.EMAIL, count=5, actors=["<b>Ana</b>", "Ben"])

    assert isinstance(email, EmailMessage)
    assert "<b>" not in (email.html or "")
    assert "<strong>&lt;b&gt;Ana&lt;/b&gt;, Ben and 3 others</strong> liked your post" in (email.html or "")
    assert "<title>&lt;b&gt;Ana&lt;/b&gt;, Ben and 3 others liked your post</title>" in (email.html or "")
    assert email.subject == "<b>Ana</b>, Ben and 3 others liked your post"
    assert email.text == "<b>Ana</b>, Ben and 3 others liked your post (post_67890)."


@pytest.mark.parametrize("locale", LOCALES)
def test_given_a_digest_when_rendered_for_email_then_the_html_is_a_document_in_its_language(locale):
    email = digest("FOLLOW", Channel.EMAIL, locale, count=2, actors=["Ana", "Ben"])

    assert email.html.startswith("<!doctype html>\n")
    assert f'<html lang="{locale}">' in email.html
    assert "<strong>Ana" in email.html


def test_given_an_actor_name_with_a_line_break_when_rendered_then_the_subject_stays_one_line():
    email = digest("FOLLOW", Channel.EMAIL, count=2, actors=["Ana\r\nBcc: x@example.com", "Ben"])

    assert email.subject == "Ana Bcc: x@example.com and Ben started following you"


def test_given_a_digest_when_rendered_for_push_then_the_data_carries_the_event_type_parent_and_count():
    push = digest("LIKE", Channel.PUSH, "de", count=5, actors=["Ana", "Ben"])

    assert isinstance(push, PushMessage)
    assert push.data == {
        "notification_id": "n-1",
        "event_type": "LIKE",
        "parent_id": "post_67890",
        "parent_type": "post",
        "count": "5",
    }


def test_given_a_digest_when_rendered_for_inapp_then_the_data_has_the_parent_the_count_and_every_name():
    item = digest("FOLLOW", Channel.INAPP, "fr", count=5, actors=["Ana", "Ben", "Cy"])

    assert isinstance(item, InAppMessage)
    assert (item.event_type, item.title, item.body) == (
        "FOLLOW",
        "5 nouveaux abonnés",
        "Ana, Ben et 3 autres vous suivent désormais.",
    )
    assert item.data == {
        "parent_id": "post_67890",
        "parent_type": "post",
        "timestamp": "2026-11-21T10:00:00Z",
        "count": 5,
        "actors": ["Ana", "Ben", "Cy"],
    }


def test_given_very_long_names_when_rendered_for_inapp_then_title_and_body_fit_the_inbox():
    data = shipped()[DEFAULT_LOCALE]
    data["digest"]["events"]["LIKE"]["other"]["inapp"]["title"] = "{actors} liked it"
    templates = TemplateCatalog.model_validate({"default": data})

    item = digest("LIKE", Channel.INAPP, None, templates, count=9, actors=["A" * 1024, "B" * 1024])

    assert (len(item.title), len(item.body)) == (200, 2000)
    assert item.title.endswith("…")
    assert item.body.endswith("…")


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("event_type", DIGEST_TYPES)
@pytest.mark.parametrize(
    "actors",
    [["Maria Fernanda Oliveira", "Zoë O'Brien-Łukasiewicz"], ["山田太郎"], []],
    ids=["two", "kanji", "none"],
)
def test_given_realistic_names_when_rendered_for_sms_then_it_fits_two_segments_uncut(
    locale, event_type, actors
):
    sms = digest(event_type, Channel.SMS, locale, count=12, actors=actors)

    assert sms_segments(sms.text) <= 2
    assert "..." not in sms.text
    assert "…" not in sms.text


@pytest.mark.parametrize("locale", LOCALES)
def test_given_200_character_names_when_rendered_for_sms_then_it_fits_two_segments(locale):
    sms = digest("LIKE", Channel.SMS, locale, count=5, actors=["A" * 200, "Ж" * 200], parent_type="x" * 64)

    assert sms_segments(sms.text) <= 2


def test_given_an_event_type_without_digest_templates_when_rendered_then_it_is_a_value_error_naming_it():
    with pytest.raises(PermanentDeliveryError, match="no digest templates for COMMENT"):
        digest("COMMENT", Channel.PUSH, "fr", count=3, actors=["Ana"])


# --------------------------------------------------------------------------------------------
# Plural categories
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "n", "category"),
    [
        ("en", 0, "other"),
        ("en", 1, "one"),
        ("en", 2, "other"),
        ("en", 1_000_000, "other"),
        ("de", 1, "one"),
        ("de", 0, "other"),
        ("de", 5, "other"),
        ("es", 0, "other"),
        ("es", 1, "one"),
        ("es", 2, "other"),
        ("es", 1_000_000, "many"),
        ("es", 3_000_000, "many"),
        ("es", 1_000_001, "other"),
        ("fr", 0, "one"),
        ("fr", 1, "one"),
        ("fr", 2, "other"),
        ("fr", 1_000_000, "many"),
        ("pt", 0, "one"),
        ("pt", 1, "one"),
        ("pt", 2, "other"),
        ("pt", 1_000_000, "many"),
        ("pt-BR", 0, "one"),
        ("FR-ca", 0, "one"),
        ("ja", 1, "one"),
        ("ja", 0, "other"),
    ],
)
def test_given_a_language_and_a_number_when_categorised_then_it_is_cldrs_cardinal_category(lang, n, category):
    assert plural_category(lang, n) == category


# --------------------------------------------------------------------------------------------
# Translations
# --------------------------------------------------------------------------------------------


def french_like(**forms: dict[str, Any]) -> dict[str, Any]:
    """A French translation whose LIKE digest has only the given forms (and the shipped actor phrases)."""
    return {"digest": {"actors": shipped()["fr"]["digest"]["actors"], "events": {"LIKE": forms}}}


def test_given_a_translation_without_a_form_when_rendered_in_that_form_then_exactly_that_form_is_english():
    templates = with_translation(
        "fr", french_like(other=shipped()["fr"]["digest"]["events"]["LIKE"]["other"])
    )

    one = digest("LIKE", Channel.PUSH, "fr", templates, count=1, actors=["Ana"])
    other = digest("LIKE", Channel.PUSH, "fr", templates, count=3, actors=["Ana", "Ben"])

    assert (one.title, one.body) == ("New like", "Ana liked your post.")
    assert (other.title, other.body) == (
        "3 nouvelles mentions J'aime",
        "Ana, Ben et 1 autre ont aimé votre post.",
    )


def test_given_a_translated_form_without_a_channel_when_rendered_then_that_channel_is_english():
    push = shipped()["fr"]["digest"]["events"]["LIKE"]["other"]["push"]
    templates = with_translation("fr", french_like(other={"push": push}))

    assert digest("LIKE", Channel.PUSH, "fr", templates, count=2, actors=[]).body == (
        "2 personnes ont aimé votre post."
    )
    assert digest("LIKE", Channel.EMAIL, "fr", templates, count=2, actors=["Ana"]).subject == (
        "Ana et 1 autre liked your post"
    )


def test_given_a_translation_without_digests_when_rendered_then_the_digest_is_in_english():
    templates = with_translation("fr", {"events": {}})

    assert digest("FOLLOW", Channel.SMS, "fr", templates, count=5, actors=["Ana", "Ben"]).text == (
        "Ana, Ben and 3 others started following you."
    )


def test_given_a_translation_without_an_actor_phrase_form_when_rendered_then_that_form_is_english():
    data = shipped()["fr"]
    del data["digest"]["actors"]["one_name_and_others"]["one"]
    templates = with_translation("fr", data)

    assert digest("LIKE", Channel.SMS, "fr", templates, count=2, actors=["Ana"]).text == (
        "Ana and 1 other ont aimé votre post."
    )
    assert digest("LIKE", Channel.SMS, "fr", templates, count=3, actors=["Ana"]).text == (
        "Ana et 2 autres ont aimé votre post."
    )


@pytest.mark.parametrize("locale", SHIPPED_TRANSLATIONS)
def test_given_a_shipped_translation_when_loaded_then_it_translates_every_digest_text_and_phrase(locale):
    english = catalog().default.digest
    translation = catalog().translations[locale].digest

    assert translation.actors.phrases().keys() == english.actors.phrases().keys()
    assert translation.events.keys() == english.events.keys()
    for event_type, forms in english.events.items():
        assert translation.events[event_type].forms().keys() >= forms.forms().keys()
        for category, channels in translation.events[event_type].forms().items():
            assert len(channels.channels()) == len(Channel), (event_type, category)


@pytest.mark.parametrize("locale", SHIPPED_TRANSLATIONS)
def test_given_a_shipped_translation_when_loaded_then_each_digest_text_uses_the_english_placeholders(locale):
    english = catalog().default.digest
    translation = catalog().translations[locale].digest

    for path, phrase in translation.actors.phrases().items():
        assert re.findall(r"{\w+}", phrase) == re.findall(r"{\w+}", english.actors.phrases()[path]), path
    for event_type, forms in english.events.items():
        for category, channels in forms.forms().items():
            translated = translation.events[event_type].form(category).channels()
            for channel, template in channels.channels().items():
                assert translated[channel].placeholders() == template.placeholders(), (event_type, category)


def test_given_the_shipped_english_when_loaded_then_it_has_digests_for_likes_and_follows_in_both_forms():
    events = catalog().default.digest.events

    assert {event_type: set(forms.forms()) for event_type, forms in events.items()} == {
        "LIKE": {"one", "other"},
        "FOLLOW": {"one", "other"},
    }


# --------------------------------------------------------------------------------------------
# Template data
# --------------------------------------------------------------------------------------------


def invalid(data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as raised:
        TemplateCatalog.model_validate(data)
    return str(raised.value)


def english() -> dict[str, Any]:
    return shipped()[DEFAULT_LOCALE]


def test_given_an_unknown_placeholder_in_a_digest_text_when_validated_then_locale_path_and_name_are_given():
    data = english()
    data["digest"]["events"]["LIKE"]["other"]["push"]["title"] = "{cuont} new likes"

    assert (
        "en: digest.events.LIKE.other.push uses {cuont}, which is neither a payload field nor a default"
        in (invalid({"default": data}))
    )


def test_given_an_unknown_placeholder_in_a_translated_digest_text_when_validated_then_it_is_named():
    spanish = {"digest": {"events": {"LIKE": {"other": {"sms": {"text": "{actor} le dio me gusta."}}}}}}

    assert "es: digest.events.LIKE.other.sms uses {actor}" in invalid(
        {"default": english(), "translations": {"es": spanish}}
    )


def test_given_a_digest_placeholder_in_an_event_text_when_validated_then_it_is_refused():
    data = english()
    data["events"]["LIKE"]["sms"]["text"] = "{actors} liked your post."

    assert "en: events.LIKE.sms uses {actors}" in invalid({"default": data})


@pytest.mark.parametrize(
    ("phrase", "text", "name"),
    [("two_names", "{frist} and {second}", "frist"), ("one_name", "{first} and {second}", "second")],
)
def test_given_a_placeholder_an_actor_phrase_is_not_given_when_validated_then_it_is_refused(
    phrase, text, name
):
    data = english()
    data["digest"]["actors"][phrase] = text

    assert f"en: digest.actors.{phrase} uses {{{name}}}, which is not one of its fields" in invalid(
        {"default": data}
    )


def test_given_an_unknown_placeholder_in_a_translated_actor_form_when_validated_then_it_is_named():
    french = {"digest": {"actors": {"others": {"other": "{other} personnes"}}}}

    assert "fr: digest.actors.others.other uses {other}" in invalid(
        {"default": english(), "translations": {"fr": french}}
    )


def test_given_an_actor_phrase_with_a_format_spec_when_validated_then_it_is_refused():
    data = english()
    data["digest"]["actors"]["one_name"] = "{first!r}"

    assert "default.digest.actors.one_name" in invalid({"default": data})


@pytest.mark.parametrize(
    ("path", "location"),
    [
        (["actors", "others"], "default.digest.actors.others.other"),
        (["events", "FOLLOW"], "default.digest.events.FOLLOW.other"),
    ],
)
def test_given_a_plural_object_without_other_when_validated_then_it_is_refused(path, location):
    data = english()
    plural = data["digest"]
    for key in path:
        plural = plural[key]
    del plural["other"]

    assert f"{location}\n  Field required" in invalid({"default": data})


def test_given_a_translated_plural_object_without_other_when_validated_then_it_is_refused():
    french = french_like(one=shipped()["fr"]["digest"]["events"]["LIKE"]["one"])

    assert "translations.fr.digest.events.LIKE.other\n  Field required" in invalid(
        {"default": english(), "translations": {"fr": french}}
    )


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        (["actors", "two_names_and_others"], "digest.actors.two_names_and_others: no 'one' form"),
        (["events", "LIKE"], "digest.events.LIKE: no 'one' form"),
    ],
)
def test_given_the_default_without_a_one_form_when_validated_then_it_is_refused(path, problem):
    data = english()
    plural = data["digest"]
    for key in path:
        plural = plural[key]
    del plural["one"]

    assert problem in invalid({"default": data})


def test_given_a_form_that_is_not_a_plural_category_when_validated_then_it_is_refused():
    data = english()
    data["digest"]["actors"]["others"]["few"] = "{others} people"

    assert "default.digest.actors.others.few\n  Extra inputs are not permitted" in invalid({"default": data})


def test_given_a_translated_digest_english_lacks_when_validated_then_it_is_named():
    french = {"digest": {"events": {"COMMENT": shipped()["fr"]["digest"]["events"]["LIKE"]}}}

    assert "fr: digest.events ['COMMENT'] have no digest in en" in invalid(
        {"default": english(), "translations": {"fr": french}}
    )


def test_given_no_digest_in_the_default_when_validated_then_it_is_refused():
    data = english()
    del data["digest"]

    assert "default.digest\n  Field required" in invalid({"default": data})
