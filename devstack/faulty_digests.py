"""The digest store that injects `Faults.flush_crash_rate` into the due function's flushes (see
`devstack.faults`); imported once the common layer is on the path.

`Digests.flush` claims a window (FLUSHING, leased), publishes its digest to SNS, then marks the
window SENT with `DigestStore.finish`. Here `finish(window, SENT)` raises, in that share of calls,
before it writes anything: the digest is on its way and the window is still FLUSHING, as when the
execution environment dies between the two. The due function reports the flush's message failed, SQS
hands it out again after the queue's visibility timeout, and the retry (the lease having run out)
publishes the same digest again. Draws are made in the order flushes finish, from `Faults.seed`.
"""

from __future__ import annotations

import random
import sys
import threading

from notifier.scheduling.digests import Digests
from notifier.stores.digests import DigestStore, Window, WindowState

from .faults import Faults

FLUSH_CRASH_TRACE = "[chaos] injected flush crash: digest {digest_id} published, not marked SENT"
"""The line each injected flush crash writes to stderr, for `make chaos` to attribute the retries."""


class SimulatedFlushCrashError(RuntimeError):
    """The due function's execution environment 'died' after publishing a digest."""


class FaultyDigestStore(DigestStore):
    """`inner`'s table and client, with flush crashes injected into `finish(window, SENT)`."""

    def __init__(self, inner: DigestStore, faults: Faults) -> None:
        super().__init__(inner.table, inner.client)
        self.faults = faults
        self._random = random.Random(faults.seed)  # noqa: S311 - injected faults, not secrets
        self._lock = threading.Lock()
        self.crashes = 0

    def finish(self, window: Window, state: WindowState) -> bool:
        if state == WindowState.SENT:
            with self._lock:
                crash = self._random.random() < self.faults.flush_crash_rate
                if crash:
                    self.crashes += 1
            if crash:
                # One write, so that lines from several threads do not interleave.
                sys.stderr.write(FLUSH_CRASH_TRACE.format(digest_id=window.digest_id) + "\n")
                raise SimulatedFlushCrashError(
                    f"injected flush crash: digest {window.digest_id} published, window left FLUSHING"
                )
        return super().finish(window, state)


def inject_flush_crashes(digests: Digests, faults: Faults) -> FaultyDigestStore:
    """Have `digests` (the due function's) finish its flushes through a FaultyDigestStore."""
    faulty = FaultyDigestStore(digests.store, faults)
    digests.store = faulty
    return faulty
