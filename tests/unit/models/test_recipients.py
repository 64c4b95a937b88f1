"""The recipient document: what `PUT /recipients/{recipientId}` accepts, and how it is normalised."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from notifier.errors import PermanentDeliveryError
from notifier.models.channels import Channel, Priority, SocialEventType
from notifier.models.envelope import Envelope, MessageContent
from notifier.models.recipients import (
    MAX_PUSH_TOKENS,
    Contacts,
    PushToken,
    QuietHours,
    Recipient,
    RecipientDocument,
    addresses_for,
)

SEED_FILE = Path(__file__).resolve().parents[3] / "devstack" / "seed_recipients.json"

DOCUMENT: dict[str, Any] = {
    "contacts": {
        "email": "ana@example.com",
        "phone": "+34600000000",
        "push_tokens": [{"token": "fcm-token-ana-0001", "platform": "android"}],
    },
    "locale": "es-ES",
    "timezone": "Europe/Madrid",
    "preferences": {
        "opt_out": {"channels": ["sms"], "event_types": ["LIKE", "SHARE"]},
        "quiet_hours": {"start": "22:00", "end": "07:30"},
    },
}


def problems(document: dict[str, Any]) -> dict[str, str]:
    """The validation problems of `document`, by dotted field path."""
    with pytest.raises(ValidationError) as caught:
        RecipientDocument.model_validate(document)
    return {".".join(str(p) for p in e["loc"]): e["msg"] for e in caught.value.errors()}


def with_contacts(**contacts: Any) -> dict[str, Any]:
    return {"contacts": contacts}


def with_quiet_hours(start: Any, end: Any) -> dict[str, Any]:
    return {"preferences": {"quiet_hours": {"start": start, "end": end}}}


def tokens(*names: str, platform: str = "android") -> list[dict[str, str]]:
    return [{"token": name, "platform": platform} for name in names]


def envelope(addresses: dict[Channel, str] | None = None) -> Envelope:
    return Envelope(
        notification_id="n-1",
        correlation_id="c-1",
        recipient_id="ana",
        event_type="NOTIFICATION",
        priority=Priority.STANDARD,
        channels=[Channel.EMAIL],
        content=MessageContent(body="hello"),
        addresses=addresses or {},
        created_at=datetime.now(UTC),
    )


# --------------------------------------------------------------------------------------------
# A whole document
# --------------------------------------------------------------------------------------------


def test_given_the_documented_example_when_validated_then_every_part_is_read():
    document = RecipientDocument.model_validate(DOCUMENT)

    assert document.contacts.push_tokens == [PushToken(token="fcm-token-ana-0001", platform="android")]
    assert (document.locale, document.timezone) == ("es-ES", "Europe/Madrid")
    assert document.preferences.opt_out.channels == [Channel.SMS]
    assert document.preferences.opt_out.event_types == [SocialEventType.LIKE, SocialEventType.SHARE]
    assert document.preferences.quiet_hours == QuietHours(start=time(22), end=time(7, 30))


def test_given_an_empty_document_when_validated_then_it_has_no_contacts_english_utc_and_no_preferences():
    document = RecipientDocument.model_validate({})

    assert document.contacts == Contacts()
    assert (document.locale, document.timezone) == ("en", "UTC")
    assert document.preferences.opt_out.channels == []
    assert document.preferences.opt_out.event_types == []
    assert document.preferences.quiet_hours is None


def test_given_a_document_when_dumped_as_json_then_quiet_hours_read_as_hours_and_minutes():
    dumped = json.loads(RecipientDocument.model_validate(DOCUMENT).model_dump_json())

    assert dumped["preferences"]["quiet_hours"] == {"start": "22:00", "end": "07:30"}


def test_given_a_stored_recipient_when_its_json_is_read_back_then_it_is_equal():
    recipient = RecipientDocument.model_validate(DOCUMENT).for_recipient(
        "ana", datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    )

    assert Recipient.model_validate_json(recipient.model_dump_json()) == recipient


def test_given_a_document_when_made_a_recipients_then_it_carries_the_id_and_the_change_time():
    changed = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)

    recipient = RecipientDocument.model_validate(DOCUMENT).for_recipient("ana", changed)

    assert (recipient.recipient_id, recipient.updated_at) == ("ana", changed)
    assert recipient.timezone == "Europe/Madrid"


def test_given_the_local_stacks_seed_recipients_when_validated_then_each_one_is_valid():
    seeds = json.loads(SEED_FILE.read_text(encoding="utf-8"))["recipients"]

    assert [Recipient.model_validate(raw).recipient_id for raw in seeds] == [r["recipient_id"] for r in seeds]


def test_given_a_naive_update_time_when_validated_then_it_is_refused():
    with pytest.raises(ValidationError) as caught:
        Recipient(recipient_id="ana", updated_at=datetime(2026, 3, 1, 9, 30))

    assert [e["loc"] for e in caught.value.errors()] == [("updated_at",)]


def test_given_an_invalid_recipient_id_when_validated_then_it_is_refused():
    with pytest.raises(ValidationError) as caught:
        Recipient(recipient_id="has space")

    assert [e["loc"] for e in caught.value.errors()] == [("recipient_id",)]


# --------------------------------------------------------------------------------------------
# Unknown fields
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"nickname": "Ana"}, "nickname"),
        (with_contacts(fax="+34600000001"), "contacts.fax"),
        (with_contacts(push_tokens=[{"token": "fcm-token-0001", "platform": "ios", "app": "x"}]),
         "contacts.push_tokens.0.app"),
        ({"preferences": {"quiet_hour": {"start": "22:00", "end": "07:00"}}}, "preferences.quiet_hour"),
        ({"preferences": {"opt_out": {"channel": ["sms"]}}}, "preferences.opt_out.channel"),
        ({"preferences": {"quiet_hours": {"start": "22:00", "end": "07:00", "tz": "UTC"}}},
         "preferences.quiet_hours.tz"),
    ],
)  # fmt: skip
def test_given_an_unknown_field_when_validated_then_it_is_refused_by_name(document, field):
    assert problems(document) == {field: "Extra inputs are not permitted"}


# --------------------------------------------------------------------------------------------
# Contacts
# --------------------------------------------------------------------------------------------


def test_given_an_invalid_email_when_validated_then_the_email_field_is_named():
    assert problems(with_contacts(email="ana@localhost")) == {
        "contacts.email": "Value error, not a valid e-mail address"
    }


@pytest.mark.parametrize("phone", ["600000000", "+0600000000", "+34 600 000 000", "+34"])
def test_given_a_phone_not_in_e164_when_validated_then_the_phone_field_is_named(phone):
    assert list(problems(with_contacts(phone=phone))) == ["contacts.phone"]


def test_given_an_unknown_push_platform_when_validated_then_the_tokens_platform_is_named():
    assert list(problems(with_contacts(push_tokens=tokens("fcm-token-0001", platform="nokia")))) == [
        "contacts.push_tokens.0.platform"
    ]


@pytest.mark.parametrize("token", ["short", "has a space inside"])
def test_given_a_malformed_push_token_when_validated_then_the_token_is_named(token):
    assert list(problems(with_contacts(push_tokens=tokens(token)))) == ["contacts.push_tokens.0.token"]


def test_given_the_same_push_token_twice_when_validated_then_it_is_kept_once_with_its_first_platform():
    contacts = Contacts.model_validate(
        {
            "push_tokens": [
                {"token": "fcm-token-0001", "platform": "android"},
                {"token": "fcm-token-0002", "platform": "web"},
                {"token": "fcm-token-0001", "platform": "ios"},
            ]
        }
    )

    assert contacts.push_tokens == [
        PushToken(token="fcm-token-0001", platform="android"),
        PushToken(token="fcm-token-0002", platform="web"),
    ]


def test_given_more_push_tokens_than_allowed_when_validated_then_the_list_is_named():
    too_many = tokens(*(f"fcm-token-{i:04}" for i in range(MAX_PUSH_TOKENS + 1)))

    assert list(problems(with_contacts(push_tokens=too_many))) == ["contacts.push_tokens"]


# --------------------------------------------------------------------------------------------
# Locale and time zone
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("en", "en"),
        ("pt-br", "pt-BR"),
        ("EN-gb", "en-GB"),
        ("zh-hant-tw", "zh-Hant-TW"),
        ("es-419", "es-419"),
        ("ca-ES-VALENCIA", "ca-ES-valencia"),
    ],
)
def test_given_a_language_tag_in_any_case_when_validated_then_it_is_normalised(given, stored):
    assert RecipientDocument(locale=given).locale == stored


@pytest.mark.parametrize("locale", ["", "e", "english", "pt_BR", "en-", "en-a", "en-toolongsubtag"])
def test_given_something_that_is_no_language_tag_when_validated_then_the_locale_is_named(locale):
    assert list(problems({"locale": locale})) == ["locale"]


def test_given_an_unknown_time_zone_when_validated_then_the_message_names_it():
    assert "unknown time zone 'Mars/Base'" in problems({"timezone": "Mars/Base"})["timezone"]


@pytest.mark.parametrize("timezone", ["", "America", "../etc/passwd", "/etc/localtime", "Europe/Madrid "])
def test_given_a_name_that_is_no_time_zone_file_when_validated_then_the_time_zone_is_named(timezone):
    assert list(problems({"timezone": timezone})) == ["timezone"]


@pytest.mark.parametrize("timezone", ["Europe/Madrid", "America/Argentina/Buenos_Aires", "Etc/GMT+5"])
def test_given_an_iana_time_zone_when_validated_then_it_is_kept_as_written(timezone):
    assert RecipientDocument(timezone=timezone).timezone == timezone


# --------------------------------------------------------------------------------------------
# Preferences
# --------------------------------------------------------------------------------------------


def test_given_quiet_hours_that_start_when_they_end_when_validated_then_the_window_is_refused():
    assert problems(with_quiet_hours("22:00", "22:00")) == {
        "preferences.quiet_hours": "Value error, quiet hours start and end at the same time (22:00); "
        "they must differ"
    }


@pytest.mark.parametrize("start", ["7:30", "24:00", "22:60", "22:00:30", "22:00+02:00", 79200, None])
def test_given_a_quiet_hours_start_not_written_hh_mm_when_validated_then_the_start_is_named(start):
    assert list(problems(with_quiet_hours(start, "07:00"))) == ["preferences.quiet_hours.start"]


def test_given_the_direct_notification_type_when_opted_out_of_then_it_is_refused():
    # A direct notification is something the caller chose to send this person; no type to opt out of.
    document = {"preferences": {"opt_out": {"event_types": ["NOTIFICATION"]}}}

    assert list(problems(document)) == ["preferences.opt_out.event_types.0"]


def test_given_an_unknown_channel_when_opted_out_of_then_the_channel_is_named():
    assert list(problems({"preferences": {"opt_out": {"channels": ["fax"]}}})) == [
        "preferences.opt_out.channels.0"
    ]


def test_given_an_opt_out_listed_twice_when_validated_then_it_is_kept_once():
    document = RecipientDocument.model_validate(
        {"preferences": {"opt_out": {"channels": ["sms", "sms"], "event_types": ["LIKE", "LIKE"]}}}
    )

    assert document.preferences.opt_out.channels == [Channel.SMS]
    assert document.preferences.opt_out.event_types == [SocialEventType.LIKE]


# --------------------------------------------------------------------------------------------
# Addresses
# --------------------------------------------------------------------------------------------


def test_given_a_recipient_with_several_devices_when_asked_for_push_addresses_then_each_token_is_given():
    recipient = RecipientDocument.model_validate(
        with_contacts(push_tokens=tokens("fcm-token-0001", "fcm-token-0002"))
    ).for_recipient("ana", datetime.now(UTC))

    assert recipient.addresses(Channel.PUSH) == ["fcm-token-0001", "fcm-token-0002"]


def test_given_an_inline_address_when_resolving_then_it_wins_over_the_recipients():
    recipient = Recipient(recipient_id="ana", contacts=Contacts(email="ana@example.com"))

    assert addresses_for(envelope({Channel.EMAIL: "inline@example.com"}), Channel.EMAIL, recipient) == [
        "inline@example.com"
    ]


def test_given_a_recipient_already_read_when_resolving_then_its_contact_is_used():
    recipient = Recipient(recipient_id="ana", contacts=Contacts(email="ana@example.com"))

    assert addresses_for(envelope(), Channel.EMAIL, recipient) == ["ana@example.com"]


def test_given_no_such_recipient_when_resolving_then_delivery_fails_permanently():
    with pytest.raises(PermanentDeliveryError, match="unknown recipient 'ana'"):
        addresses_for(envelope(), Channel.EMAIL, None)


def test_given_a_recipient_without_an_address_on_the_channel_when_resolving_then_delivery_fails_permanently():
    recipient = Recipient(recipient_id="ana", contacts=Contacts(email="ana@example.com"))

    with pytest.raises(PermanentDeliveryError, match="has no sms address"):
        addresses_for(envelope(), Channel.SMS, recipient)


def test_given_a_recipient_without_any_contact_when_resolving_inapp_then_the_inbox_is_their_id():
    recipient = Recipient(recipient_id="ana")

    assert addresses_for(envelope(), Channel.INAPP, recipient) == ["ana"]
    assert recipient.addresses(Channel.INAPP) == ["ana"]


def test_given_no_stored_recipient_when_resolving_inapp_then_the_inbox_is_still_the_recipient_id():
    # The inbox is keyed by the id: a recipient who never stored a document still has one.
    assert addresses_for(envelope(), Channel.INAPP, None) == ["ana"]


def test_given_an_inline_address_for_another_channel_when_resolving_inapp_then_it_is_ignored():
    assert addresses_for(envelope({Channel.EMAIL: "inline@example.com"}), Channel.INAPP, None) == ["ana"]
