"""RecipientStore against moto, with the table shaped as template.yaml's RecipientsTable."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest
from moto import mock_aws

from notifier.errors import RecipientConflictError
from notifier.models.recipients import Contacts, PushToken, Recipient, RecipientDocument
from notifier.stores.recipients import RecipientStore

TABLE = "recipients"
PHONE = PushToken(token="fcm-token-phone-0001", platform="android")
TABLET = PushToken(token="fcm-token-tablet-0002", platform="android")
LAPTOP = PushToken(token="web-token-laptop-0003", platform="web")


@pytest.fixture
def store() -> Iterator[RecipientStore]:
    with mock_aws():
        client = boto3.client("dynamodb")
        client.create_table(
            TableName=TABLE,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "recipient_id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "recipient_id", "KeyType": "HASH"}],
        )
        yield RecipientStore(TABLE, client)


def ana(*devices: PushToken, email: str = "ana@example.com") -> Recipient:
    return RecipientDocument(
        contacts=Contacts(email=email, push_tokens=list(devices)), timezone="Europe/Madrid"
    ).for_recipient("ana", datetime(2026, 3, 1, 9, 30, tzinfo=UTC))


class ChangedBetweenReadAndWrite(RecipientStore):
    """A store whose first reads are each followed by another writer's change, as in a lost race."""

    def __init__(self, store: RecipientStore, *changes: Recipient | None) -> None:
        super().__init__(store.table, store.client)
        self.other_writer = store
        self.changes = list(changes)

    def _read(self, recipient_id: str, *, consistent: bool) -> str | None:
        read = super()._read(recipient_id, consistent=consistent)
        if self.changes:
            change = self.changes.pop(0)
            if change is None:
                self.other_writer.delete(recipient_id)
            else:
                self.other_writer.put(change)
        return read


# --------------------------------------------------------------------------------------------
# put, get, delete
# --------------------------------------------------------------------------------------------


def test_given_a_new_recipient_when_put_then_it_was_created(store):
    assert store.put(ana()) is True


def test_given_an_existing_recipient_when_put_again_then_it_replaced_the_old_one(store):
    store.put(ana(email="old@example.com"))

    assert store.put(ana(email="new@example.com")) is False
    assert store.get("ana").contacts.email == "new@example.com"


def test_given_a_stored_recipient_when_got_then_it_is_equal_to_what_was_put(store):
    recipient = RecipientDocument.model_validate(
        {
            "contacts": {"email": "ana@example.com", "phone": "+34600000000", "push_tokens": [dict(PHONE)]},
            "locale": "es-ES",
            "timezone": "Europe/Madrid",
            "preferences": {
                "opt_out": {"channels": ["sms"], "event_types": ["LIKE"]},
                "quiet_hours": {"start": "22:00", "end": "07:30"},
            },
        }
    ).for_recipient("ana", datetime(2026, 3, 1, 9, 30, tzinfo=UTC))
    store.put(recipient)

    assert store.get("ana") == recipient


def test_given_no_such_recipient_when_got_then_none(store):
    assert store.get("nobody") is None


def test_given_a_stored_recipient_when_deleted_then_true_and_it_is_gone(store):
    store.put(ana())

    assert store.delete("ana") is True
    assert store.get("ana") is None


def test_given_no_such_recipient_when_deleted_then_false(store):
    assert store.delete("nobody") is False


# --------------------------------------------------------------------------------------------
# remove_push_token
# --------------------------------------------------------------------------------------------


def test_given_several_devices_when_one_token_is_removed_then_only_that_one_goes(store):
    store.put(ana(PHONE, TABLET))

    assert store.remove_push_token("ana", PHONE.token) is True
    assert store.get("ana").contacts.push_tokens == [TABLET]


def test_given_a_token_removed_when_read_back_then_the_rest_of_the_document_is_kept_and_marked_changed(store):
    before = ana(PHONE, TABLET)
    store.put(before)

    store.remove_push_token("ana", PHONE.token)

    after = store.get("ana")
    assert (after.contacts.email, after.timezone) == (before.contacts.email, before.timezone)
    assert after.updated_at > before.updated_at


def test_given_an_unknown_token_when_removed_then_false_and_nothing_changes(store):
    store.put(ana(PHONE))

    assert store.remove_push_token("ana", "fcm-token-unknown-9999") is False
    assert store.get("ana") == ana(PHONE)


def test_given_no_such_recipient_when_a_token_is_removed_then_false_and_no_recipient_appears(store):
    assert store.remove_push_token("nobody", PHONE.token) is False
    assert store.get("nobody") is None


def test_given_a_device_added_meanwhile_when_a_token_is_removed_then_it_retries_keeping_the_device(store):
    store.put(ana(PHONE, TABLET))
    racing = ChangedBetweenReadAndWrite(store, ana(PHONE, TABLET, LAPTOP))

    assert racing.remove_push_token("ana", PHONE.token) is True
    assert store.get("ana").contacts.push_tokens == [TABLET, LAPTOP]


def test_given_the_recipient_deleted_meanwhile_when_a_token_is_removed_then_false_and_it_stays_deleted(store):
    store.put(ana(PHONE, TABLET))
    racing = ChangedBetweenReadAndWrite(store, None)

    assert racing.remove_push_token("ana", PHONE.token) is False
    assert store.get("ana") is None


def test_given_a_recipient_that_keeps_changing_when_a_token_is_removed_then_it_gives_up_unwritten(store):
    store.put(ana(PHONE))
    changes = [ana(PHONE, email=f"ana+{i}@example.com") for i in range(RecipientStore.REMOVE_ATTEMPTS)]
    racing = ChangedBetweenReadAndWrite(store, *changes)

    with pytest.raises(RecipientConflictError):
        racing.remove_push_token("ana", PHONE.token)
    assert store.get("ana") == changes[-1]


def test_given_many_ids_when_read_together_then_the_existing_ones_come_back_and_the_others_are_absent(store):
    for i in range(150):
        store.put(Recipient(recipient_id=f"user-{i}", contacts=Contacts(email=f"user-{i}@example.com")))
    wanted = [f"user-{i}" for i in range(0, 150, 2)] + ["nobody", "user-0"]

    found = store.get_many(wanted)

    assert set(found) == {f"user-{i}" for i in range(0, 150, 2)}
    assert found["user-42"].contacts.email == "user-42@example.com"


def test_given_no_ids_when_read_together_then_nothing_is_asked(store):
    assert store.get_many([]) == {}
