"""Scheduled notifications in the status table (moto, the template's table): SCHEDULED with its time,
released once when due, cancelled only while scheduled, and reported as they are otherwise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from notifier import runtime
from notifier.models.channels import Channel
from notifier.models.statuses import Status
from notifier.stores.status import StatusStore
from tests.factories import email_envelope

DUE = datetime(2026, 12, 24, 18, 30, tzinfo=UTC)


@pytest.fixture
def store(deployment) -> StatusStore:
    return runtime.status_store()


def test_a_scheduled_notification_shows_scheduled_with_its_time_until_released(store):
    envelope = email_envelope()

    store.schedule(envelope, DUE)

    email = store.get(envelope.notification_id).channels[Channel.EMAIL]
    assert (email.status, email.scheduled_for, email.attempts) == ("SCHEDULED", "2026-12-24T18:30:00.000Z", 0)
    assert store.release(envelope.notification_id, [Channel.EMAIL]) == [Channel.EMAIL]
    released = store.get(envelope.notification_id).channels[Channel.EMAIL]
    assert (released.status, released.scheduled_for) == ("ACCEPTED", "2026-12-24T18:30:00.000Z")
    # A release retried before any consumer took it publishes it again; once taken, never.
    assert store.release(envelope.notification_id, [Channel.EMAIL]) == [Channel.EMAIL]
    assert store.begin_attempt(envelope, Channel.EMAIL, lease_seconds=30).granted
    assert store.release(envelope.notification_id, [Channel.EMAIL]) == []


def test_a_request_sent_again_does_not_reschedule_or_reopen_its_notification(store):
    envelope = email_envelope()
    store.schedule(envelope, DUE)
    store.cancel(envelope.notification_id)

    store.schedule(envelope, DUE + timedelta(days=1))

    email = store.get(envelope.notification_id).channels[Channel.EMAIL]
    assert (email.status, email.scheduled_for) == ("CANCELLED", "2026-12-24T18:30:00.000Z")


def test_no_attempt_starts_on_a_scheduled_or_cancelled_notification(store):
    envelope = email_envelope()
    store.schedule(envelope, DUE)

    assert not store.begin_attempt(envelope, Channel.EMAIL, lease_seconds=30).granted
    store.cancel(envelope.notification_id)
    assert not store.begin_attempt(envelope, Channel.EMAIL, lease_seconds=30).granted
    assert store.release(envelope.notification_id, [Channel.EMAIL]) == []
    assert store.get(envelope.notification_id).channels[Channel.EMAIL].status == "CANCELLED"


def test_cancel_changes_only_what_is_still_scheduled_and_reports_the_rest_as_it_is(store):
    sent = email_envelope()
    store.accept(sent)
    store.begin_attempt(sent, Channel.EMAIL, lease_seconds=30)
    store.advance(sent.notification_id, Channel.EMAIL, Status.SENT, provider_message_id="sg-1")

    answer = store.cancel(sent.notification_id)

    assert answer.channels[Channel.EMAIL].status == "SENT"
    assert store.cancel("no-such-notification") is None
