"""The provider wrapper that takes a provider down for the windows of `--chaos outage=...` (see
`devstack.faults`); imported once the common layer is on the path.

`OutageProvider` wraps the sandbox that plays one provider (`sandbox-sendgrid`, ...) and is put in
the provider's place with `vendors.use_named_provider`, so a channel with a fallback still goes
through its `FailoverProvider` and circuit breaker. Inside a window every send fails as an
unreachable provider's does, before anything is sent: `ProviderUnavailableError(maybe_sent=False)`,
nothing in the outbox. Outside them it is the sandbox.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from notifier.errors import ProviderUnavailableError
from notifier.providers import Delivery, OnResult, Provider, Result

from .faults import Outage

OUTAGE_DOWN = "[chaos] outage: {provider} down ({start:g}-{end:g} s) at {at}"
OUTAGE_BACK = "[chaos] outage: {provider} back ({start:g}-{end:g} s) at {at}"
"""The log lines of a window's start and end, once each, `at` the moment (UTC, ISO 8601) it was
noted (`make chaos` reads them)."""


def _stderr(line: str) -> None:
    sys.stderr.write(line + "\n")  # one write, so that lines from several threads do not interleave
    sys.stderr.flush()


class OutageWindows:
    """The windows `outages` of one provider, in seconds since `started` (a `clock()` reading): which
    covers now, and each start and end logged once as it is passed (or, with `watch`, as it comes)."""

    def __init__(
        self,
        outages: Sequence[Outage],
        *,
        started: float,
        provider: str,
        clock: Callable[[], float] = time.monotonic,
        log: Callable[[str], None] = _stderr,
    ) -> None:
        self.outages = tuple(sorted(outages, key=lambda o: (o.start, o.end)))
        self.started = started
        self.provider = provider
        """The provider the windows are of, as `--chaos` names it (`sendgrid`)."""
        self.clock = clock
        self.log = log
        self._logged: set[tuple[int, bool]] = set()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._watcher: threading.Thread | None = None

    def elapsed(self) -> float:
        return self.clock() - self.started

    def down(self) -> Outage | None:
        """The window the provider is down in now, if any (and each start or end passed, logged)."""
        elapsed = self.elapsed()
        self.note(elapsed)
        return next((outage for outage in self.outages if outage.covers(elapsed)), None)

    def note(self, elapsed: float | None = None) -> None:
        """Log the start and the end of every window that `elapsed` has passed, each once."""
        elapsed = self.elapsed() if elapsed is None else elapsed
        now = datetime.now(UTC).isoformat()
        lines = []
        with self._lock:
            for index, outage in enumerate(self.outages):
                for back, at, line in ((False, outage.start, OUTAGE_DOWN), (True, outage.end, OUTAGE_BACK)):
                    if elapsed >= at and (index, back) not in self._logged:
                        self._logged.add((index, back))
                        lines.append(
                            line.format(provider=self.provider, start=outage.start, end=outage.end, at=now)
                        )
        for line in lines:
            self.log(line)

    def watch(self) -> None:
        """Log each start and end when it comes, whether or not anything is being sent then (a
        thread, until the last window ends or `close`)."""
        if self._watcher is not None or not self.outages:
            return

        def run() -> None:
            for at in sorted({moment for o in self.outages for moment in (o.start, o.end)}):
                if self._closed.wait(max(0.0, at - self.elapsed())):
                    return
                self.note()

        self._watcher = threading.Thread(target=run, name=f"outage-{self.provider}", daemon=True)
        self._watcher.start()

    def close(self) -> None:
        self._closed.set()


class OutageProvider(Provider):
    """`inner`, unreachable during `outages` (seconds since `started`, a `clock()` reading)."""

    def __init__(
        self,
        inner: Provider,
        outages: Sequence[Outage],
        *,
        started: float,
        provider: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        log: Callable[[str], None] = _stderr,
    ) -> None:
        super().__init__(inner.channel, max_concurrency=inner.max_concurrency)
        self.inner = inner
        self.name = inner.name  # type: ignore[misc]  # the same provider, as far as anyone can tell
        self.windows = OutageWindows(
            outages,
            started=started,
            provider=provider or (outages[0].provider if outages else inner.name),
            clock=clock,
            log=log,
        )
        self.refused = 0
        """Deliveries failed by an outage."""
        self._lock = threading.Lock()
        self._closed = False

    def down(self) -> Outage | None:
        return self.windows.down()

    def note(self, elapsed: float | None = None) -> None:
        self.windows.note(elapsed)

    def watch(self) -> None:
        self.windows.watch()

    # ------------------------------------------------------------------ the provider

    def _unreachable(self, outage: Outage) -> ProviderUnavailableError:
        return ProviderUnavailableError(
            f"{self.name}: connection refused (injected outage {outage})", maybe_sent=False
        )

    def send(self, delivery: Delivery) -> str:
        outage = self.down()
        if outage is not None:
            with self._lock:
                self.refused += 1
            raise self._unreachable(outage)
        return self.inner.send(delivery)

    def _send_many(self, deliveries: Sequence[Delivery], on_result: OnResult) -> list[Result]:
        outage = self.down()
        if outage is None:
            return self.inner.send_batch(deliveries, on_result)
        results: list[Result] = []
        for index in range(len(deliveries)):
            error = self._unreachable(outage)  # one each: a result is the message's own
            results.append(error)
            on_result(index, error)
        with self._lock:
            self.refused += len(deliveries)
        return results

    def close(self) -> None:
        """Idempotent: the failover around it closes it, and so does the stack."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self.windows.close()
        self.inner.close()
        super().close()
