"""The providers' circuit breakers in DynamoDB (moto), shared by execution environments: failures
counted in a sliding window across them, opened once, one probe at a time, closed by the prober."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from notifier.stores.breakers import BreakerPolicy, BreakerState, BreakerStore, breaker_key

POLICY = BreakerPolicy(failures=5, window_seconds=60, cooldown_seconds=30, probe_lease_seconds=10)
KEY = breaker_key("email", "sendgrid")
T0 = datetime(2026, 12, 3, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def environments() -> Iterator[tuple[BreakerStore, BreakerStore]]:
    """Two execution environments' stores on one table."""
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="breakers",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield BreakerStore("breakers", client, POLICY), BreakerStore("breakers", client, POLICY)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_failures_from_two_environments_add_up_and_only_one_opens_the_breaker(environments):
    a, b = environments
    assert a.state(KEY, at(0)) is BreakerState.CLOSED

    assert a.record_failures(KEY, 2, at(1)) is False
    assert b.record_failures(KEY, 2, at(2)) is False
    assert a.record_failures(KEY, 1, at(3)) is True  # the fifth within the window
    assert b.record_failures(KEY, 5, at(4)) is False  # open already: not opened twice

    assert a.state(KEY, at(5)) is BreakerState.OPEN
    assert b.state(KEY, at(3 + POLICY.cooldown_seconds + 1)) is BreakerState.HALF_OPEN


def test_failures_spread_wider_than_the_window_do_not_open_it(environments):
    a, _ = environments
    for minute in range(6):
        assert a.record_failures(KEY, 1, at(minute * 90)) is False
    assert a.state(KEY, at(600)) is BreakerState.CLOSED


def test_one_environment_probes_at_a_time_and_another_takes_over_a_probe_that_died(environments):
    a, b = environments
    a.record_failures(KEY, 5, at(0))
    cooled = POLICY.cooldown_seconds + 1

    assert a.try_probe(KEY, at(10)) is False  # still cooling down
    assert a.try_probe(KEY, at(cooled)) is True
    assert b.try_probe(KEY, at(cooled + 1)) is False  # a's probe is under way
    assert b.try_probe(KEY, at(cooled + POLICY.probe_lease_seconds + 1)) is True  # a's lease ran out
    assert a.close(KEY) is False  # no longer a's probe: a cannot close it
    assert b.close(KEY) is True
    assert a.state(KEY, at(cooled + 20)) is BreakerState.CLOSED


def test_a_failed_probe_opens_the_breaker_for_another_cool_down(environments):
    a, _ = environments
    a.record_failures(KEY, 5, at(0))
    cooled = POLICY.cooldown_seconds + 1
    assert a.try_probe(KEY, at(cooled))

    assert a.reopen(KEY, at(cooled)) is True

    assert a.state(KEY, at(cooled + 1)) is BreakerState.OPEN
    assert a.state(KEY, at(cooled + POLICY.cooldown_seconds + 1)) is BreakerState.HALF_OPEN
