"""The provider wrapper that injects `Faults` (see `devstack.faults`); imported once the common layer
is on the path."""

from __future__ import annotations

import contextlib
import random
import sys
import threading
import time
from collections.abc import Sequence

from notifier.providers import Delivery, OnResult, Provider, Result

from .faults import Faults


class SimulatedCrashError(RuntimeError):
    """The execution environment 'died' mid-batch."""


class FaultyProvider(Provider):
    """`inner`, with `faults` injected into its batches."""

    def __init__(self, inner: Provider, faults: Faults, *, timeout_seconds: float) -> None:
        super().__init__(inner.channel, max_concurrency=inner.max_concurrency)
        self.inner = inner
        self.name = inner.name  # type: ignore[misc]  # the same vendor, as far as anyone can tell
        self.faults = faults
        self.timeout_seconds = timeout_seconds
        self._random = random.Random(faults.seed)  # noqa: S311 - injected faults, not secrets
        self._lock = threading.Lock()
        self.crashes = 0
        self.timeouts = 0

    def send(self, delivery: Delivery) -> str:
        return self.inner.send(delivery)

    def _send_many(self, deliveries: Sequence[Delivery], on_result: OnResult) -> list[Result]:
        with self._lock:
            draw = self._random.random()
            point = self._random.randrange(len(deliveries)) if deliveries else 0
        fault = None
        if draw < self.faults.crash_rate:
            fault = "crash"
        elif draw < self.faults.crash_rate + self.faults.timeout_rate:
            fault = "timeout"
        if fault is None or not deliveries:
            return self.inner.send_batch(deliveries, on_result)
        self.inner.send_batch(deliveries[:point], on_result)
        unheard = deliveries[point]
        with contextlib.suppress(Exception):  # a failed last send changes nothing about the crash
            self.inner.send(unheard)  # the vendor takes it; nobody hears the answer
        # For `make chaos`: which send may come again, so each duplicate can be traced to its fault.
        sys.stderr.write(  # one write, so that lines from several threads do not interleave
            f"[chaos] injected {fault}: {self.channel.value} {unheard.notification_id} sent, not recorded\n"
        )
        with self._lock:
            if fault == "crash":
                self.crashes += 1
            else:
                self.timeouts += 1
        if fault == "timeout":
            time.sleep(self.timeout_seconds + 0.5)
        raise SimulatedCrashError(f"injected {fault} after {point + 1} of {len(deliveries)} sends")

    def close(self) -> None:
        self.inner.close()
        super().close()
