"""A channel with a primary and a fallback provider: which messages are handed on, and which never."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import pytest

from notifier.errors import (
    DeliveryError,
    PermanentDeliveryError,
    ProviderUnavailableError,
    RouteUnavailableError,
    TransientDeliveryError,
)
from notifier.models.channels import Channel, Priority
from notifier.models.envelope import SmsMessage
from notifier.providers.base import Delivery, Provider, SentMessage
from notifier.providers.failover import FailoverProvider
from notifier.stores.breakers import BreakerState

Answer = Callable[[Delivery], str | DeliveryError]


class Scripted(Provider):
    """Answers each delivery as `answer` says, and remembers every address it was asked to send."""

    def __init__(self, name: str, answer: Answer) -> None:
        super().__init__(Channel.SMS)
        self.name = name  # type: ignore[misc]
        self.answer = answer
        self.asked: list[str] = []

    def send(self, delivery: Delivery) -> str:
        self.asked.append(delivery.address)
        result = self.answer(delivery)
        if isinstance(result, DeliveryError):
            raise result
        return result


def sends(delivery: Delivery) -> str:
    return f"id-{delivery.address}"


def down(delivery: Delivery) -> DeliveryError:
    return ProviderUnavailableError("503 Service Unavailable")


def deliveries(*addresses: str) -> list[Delivery]:
    return [Delivery(f"n-{a}", a, SmsMessage(text="hi"), Priority.STANDARD) for a in addresses]


class FakeBreakers:
    """A breaker store in memory: its state, and what was written to it."""

    def __init__(self, state: BreakerState = BreakerState.CLOSED, *, probe: bool = True) -> None:
        self.current = state
        self.probe = probe
        self.failures: list[int] = []
        self.closed = self.reopened = 0

    def state(self, key: str, now: datetime) -> BreakerState:
        return self.current

    def try_probe(self, key: str, now: datetime) -> bool:
        return self.probe

    def record_failures(self, key: str, count: int, now: datetime) -> bool:
        self.failures.append(count)
        return sum(self.failures) >= 5

    def close(self, key: str) -> bool:
        self.closed += 1
        return True

    def reopen(self, key: str, now: datetime) -> bool:
        self.reopened += 1
        return True


def failover(primary: Provider, fallback: Provider, breakers: FakeBreakers | None = None) -> FailoverProvider:
    return FailoverProvider(
        primary,
        fallback,
        breakers=breakers,
        clock=lambda: datetime(2026, 12, 3, tzinfo=UTC),  # type: ignore[arg-type]
    )


def providers_of(results: Sequence[object]) -> list[str | None]:
    return [r.provider if isinstance(r, SentMessage) else None for r in results]


def test_messages_the_primary_could_not_take_go_to_the_fallback_once_and_say_who_sent_them():
    primary = Scripted("twilio", lambda d: down(d) if d.address.startswith("+1") else sends(d))
    fallback = Scripted("eum", sends)
    told: dict[int, object] = {}

    results = failover(primary, fallback).send_batch(deliveries("+100", "+200", "+101"), told.__setitem__)

    assert providers_of(results) == ["eum", "twilio", "eum"]
    assert results == ["id-+100", "id-+200", "id-+101"]
    assert primary.asked == ["+100", "+200", "+101"]
    assert fallback.asked == ["+100", "+101"]  # each message, each provider, at most once
    assert sorted(told) == [0, 1, 2]
    assert told == dict(enumerate(results))


@pytest.mark.parametrize(
    "error",
    [
        PermanentDeliveryError("21211 invalid 'To'"),  # a bad address is bad everywhere
        ProviderUnavailableError("read timed out", maybe_sent=True),  # the primary may have sent it
        TransientDeliveryError("rate limited", retry_after_seconds=2),  # within the budget: wait
    ],
)
def test_what_the_message_itself_failed_or_the_primary_may_have_sent_is_never_handed_on(error):
    primary = Scripted("twilio", lambda d: error)
    fallback = Scripted("eum", sends)

    [result] = failover(primary, fallback).send_batch(deliveries("+100"))

    assert result is error
    assert fallback.asked == []


@pytest.mark.parametrize(
    "error",
    [
        RouteUnavailableError("21408 region not enabled"),
        TransientDeliveryError("rate limited for an hour", retry_after_seconds=3600),
    ],
)
def test_a_route_the_primary_cannot_serve_or_a_long_rate_limit_is_handed_on(error):
    primary = Scripted("twilio", lambda d: error)
    fallback = Scripted("eum", sends)

    assert providers_of(failover(primary, fallback).send_batch(deliveries("+100"))) == ["eum"]


def test_when_both_cannot_send_the_fallbacks_answer_is_final_and_the_message_waits_for_a_retry():
    primary = Scripted("twilio", down)
    fallback = Scripted("eum", lambda d: ProviderUnavailableError("eum 500"))

    [result] = failover(primary, fallback).send_batch(deliveries("+100"))

    assert isinstance(result, TransientDeliveryError)
    assert "eum" in result.reason
    assert (primary.asked, fallback.asked) == (["+100"], ["+100"])


def test_the_primarys_provider_level_failures_count_against_its_breaker_and_route_errors_do_not():
    breakers = FakeBreakers()
    answers = {"+1": down, "+2": lambda d: RouteUnavailableError("region"), "+3": sends}
    primary = Scripted("twilio", lambda d: answers[d.address[:2]](d))

    failover(primary, Scripted("eum", sends), breakers).send_batch(deliveries("+10", "+11", "+20", "+30"))

    assert breakers.failures == [2]


def test_an_open_breaker_sends_through_the_fallback_without_calling_the_primary():
    breakers = FakeBreakers(BreakerState.OPEN)
    primary, fallback = Scripted("twilio", sends), Scripted("eum", sends)

    results = failover(primary, fallback, breakers).send_batch(deliveries("+100", "+200"))

    assert providers_of(results) == ["eum", "eum"]
    assert primary.asked == []


def test_with_the_fallback_down_too_an_open_breaker_still_lets_the_primary_try():
    breakers = FakeBreakers(BreakerState.OPEN)
    primary, fallback = Scripted("twilio", sends), Scripted("eum", down)

    assert providers_of(failover(primary, fallback, breakers).send_batch(deliveries("+100"))) == ["twilio"]


def test_the_probe_closes_the_breaker_when_the_primary_sends_and_reopens_it_when_it_does_not():
    healthy = FakeBreakers(BreakerState.HALF_OPEN)
    assert providers_of(
        failover(Scripted("twilio", sends), Scripted("eum", sends), healthy).send_batch(deliveries("+1"))
    ) == ["twilio"]
    assert (healthy.closed, healthy.reopened) == (1, 0)

    still_down = FakeBreakers(BreakerState.HALF_OPEN)
    results = failover(Scripted("twilio", down), Scripted("eum", sends), still_down).send_batch(
        deliveries("+1")
    )
    assert providers_of(results) == ["eum"]
    assert (still_down.closed, still_down.reopened) == (0, 1)


def test_an_environment_that_loses_the_probe_keeps_to_the_fallback():
    breakers = FakeBreakers(BreakerState.HALF_OPEN, probe=False)
    primary = Scripted("twilio", sends)

    assert providers_of(failover(primary, Scripted("eum", sends), breakers).send_batch(deliveries("+1"))) == [
        "eum"
    ]
    assert primary.asked == []
