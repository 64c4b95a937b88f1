"""The provider interface: what every vendor integration and the sandbox implement."""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import ClassVar

from notifier.errors import DeliveryError, TransientDeliveryError
from notifier.models.channels import Channel, Priority
from notifier.models.envelope import OutboundMessage
from notifier.platform.logs import log_keys, logger, record_keys
from notifier.platform.metrics import VENDOR_LATENCY, channel_metrics


@dataclass(frozen=True)
class Delivery:
    """One rendered message to one address."""

    notification_id: str
    address: str
    message: OutboundMessage
    priority: Priority
    correlation_id: str | None = None
    """The notification's, for the provider's log lines."""


class SentMessage(str):
    """A provider's message id, with the name of the provider that took the message (a channel with
    a fallback provider sends through either). Still a `str`: the id as the vendor gave it."""

    provider: str

    def __new__(cls, message_id: str, provider: str) -> SentMessage:
        sent = super().__new__(cls, message_id)
        sent.provider = provider
        return sent


Result = str | DeliveryError
"""The provider's message id, or why the message was not accepted."""

OnResult = Callable[[int, Result], None]
"""Told each delivery's result (its index in the batch) as soon as it is known."""


def _ignore(index: int, result: Result) -> None:
    pass


class Provider(ABC):
    """Sends rendered messages on one channel.

    `send` returns the vendor's message id. It raises `TransientDeliveryError` when trying again
    later may succeed and `PermanentDeliveryError` when it cannot; it never returns on failure.
    `send_batch` sends many at once and returns one result per delivery, in order: by default
    concurrently through a bounded pool of threads, so a batch of ten at 100 ms per vendor call takes
    about 100 ms. A vendor with a batch API overrides `_send_many`. `on_result(index, result)` is
    called as soon as each result is known (from the sending thread), so the caller can record a send
    before the rest of the batch is done: if the execution environment dies mid-batch, only the calls
    in flight at that moment are unrecorded.

    Each vendor call is timed (`VendorLatency`, by channel and priority, for every message of the
    call): here, each `send`; a provider with its own `_send_many` times its own calls
    (`observe_latency`).
    """

    name: ClassVar[str]

    def __init__(self, channel: Channel, *, max_concurrency: int = 10) -> None:
        self.channel = channel
        self.max_concurrency = max(1, max_concurrency)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    @abstractmethod
    def send(self, delivery: Delivery) -> str: ...

    def send_batch(self, deliveries: Sequence[Delivery], on_result: OnResult | None = None) -> list[Result]:
        """Every message id comes back as a `SentMessage` naming the provider that took it: this one,
        or, for a provider that hands messages on (a failover, a fault injector), the one it named."""
        told = on_result or _ignore

        def tell(index: int, result: Result) -> None:
            told(index, self._named(result))

        return [self._named(result) for result in self._send_many(deliveries, tell)]

    def _named(self, result: Result) -> Result:
        if isinstance(result, str) and not isinstance(result, SentMessage):
            return SentMessage(result, self.name)
        return result

    def _send_many(self, deliveries: Sequence[Delivery], on_result: OnResult) -> list[Result]:
        def one(index: int) -> Result:
            delivery = deliveries[index]
            with log_keys(
                **record_keys(
                    correlation_id=delivery.correlation_id,
                    notification_id=delivery.notification_id,
                    channel=self.channel,
                )
            ):
                result = self._result_of(delivery)
            on_result(index, result)
            return result

        if len(deliveries) <= 1:
            return [one(index) for index in range(len(deliveries))]
        return list(self.pool().map(one, range(len(deliveries))))

    def close(self) -> None:
        """Release what the provider holds (its threads), when it is replaced by a new one."""
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=False)
                self._pool = None

    def pool(self) -> ThreadPoolExecutor:
        """Threads kept for the life of the execution environment, not started per batch."""
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.max_concurrency, thread_name_prefix=f"{self.name}-send")
            return self._pool

    def _result_of(self, delivery: Delivery) -> Result:
        try:
            return self._timed_send(delivery)
        except DeliveryError as exc:
            return exc
        except Exception as exc:  # an SDK error nobody classified: retry this message, not the batch
            logger.exception("unexpected error from the provider; the message will be retried")
            return TransientDeliveryError(f"{self.name}: unexpected {type(exc).__name__}: {exc}")

    def _timed_send(self, delivery: Delivery) -> str:
        started = time.perf_counter()
        try:
            return self.send(delivery)
        finally:
            self.observe_latency([delivery], started)

    def observe_latency(self, deliveries: Sequence[Delivery], started: float) -> None:
        """Record the time since `started` (`time.perf_counter()`) as the latency of one vendor call
        that carried `deliveries`: one value for each of them, under its priority."""
        elapsed_ms = (time.perf_counter() - started) * 1000
        by_priority: dict[Priority, int] = {}
        for delivery in deliveries:
            by_priority[delivery.priority] = by_priority.get(delivery.priority, 0) + 1
        for priority, messages in by_priority.items():
            channel_metrics.observe(
                VENDOR_LATENCY, [elapsed_ms] * messages, channel=self.channel, priority=priority
            )


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP date (RFC 9110 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())
