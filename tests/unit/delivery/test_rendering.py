"""Rendering: templates per event type and channel, translations, e-mail HTML and SMS segments."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from notifier.delivery.catalog import DEFAULT_LOCALE
from notifier.delivery.rendering import TemplateCatalog, catalog, render
from notifier.delivery.sms_text import sms_segments
from notifier.models.channels import Channel, Priority, SocialEventType
from notifier.models.envelope import (
    EmailMessage,
    Envelope,
    EventContent,
    InAppMessage,
    MessageContent,
    PushMessage,
)

SHIPPED_TRANSLATIONS = ["de", "es", "fr", "pt-BR"]
LOCALES = [DEFAULT_LOCALE, *SHIPPED_TRANSLATIONS]
REALISTIC_PAYLOADS = [
    {"parent_id": "post_67890", "parent_type": "post", "actor_name": "Maria Fernanda Oliveira"},
    {"parent_id": "cmt_5f3a9c2e-4b7d", "parent_type": "comment", "actor_name": "Zoë O'Brien-Łukasiewicz"},
    {"parent_id": "ph_1", "parent_type": "photo", "actor_name": "山田太郎"},
    {"parent_id": "p", "parent_type": "video"},
]


def envelope(event_type: str, content: EventContent | MessageContent, channel: Channel) -> Envelope:
    return Envelope(
        notification_id="n-1",
        correlation_id="c-1",
        recipient_id="user-1",
        event_type=event_type,
        priority=Priority.STANDARD,
        channels=[channel],
        content=content,
        created_at=datetime.now(UTC),
    )


def event(**payload: Any) -> EventContent:
    base = {"parent_id": "post_67890", "parent_type": "post", "timestamp": "2026-11-21T10:00:00Z"}
    return EventContent(payload=base | payload)


def rendered(
    event_type: str,
    channel: Channel,
    locale: str | None = None,
    templates: TemplateCatalog | None = None,
    **payload: Any,
) -> Any:
    """The message for an event; with the shipped templates unless `templates` are given."""
    message = envelope(event_type, event(**payload), channel)
    return templates.render(message, channel, locale) if templates else render(message, channel, locale)


def direct(
    body: str,
    channel: Channel,
    locale: str | None = None,
    subject: str | None = None,
    templates: TemplateCatalog | None = None,
) -> Any:
    """The message for a direct notification; with the shipped templates unless `templates` are given."""
    message = envelope("NOTIFICATION", MessageContent(body=body, subject=subject), channel)
    return templates.render(message, channel, locale) if templates else render(message, channel, locale)


def english() -> dict[str, Any]:
    """The shipped default templates as a plain dict, to craft catalogues from."""
    return catalog().default.model_dump(mode="json", by_alias=True)


def strings(message: Any) -> str:
    return " ".join(v for v in message.model_dump().values() if isinstance(v, str))


# --------------------------------------------------------------------------------------------
# Event templates
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("event_type", list(SocialEventType))
@pytest.mark.parametrize("channel", list(Channel))
def test_given_any_event_channel_and_locale_when_rendered_then_no_placeholder_is_left_and_the_actor_is_named(
    locale, event_type, channel
):
    message = rendered(event_type, channel, locale, parent_type="photo", actor_name="Bob")

    assert message.channel == channel
    assert "{" not in strings(message)
    assert "Bob" in strings(message)


@pytest.mark.parametrize(
    ("locale", "subject"),
    [
        ("en", "Someone started following you"),
        ("es", "Alguien empezó a seguirte"),
        ("fr", "Quelqu'un vous suit désormais"),
        ("de", "Jemand folgt dir jetzt"),
        ("pt-BR", "Alguém começou a seguir você"),
    ],
)
def test_given_an_event_without_an_actor_when_rendered_then_a_localised_someone_acted(locale, subject):
    message = rendered("FOLLOW", Channel.EMAIL, locale)

    assert isinstance(message, EmailMessage)
    assert message.subject == subject


def test_given_a_blank_actor_name_when_rendered_then_the_default_is_used():
    message = rendered("FOLLOW", Channel.EMAIL, actor_name="  ")

    assert message.subject == "Someone started following you"


def test_given_a_payload_value_with_line_breaks_when_rendered_then_the_subject_stays_one_line():
    message = rendered("LIKE", Channel.EMAIL, actor_name="Bob\r\nBcc: x@example.com")

    assert message.subject == "Bob Bcc: x@example.com liked your post"


def test_given_an_event_when_rendered_for_push_then_the_data_carries_the_event_for_the_app():
    push = rendered("COMMENT", Channel.PUSH, "es", parent_id="post_9")

    assert isinstance(push, PushMessage)
    assert push.data == {
        "notification_id": "n-1",
        "event_type": "COMMENT",
        "parent_id": "post_9",
        "parent_type": "post",
    }
    assert (push.title, push.body) == ("Nuevo comentario", "Alguien comentó tu post.")


@pytest.mark.parametrize(
    ("locale", "title", "body"),
    [
        ("en", "New comment", "Ana commented on your photo."),
        ("es", "Nuevo comentario", "Ana comentó tu photo."),
        ("fr", "Nouveau commentaire", "Ana a commenté votre photo."),
        ("de", "Neuer Kommentar", "Ana hat deinen photo kommentiert."),
        ("pt-BR", "Novo comentário", "Ana comentou no seu photo."),
    ],
)
def test_given_an_event_when_rendered_for_inapp_then_title_body_and_data_are_in_the_recipients_language(
    locale, title, body
):
    item = rendered("COMMENT", Channel.INAPP, locale, parent_id="ph_9", parent_type="photo", actor_name="Ana")

    assert isinstance(item, InAppMessage)
    assert (item.event_type, item.title, item.body) == ("COMMENT", title, body)
    assert item.data == {"parent_id": "ph_9", "parent_type": "photo", "timestamp": "2026-11-21T10:00:00Z"}


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("event_type", list(SocialEventType))
def test_given_any_event_and_locale_when_rendered_for_inapp_then_it_has_a_title_and_the_events_parent(
    locale, event_type
):
    item = rendered(event_type, Channel.INAPP, locale)

    assert item.title
    assert item.body
    assert (item.event_type, item.data["parent_id"]) == (event_type.value, "post_67890")


def test_given_a_very_long_payload_value_when_rendered_for_inapp_then_title_and_body_fit_the_inbox():
    data = english()
    data["events"]["LIKE"]["inapp"]["title"] = "{actor_name} liked it"
    templates = TemplateCatalog.model_validate({"default": data})

    item = rendered("LIKE", Channel.INAPP, templates=templates, actor_name="A" * 1024, parent_type="p" * 1024)

    assert (len(item.title), len(item.body)) == (200, 2000)
    assert item.title.endswith("…")
    assert item.body.endswith("…")


# --------------------------------------------------------------------------------------------
# Locale selection
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("locale", SHIPPED_TRANSLATIONS)
def test_given_a_translated_locale_when_selected_then_that_translation_is_used(locale):
    assert catalog().select(locale)[0] == locale


@pytest.mark.parametrize("locale", ["pt-br", "PT-BR", "pt_BR"])
def test_given_a_tag_in_another_case_or_with_an_underscore_when_selected_then_it_matches(locale):
    assert catalog().select(locale)[0] == "pt-BR"


@pytest.mark.parametrize(("locale", "chosen"), [("fr-CA", "fr"), ("es-419", "es"), ("de-Latn-CH-1996", "de")])
def test_given_a_regional_locale_without_its_own_translation_when_selected_then_its_language_is_used(
    locale, chosen
):
    assert catalog().select(locale)[0] == chosen


@pytest.mark.parametrize("locale", [None, "", "ja", "en-GB", "zz-ZZ", "not a tag!"])
def test_given_no_unknown_or_english_locale_when_selected_then_english_is_used(locale):
    assert catalog().select(locale) == ("en", catalog().default)


def test_given_a_regional_locale_when_rendered_then_the_text_is_in_its_language():
    push = rendered("COMMENT", Channel.PUSH, "fr-CA", actor_name="Léa")

    assert (push.title, push.body) == ("Nouveau commentaire", "Léa a commenté votre post.")


def partial_spanish() -> TemplateCatalog:
    """A catalogue whose Spanish has only the LIKE e-mail and the direct e-mail subject."""
    return TemplateCatalog.model_validate(
        {
            "default": english(),
            "translations": {
                "es": {
                    "events": {
                        "LIKE": {
                            "email": {
                                "subject": "A {actor_name} le gusta",
                                "text": "Le gusta tu {parent_type}.",
                                "html": "<p>Le gusta tu {parent_type}.</p>",
                            }
                        }
                    },
                    "direct": {"email": {"subject": "Nueva notificación"}},
                }
            },
        }
    )


def test_given_a_partial_translation_when_a_channel_is_translated_then_it_is_used():
    email = rendered("LIKE", Channel.EMAIL, "es", partial_spanish(), actor_name="Ana")

    assert (email.subject, email.text) == ("A Ana le gusta", "Le gusta tu post.")


def test_given_a_partial_translation_when_a_channel_is_missing_then_that_channel_is_in_english():
    push = rendered("LIKE", Channel.PUSH, "es", partial_spanish(), actor_name="Ana")

    assert (push.title, push.body) == ("New like", "Ana liked your post.")


def test_given_a_partial_translation_when_an_event_type_is_missing_then_it_is_in_english():
    sms = rendered("FOLLOW", Channel.SMS, "es", partial_spanish(), actor_name="Ana")

    assert sms.text == "Ana started following you."


def test_given_a_partial_translation_when_a_default_is_missing_then_the_english_default_fills_in():
    email = rendered("LIKE", Channel.EMAIL, "es", partial_spanish())

    assert email.subject == "A Someone le gusta"


def test_given_a_partial_translation_when_a_direct_default_is_missing_then_it_is_in_english():
    email = direct("Hola", Channel.EMAIL, "es", templates=partial_spanish())
    push = direct("Hola", Channel.PUSH, "es", templates=partial_spanish())

    assert (email.subject, push.title) == ("Nueva notificación", "New notification")


# --------------------------------------------------------------------------------------------
# E-mail HTML
# --------------------------------------------------------------------------------------------


def test_given_a_payload_value_with_markup_when_rendered_then_it_is_escaped_in_html_only():
    email = rendered("LIKE", Channel.EMAIL, actor_name="<script>alert(1)</script>")

    assert isinstance(email, EmailMessage)
    assert "<script>" not in (email.html or "")
    assert "<strong>&lt;script&gt;alert(1)&lt;/script&gt;</strong>" in (email.html or "")
    assert email.text.startswith("<script>alert(1)</script> liked")
    assert email.subject.startswith("<script>alert(1)</script> liked")


@pytest.mark.parametrize("locale", LOCALES)
def test_given_an_event_when_rendered_for_email_then_the_html_is_a_self_contained_document_in_its_language(
    locale,
):
    html = rendered("COMMENT", Channel.EMAIL, locale).html

    assert html.startswith("<!doctype html>\n")
    assert f'<html lang="{locale}">' in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert html.rstrip().endswith("</html>")
    assert not re.search(r"src=|href=|url\(|@import", html)


def test_given_a_regional_locale_when_rendered_for_email_then_lang_names_the_translation_used():
    assert '<html lang="fr">' in rendered("LIKE", Channel.EMAIL, "fr-CA").html


def test_given_a_subject_with_markup_when_rendered_then_the_html_title_escapes_it():
    email = direct("Body", Channel.EMAIL, subject="Q&A <today>")

    assert "<title>Q&amp;A &lt;today&gt;</title>" in email.html


# --------------------------------------------------------------------------------------------
# Direct messages (the explicit route)
# --------------------------------------------------------------------------------------------

DIRECT_BODY = "Order <b>shipped</b> & {paid}\n\nTrack it: 🚚 " + "x" * 500


@pytest.mark.parametrize(
    ("channel", "field"),
    [(Channel.EMAIL, "text"), (Channel.SMS, "text"), (Channel.PUSH, "body"), (Channel.INAPP, "body")],
)
@pytest.mark.parametrize("locale", [None, "es"])
def test_given_a_direct_message_when_rendered_then_the_body_is_sent_verbatim(channel, field, locale):
    message = direct(DIRECT_BODY, channel, locale)

    assert getattr(message, field) == DIRECT_BODY


def test_given_a_direct_message_without_subject_when_rendered_then_the_defaults_are_localised():
    assert direct("Hi", Channel.EMAIL).subject == "You have a new notification"
    assert direct("Hola", Channel.EMAIL, "es-MX").subject == "Tienes una nueva notificación"
    assert direct("Olá", Channel.PUSH, "pt-BR").title == "Nova notificação"


def test_given_a_direct_message_with_a_subject_when_rendered_then_the_subject_is_kept():
    assert direct("Body", Channel.EMAIL, "de", subject="Your order").subject == "Your order"


def test_given_a_direct_message_when_rendered_for_email_then_the_html_is_escaped_paragraphs():
    email = direct("Order shipped\nto <you>\n\nTrack it online.", Channel.EMAIL)

    assert "<p>Order shipped<br>to &lt;you&gt;</p><p>Track it online.</p>" in email.html


def test_given_a_direct_message_and_an_untranslated_locale_when_rendered_then_lang_is_the_recipients():
    # The caller wrote the body, most likely in the recipient's language, which we have no templates for.
    assert '<html lang="ja">' in direct("ご注文を発送しました", Channel.EMAIL, "ja").html


def test_given_a_direct_message_when_rendered_for_push_then_the_data_names_the_notification():
    push = direct("Hi", Channel.PUSH)

    assert (push.title, push.data) == ("New notification", {"notification_id": "n-1"})


def test_given_a_direct_inapp_message_when_rendered_then_title_body_and_data_are_the_callers():
    content = MessageContent(body="Your order is on its way", title="Shipped", data={"order_id": 12})

    item = render(envelope("NOTIFICATION", content, Channel.INAPP), Channel.INAPP, "es")

    assert item == InAppMessage(
        event_type="NOTIFICATION", title="Shipped", body="Your order is on its way", data={"order_id": 12}
    )


def test_given_a_direct_inapp_message_without_title_when_rendered_then_it_has_none():
    item = direct("Hi", Channel.INAPP, "pt-BR")

    assert (item.title, item.body, item.data) == (None, "Hi", {})


# --------------------------------------------------------------------------------------------
# SMS segments
# --------------------------------------------------------------------------------------------


GSM7_NON_ASCII = "@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà"  # 42 characters, one septet each


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        (GSM7_NON_ASCII * 3 + "a" * 34, 1),
        (GSM7_NON_ASCII * 3 + "a" * 35, 2),
    ],
)
def test_given_a_gsm7_text_when_counted_then_160_septets_fit_one_segment_and_153_each_part(text, segments):
    assert sms_segments(text) == segments


@pytest.mark.parametrize("char", list("€{}[]~|^\\\f"))
def test_given_an_extension_character_when_counted_then_it_takes_two_septets(char):
    assert sms_segments(char * 80) == 1
    assert sms_segments(char * 80 + "a") == 2


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("ж" * 70, 1),
        ("ж" * 71, 2),
        ("a" * 69 + "ç", 1),
        ("a" * 70 + "…", 2),
        ("ж" * 134, 2),
        ("ж" * 135, 3),
    ],
)
def test_given_a_text_outside_gsm7_when_counted_then_70_code_units_fit_one_segment_and_67_each_part(
    text, segments
):
    assert sms_segments(text) == segments


def test_given_emoji_when_counted_then_each_takes_two_code_units():
    assert sms_segments("😀" * 35) == 1
    assert sms_segments("😀" * 35 + "a") == 2
    assert sms_segments("😀" * 66) == 2
    assert sms_segments("😀" * 67) == 3  # 33 a part: a pair is never split


@pytest.mark.parametrize(
    "text",
    ["a" * 152 + "€" + "a" * 152, "ж" * 66 + "😀" + "ж" * 66],
    ids=["escape-sequence", "surrogate-pair"],
)
def test_given_a_two_unit_character_on_a_part_boundary_when_counted_then_it_starts_the_next_part(text):
    assert sms_segments(text) == 3


# --------------------------------------------------------------------------------------------
# SMS length
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("event_type", list(SocialEventType))
@pytest.mark.parametrize("payload", REALISTIC_PAYLOADS, ids=["post", "comment", "kanji", "no-actor"])
def test_given_a_realistic_payload_when_rendered_for_sms_then_it_fits_two_segments_uncut(
    locale, event_type, payload
):
    sms = rendered(event_type, Channel.SMS, locale, **payload)

    assert sms_segments(sms.text) <= 2
    assert "..." not in sms.text
    assert "…" not in sms.text


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("event_type", list(SocialEventType))
@pytest.mark.parametrize(
    "name", ["A" * 200, "Ж" * 200, "😀" * 200, "€" * 200], ids=["gsm7", "ucs2", "emoji", "ext"]
)
def test_given_a_200_character_actor_name_when_rendered_for_sms_then_it_fits_two_segments(
    locale, event_type, name
):
    sms = rendered(event_type, Channel.SMS, locale, actor_name=name, parent_type="x" * 64)

    assert sms_segments(sms.text) <= 2


def test_given_a_long_name_in_a_gsm7_text_when_cut_then_the_marker_is_three_dots_and_the_sentence_stays():
    sms = rendered("LIKE", Channel.SMS, actor_name="A" * 400, parent_type="photo")

    assert sms.text.endswith("A... liked your photo.")
    assert sms_segments(sms.text) == 2
    assert len(sms.text) > 290  # the name is cut no more than needed


def test_given_a_long_name_in_a_ucs2_text_when_cut_then_the_marker_is_one_ellipsis_character():
    sms = rendered("COMMENT", Channel.SMS, "es", actor_name="A" * 200)

    assert sms.text.endswith("A… comentó tu post.")
    assert sms_segments(sms.text) == 2


def test_given_a_non_gsm_character_only_in_the_cut_away_part_when_cut_then_the_text_stays_gsm7():
    sms = rendered("LIKE", Channel.SMS, actor_name="A" * 400 + "ж")

    assert sms.text.endswith("A... liked your post.")
    assert sms_segments(sms.text) == 2


def test_given_two_long_values_when_cut_then_the_longest_is_cut_first():
    sms = rendered("LIKE", Channel.SMS, actor_name="A" * 400, parent_type="p" * 60)

    assert sms.text.endswith("p" * 60 + ".")


def test_given_a_template_too_long_for_two_segments_when_rendered_then_the_text_itself_is_cut():
    data = english()
    data["events"]["LIKE"]["sms"]["text"] = "{actor_name} " + "liked your post. " * 30
    too_long = TemplateCatalog.model_validate({"default": data})

    sms = rendered("LIKE", Channel.SMS, templates=too_long, actor_name="Bob")

    assert sms.text.startswith("Bob liked your post.")
    assert sms.text.endswith("...")
    assert sms_segments(sms.text) == 2


# --------------------------------------------------------------------------------------------
# Template data
# --------------------------------------------------------------------------------------------


def invalid(data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as raised:
        TemplateCatalog.model_validate(data)
    return str(raised.value)


def test_given_an_event_type_without_a_channel_when_validated_then_the_event_and_channel_are_named():
    data = english()
    del data["events"]["LIKE"]["push"]

    assert "default.events.LIKE.push\n  Field required" in invalid({"default": data})


def test_given_an_event_type_without_its_inapp_template_when_validated_then_the_event_and_channel_are_named():
    data = english()
    del data["events"]["MESSAGE"]["inapp"]

    assert "default.events.MESSAGE.inapp\n  Field required" in invalid({"default": data})


def test_given_a_partial_translation_when_inapp_is_missing_then_the_inapp_item_is_in_english():
    spanish = {"events": {"COMMENT": {"push": {"title": "Comentario", "body": "{actor_name} comentó."}}}}
    templates = TemplateCatalog.model_validate({"default": english(), "translations": {"es": spanish}})

    item = rendered("COMMENT", Channel.INAPP, "es", templates, actor_name="Ana")

    assert (item.title, item.body) == ("New comment", "Ana commented on your post.")


def test_given_no_templates_for_an_event_type_when_validated_then_it_is_named():
    data = english()
    del data["events"]["POST"]

    assert "no templates for POST" in invalid({"default": data})


def test_given_an_email_template_without_html_when_validated_then_it_is_named():
    data = english()
    del data["events"]["MENTION"]["email"]["html"]

    assert "default.events.MENTION.email.html\n  Field required" in invalid({"default": data})


def test_given_an_unknown_placeholder_in_a_translation_when_validated_then_locale_event_and_name_are_given():
    problems = invalid(
        {
            "default": english(),
            "translations": {"es": {"events": {"LIKE": {"sms": {"text": "{actor} le dio me gusta."}}}}},
        }
    )

    assert "es: events.LIKE.sms uses {actor}, which is neither a payload field nor a default" in problems


def test_given_an_unknown_placeholder_in_the_default_templates_when_validated_then_it_is_named():
    data = english()
    data["events"]["SHARE"]["push"]["body"] = "{actr_name} shared it."

    assert "en: events.SHARE.push uses {actr_name}" in invalid({"default": data})


@pytest.mark.parametrize(
    "template", ["{0} liked it", "{} liked it", "{actor_name!r}", "{actor_name.upper}", "{x"]
)
def test_given_a_placeholder_that_is_not_a_plain_name_when_validated_then_it_is_refused(template):
    data = english()
    data["events"]["LIKE"]["sms"]["text"] = template

    assert "default.events.LIKE.sms.text" in invalid({"default": data})


@pytest.mark.parametrize("tag", ["español", "pt_BR", "es-", "e", "en-toolongsubtag"])
def test_given_a_translation_key_that_is_not_a_language_tag_when_validated_then_it_is_named(tag):
    assert f"{tag!r} is not a BCP 47 language tag" in invalid(
        {"default": english(), "translations": {tag: {}}}
    )


def test_given_the_same_locale_twice_in_another_case_when_validated_then_it_is_refused():
    problems = invalid({"default": english(), "translations": {"pt-BR": {}, "pt-br": {}}})

    assert "'pt-br' and 'pt-BR' are the same locale" in problems


def test_given_a_translated_default_the_english_lacks_when_validated_then_it_is_named():
    problems = invalid({"default": english(), "translations": {"de": {"defaults": {"actor": "Jemand"}}}})

    assert "de: defaults ['actor'] have no default in en" in problems


def test_given_a_misspelt_key_when_validated_then_it_is_refused_rather_than_ignored():
    problems = invalid({"default": english(), "translations": {"fr": {"events": {"LIKE": {"emial": {}}}}}})

    assert "translations.fr.events.LIKE.emial\n  Extra inputs are not permitted" in problems


def test_given_a_layout_without_the_content_placeholder_when_validated_then_it_is_refused():
    data = english()
    data["email_layout"] = "<!doctype html><html lang={lang}><body></body></html>"

    assert "email_layout: must place {content}" in invalid({"default": data})


def test_given_a_translation_of_some_templates_only_when_validated_then_it_is_accepted():
    assert partial_spanish().select("es")[0] == "es"


@pytest.mark.parametrize("locale", SHIPPED_TRANSLATIONS)
def test_given_a_shipped_translation_when_loaded_then_it_covers_every_event_channel_and_default(locale):
    translation = catalog().translations[locale]

    assert set(translation.defaults) == set(catalog().default.defaults)
    assert translation.direct.email is not None
    assert translation.direct.push is not None
    assert set(translation.events) == set(SocialEventType)
    assert all(len(event.channels()) == len(Channel) for event in translation.events.values())


@pytest.mark.parametrize("locale", SHIPPED_TRANSLATIONS)
def test_given_a_shipped_translation_when_loaded_then_each_template_uses_the_english_placeholders(locale):
    translation = catalog().translations[locale]

    for event_type, english_event in catalog().default.events.items():
        translated = translation.events[event_type].channels()
        for channel, template in english_event.channels().items():
            assert translated[channel].placeholders() == template.placeholders(), (event_type, channel)


def test_given_the_shipped_templates_when_loaded_then_the_translations_are_the_expected_locales():
    assert sorted(catalog().translations) == SHIPPED_TRANSLATIONS
