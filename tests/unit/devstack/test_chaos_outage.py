"""`make chaos`'s provider-outage scenario: what it sends, how it reads the stack's outage lines, and how
it accounts for every accepted notification from the status rows and the sandbox's outbox."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from devstack.chaos import (
    PROVIDER_OUTAGE,
    Accepted,
    OutageResult,
    ProviderRow,
    Window,
    account_outage,
    breaker_events,
    outage_notification,
    outage_windows,
)
from devstack.faults import Faults, Outage
from devstack.outage import OUTAGE_BACK, OUTAGE_DOWN
from notifier.models.requests import PublishRequest

T0 = datetime(2026, 12, 3, 10, 0, 0, tzinfo=UTC)
DOWN = T0 + timedelta(seconds=20)
BACK = T0 + timedelta(seconds=45)
WINDOWS = {"sendgrid": Window("sendgrid", DOWN, BACK), "twilio": Window("twilio", DOWN, BACK)}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def entry(notification_id: str, channel: str, provider: str, sent_at: datetime) -> dict[str, Any]:
    return {
        "notification_id": notification_id,
        "channel": channel,
        "address": "a",
        "content": {},
        "provider_message_id": "m",
        "provider": provider,
        "sent_at": sent_at.isoformat(),
    }


def clean_run() -> tuple[list[Accepted], dict[tuple[str, str], ProviderRow], list[dict[str, Any]]]:
    """An e-mail and an SMS before the outage, during it (through the fallbacks), just after it (still
    the fallbacks: the breaker is open) and once the breaker closed (the primaries again)."""
    accepted: list[Accepted] = []
    rows: dict[tuple[str, str], ProviderRow] = {}
    outbox: list[dict[str, Any]] = []
    plan = [(5, "primary"), (30, "fallback"), (50, "fallback"), (90, "primary")]
    for when, kind in plan:
        for channel in ("email", "sms"):
            notification_id = f"{channel}-{when}"
            providers = PROVIDER_OUTAGE.primaries if kind == "primary" else PROVIDER_OUTAGE.fallbacks
            provider = providers[channel]
            accepted.append(Accepted(notification_id, channel, at(when)))
            rows[(notification_id, channel)] = ProviderRow("DELIVERED", provider)
            outbox.append(entry(notification_id, channel, provider, at(when + 0.5)))
    return accepted, rows, outbox


def test_a_clean_run_sends_everything_fails_over_during_the_outage_and_comes_back():
    accepted, rows, outbox = clean_run()

    account = account_outage(accepted, rows, outbox, WINDOWS, PROVIDER_OUTAGE)

    assert (account.accepted, account.sent, account.failed_over, account.lost, account.duplicates) == (
        8,
        8,
        4,
        0,
        0,
    )
    assert account.phases["before"] == {"primary": 2}
    assert account.phases["during"] == {"fallback": 2}
    assert account.phases["after"] == {"fallback": 2, "primary": 2}
    assert account.recovered == (2, 2)
    assert account.problems == []
    assert account.fields() == "accepted=8 sent=8 failed_over=4 lost=0 duplicates=0 primary_after=2/2"


def test_a_notification_without_a_status_or_failed_is_lost():
    accepted, rows, outbox = clean_run()
    del rows[("email-30", "email")]
    rows[("sms-30", "sms")] = ProviderRow("FAILED")
    rows[("sms-5", "sms")] = ProviderRow("DEAD_LETTERED", "sandbox-twilio")
    rows[("email-5", "email")] = ProviderRow("RETRYING")

    account = account_outage(accepted, rows, outbox, WINDOWS, PROVIDER_OUTAGE)

    assert (account.sent, account.lost, account.failed_over) == (4, 4, 2)
    assert account.phases["during"] == {"none": 2}
    assert "4 notifications lost" in account.problems


def test_a_notification_delivered_by_both_providers_is_a_duplicate():
    accepted, rows, outbox = clean_run()
    outbox.append(entry("email-30", "email", "sandbox-sendgrid", at(19)))  # and by the primary

    account = account_outage(accepted, rows, outbox, WINDOWS, PROVIDER_OUTAGE)

    assert account.duplicates == 1
    assert account.primary_in_outage == 0  # before it went down
    assert "1 duplicate deliveries" in account.problems


def test_a_send_by_a_primary_while_it_was_down_is_found_after_the_grace():
    accepted, rows, outbox = clean_run()
    outbox.append(entry("x-1", "email", "sandbox-sendgrid", DOWN + timedelta(seconds=0.5)))  # under way
    outbox.append(entry("x-2", "sms", "sandbox-twilio", DOWN + timedelta(seconds=10)))
    outbox.append(entry("x-3", "email", "sandbox-ses", DOWN + timedelta(seconds=10)))  # the fallback
    outbox.append(entry("x-4", "sms", "sandbox-twilio", BACK))  # back

    account = account_outage(accepted, rows, outbox, WINDOWS, PROVIDER_OUTAGE)

    assert account.primary_in_outage == 1
    assert any("while it was down" in p for p in account.problems)


def test_a_run_where_nothing_failed_over_proved_nothing():
    accepted, rows, outbox = clean_run()
    for key, row in rows.items():
        rows[key] = ProviderRow(row.status, PROVIDER_OUTAGE.primaries[key[1]])

    account = account_outage(accepted, rows, outbox, WINDOWS, PROVIDER_OUTAGE)

    assert account.failed_over == 0
    assert "nothing failed over: the outage proved nothing" in account.problems


def test_a_breaker_that_never_closed_is_found_in_the_last_notifications():
    accepted, rows, outbox = clean_run()
    rows[("sms-90", "sms")] = ProviderRow("DELIVERED", "sandbox-eum")

    account = account_outage(accepted, rows, outbox, WINDOWS, PROVIDER_OUTAGE)

    assert account.recovered == (1, 2)
    assert any("its breaker did not close" in p for p in account.problems)
    assert account.lost == 0


def test_nothing_published_once_the_breaker_should_have_closed_is_a_problem():
    accepted, rows, outbox = clean_run()
    early = [a for a in accepted if a.at < at(80)]

    account = account_outage(early, rows, outbox, WINDOWS, PROVIDER_OUTAGE)

    assert account.recovered == (0, 0)
    assert any("nothing was published once" in p for p in account.problems)


def test_without_the_outage_logged_every_notification_counts_as_before_it():
    accepted, rows, outbox = clean_run()

    account = account_outage(accepted, rows, outbox, {}, PROVIDER_OUTAGE)

    assert sum(account.phases["before"].values()) == 8
    result = OutageResult(
        PROVIDER_OUTAGE.name, account, 1.0, 0, 0, {}, breaker_events(""), 0, statuses=Counter()
    )
    assert any("outage windows were not all logged" in p for p in result.problems)


def test_the_harness_reads_the_outage_lines_as_the_stack_writes_them():
    log = (
        "[local] something\n"
        + OUTAGE_DOWN.format(provider="sendgrid", start=20, end=45, at=DOWN.isoformat())
        + '{"level":"INFO"}'
        + OUTAGE_DOWN.format(provider="twilio", start=20, end=45, at=DOWN.isoformat())
        + "\n"
        + OUTAGE_BACK.format(provider="sendgrid", start=20, end=45, at=BACK.isoformat())
        + "\n"
    )

    assert outage_windows(log) == {
        "sendgrid": Window("sendgrid", DOWN, BACK),
        "twilio": Window("twilio", DOWN, None),
    }


def test_the_scenario_takes_down_both_primaries_in_the_middle_of_the_run():
    faults = Faults.parse(PROVIDER_OUTAGE.chaos)

    assert faults.outages == (Outage("sendgrid", 20, 45), Outage("twilio", 20, 45))
    scenario = PROVIDER_OUTAGE
    assert 0 < scenario.start < scenario.end < scenario.publish_seconds
    # Shorter than the cool-down, so the breaker's first probe comes after it; and notifications still
    # published once the breaker has closed.
    assert scenario.end - scenario.start < scenario.breaker_cooldown_seconds
    assert scenario.end + scenario.recovered_after + 10 <= scenario.publish_seconds
    assert "EmailProviders=sendgrid,ses" in scenario.overrides
    assert "SmsProviders=twilio,eum" in scenario.overrides


def test_the_scenario_publishes_valid_email_and_sms_at_both_priorities():
    drawn = [outage_notification(i) for i in range(8)]

    for request in drawn:
        PublishRequest.model_validate(request)
    assert {(n["type"], n["priority"]) for n in drawn} == {
        (c, p) for c in ("email", "sms") for p in ("critical", "standard")
    }


def test_breaker_events_are_read_from_the_consumers_log_lines():
    log = (
        '{"message":"the primary provider\'s breaker opened: sending through the fallback"}\n'
        '{"message":"the primary provider is back"}\n'
        '{"message":"the primary provider\'s breaker opened: sending through the fallback"}\n'
    )

    assert breaker_events(log) == {"opened": 2, "closed": 1}
