"""Backoff: exponential, full jitter, capped, honouring Retry-After."""

from __future__ import annotations

import random

import pytest

from notifier.delivery.backoff import SQS_MAX_VISIBILITY_SECONDS, Backoff

ALMOST_ONE = 1 - 1e-12


def test_the_longest_wait_doubles_with_each_attempt_until_the_cap():
    backoff = Backoff(base_seconds=10, cap_seconds=300, draw=lambda: ALMOST_ONE)

    delays = [backoff.delay(attempt) for attempt in range(1, 9)]

    assert delays == [10, 20, 40, 80, 160, 300, 300, 300]


def test_full_jitter_spreads_waits_over_the_whole_interval():
    draws = random.Random(7)  # noqa: S311 - jitter, not secrets
    backoff = Backoff(base_seconds=10, cap_seconds=300, draw=draws.random)

    delays = [backoff.delay(4) for _ in range(2000)]

    assert min(delays) <= 2
    assert max(delays) == 80
    assert 35 <= sum(delays) / len(delays) <= 45  # uniform over [0, 80]: mean 40, rounded up


@pytest.mark.parametrize("draw", [0.0, 0.5, ALMOST_ONE])
def test_a_vendors_retry_after_is_waited_at_least(draw):
    backoff = Backoff(base_seconds=1, cap_seconds=300, draw=lambda: draw)

    assert backoff.delay(1, retry_after_seconds=42.2) == 43


def test_no_wait_is_longer_than_the_cap_whatever_the_vendor_asks():
    backoff = Backoff(base_seconds=10, cap_seconds=300, draw=lambda: ALMOST_ONE)

    assert backoff.delay(1, retry_after_seconds=3600) == 300
    assert backoff.delay(500) == 300


def test_no_wait_is_longer_than_sqs_allows():
    backoff = Backoff(base_seconds=60, cap_seconds=10**6, draw=lambda: ALMOST_ONE)

    assert backoff.delay(30) == SQS_MAX_VISIBILITY_SECONDS


def test_a_zero_base_retries_at_once():
    assert Backoff(base_seconds=0, cap_seconds=300).delay(3) == 0


def test_the_documented_bound_to_the_dead_letter_queue_holds_for_the_defaults():
    # MaxReceiveCount 6, RetryMaxSeconds 300, ConsumerTimeoutSeconds 20 (template defaults).
    assert Backoff(10, 300).longest_time_to_dead_letter(6, 20) == 5 * (300 + 20) + 20
