"""A channel with two providers: the primary, and a fallback for when the primary cannot send.

Per batch (`send_batch`):

1. **Which provider first.** The primary's circuit breaker (`notifier.stores.breakers`) is read once:
   closed, the primary goes first; open, the fallback goes first (the primary is not called until its
   cool-down is over); half-open, the environment that wins the probe tries the primary, the others
   the fallback. No breaker (or one that cannot be read): the primary.
2. **Send** every message through the first provider. Its results are passed on as they come, but
   for the messages another provider may send instead:
   - `ProviderUnavailableError` when nothing was taken (its 5xx, a refused connection, an account or
     credential error, a quota): the provider's fault, not the message's;
   - `RouteUnavailableError`: this provider cannot serve this recipient (an SMS country it is not
     enabled for); another may;
   - a rate limit whose `Retry-After` is longer than the budget.
3. **Hand those to the other provider**, in one `send_batch`. Its results are final, whatever they
   are: a message is sent by each provider at most once per attempt, and a message the other cannot
   send either waits for SQS's next delivery.

Never handed on: a message the first provider may have taken (a read timeout: `maybe_sent`), since
both could then send it; it is retried, through whichever provider the breaker then points to. And a
message the provider refused for what it is (a bad address, rejected content): another provider
would refuse it too.

The breaker counts each provider's provider-level failures (timeouts included, route errors not) in
one write per batch, and opens after `BreakerPolicy.failures` within its window. Metrics, by channel
and provider: `ProviderFailures`, `ProviderFailovers` (messages handed on), `ProviderBreakerOpened`
and `ProviderBreakerClosed`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from botocore.exceptions import BotoCoreError, ClientError

from notifier.errors import ProviderUnavailableError, RouteUnavailableError, TransientDeliveryError
from notifier.platform.logs import logger
from notifier.platform.metrics import (
    BREAKER_CLOSED,
    BREAKER_OPENED,
    PROVIDER_FAILOVERS,
    PROVIDER_FAILURES,
    count_provider,
)
from notifier.providers.base import Delivery, OnResult, Provider, Result
from notifier.stores.breakers import BreakerState, BreakerStore, breaker_key


def provider_level(result: Result, *, rate_limit_budget_seconds: float) -> bool:
    """Whether `result` is the provider's failure (counted against its breaker)."""
    if isinstance(result, ProviderUnavailableError):
        return True
    return _long_rate_limit(result, rate_limit_budget_seconds)


def handed_on(result: Result, *, rate_limit_budget_seconds: float) -> bool:
    """Whether another provider may send the message instead, in this attempt."""
    if isinstance(result, ProviderUnavailableError):
        return not result.maybe_sent
    if isinstance(result, RouteUnavailableError):
        return True
    return _long_rate_limit(result, rate_limit_budget_seconds)


def _long_rate_limit(result: Result, budget: float) -> bool:
    return (
        type(result) is TransientDeliveryError
        and result.retry_after_seconds is not None
        and result.retry_after_seconds > budget
    )


class FailoverProvider(Provider):
    name = "failover"

    def __init__(
        self,
        primary: Provider,
        fallback: Provider,
        *,
        breakers: BreakerStore | None = None,
        rate_limit_budget_seconds: float = 30.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__(primary.channel, max_concurrency=primary.max_concurrency)
        self.primary = primary
        self.fallback = fallback
        self.breakers = breakers
        self.rate_limit_budget_seconds = rate_limit_budget_seconds
        self.clock = clock

    def send(self, delivery: Delivery) -> str:
        [result] = self.send_batch([delivery])
        if isinstance(result, Exception):
            raise result
        return result

    def close(self) -> None:
        self.primary.close()
        self.fallback.close()
        super().close()

    def _send_many(self, deliveries: Sequence[Delivery], on_result: OnResult) -> list[Result]:
        first, second, probing = self._order()
        results: list[Result | None] = [None] * len(deliveries)
        again: list[int] = []
        lock = threading.Lock()

        def from_first(index: int, result: Result) -> None:
            if handed_on(result, rate_limit_budget_seconds=self.rate_limit_budget_seconds):
                with lock:
                    again.append(index)
                    results[index] = result
                return
            results[index] = result
            on_result(index, result)

        first.send_batch(deliveries, from_first)
        self._account(first, [results[i] for i in range(len(deliveries))], probing=probing)
        if again:
            again.sort()
            count_provider(PROVIDER_FAILOVERS, channel=self.channel, provider=first.name, value=len(again))
            logger.warning(
                "handing messages to the other provider",
                extra={"from": first.name, "to": second.name, "messages": len(again)},
            )

            def from_second(position: int, result: Result) -> None:
                index = again[position]
                results[index] = result
                on_result(index, result)

            second.send_batch([deliveries[i] for i in again], from_second)
            self._account(second, [results[i] for i in again], probing=False)
        return [result for result in results if result is not None]

    def _order(self) -> tuple[Provider, Provider, bool]:
        """The provider to try first, the other, and whether this batch is the primary's probe."""
        if self.breakers is None:
            return self.primary, self.fallback, False
        key = breaker_key(self.channel.value, self.primary.name)
        now = self.clock()
        try:
            state = self.breakers.state(key, now)
            if state is BreakerState.CLOSED:
                return self.primary, self.fallback, False
            if state is BreakerState.HALF_OPEN and self.breakers.try_probe(key, now):
                logger.info("probing the primary provider", extra={"provider": self.primary.name})
                return self.primary, self.fallback, True
        except (BotoCoreError, ClientError):
            logger.warning("could not read the provider's breaker; trying the primary", exc_info=True)
            return self.primary, self.fallback, False
        return self.fallback, self.primary, False

    def _account(self, provider: Provider, results: Sequence[Result | None], *, probing: bool) -> None:
        """Count the provider's provider-level failures against its breaker (one write), and settle a
        probe: closed when the primary sent, opened again when it failed."""
        failures = sum(
            provider_level(r, rate_limit_budget_seconds=self.rate_limit_budget_seconds)
            for r in results
            if r is not None
        )
        if failures:
            count_provider(PROVIDER_FAILURES, channel=self.channel, provider=provider.name, value=failures)
        if self.breakers is None or provider is not self.primary:
            return
        key = breaker_key(self.channel.value, provider.name)
        now = self.clock()
        try:
            if probing:
                if failures:
                    self.breakers.reopen(key, now)
                elif any(isinstance(r, str) for r in results) and self.breakers.close(key):
                    count_provider(BREAKER_CLOSED, channel=self.channel, provider=provider.name)
                    logger.info("the primary provider is back", extra={"provider": provider.name})
            elif failures and self.breakers.record_failures(key, failures, now):
                count_provider(BREAKER_OPENED, channel=self.channel, provider=provider.name)
                logger.warning(
                    "the primary provider's breaker opened: sending through the fallback",
                    extra={"provider": provider.name, "fallback": self.fallback.name},
                )
        except (BotoCoreError, ClientError):
            logger.warning("could not update the provider's breaker", exc_info=True)
