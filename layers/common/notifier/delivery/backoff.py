"""When a failed record is tried again: exponential backoff with full jitter, through SQS.

A consumer that cannot deliver a record now reports it as a batch item failure, so SQS keeps it, and
sets the record's visibility timeout to the backoff below, so SQS hands it out again only then. The
wait before attempt n + 1 is a random time between 0 and min(cap, base x 2^(n - 1)) ("full jitter",
which spreads a burst of failures over the whole interval instead of retrying them in step), or the
vendor's Retry-After when that is longer, and never more than the cap. So a record that keeps
failing reaches its dead-letter queue after at most (maxReceiveCount - 1) x (cap + the function's
timeout).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

SQS_MAX_VISIBILITY_SECONDS = 43_200  # 12 hours


@dataclass(frozen=True)
class Backoff:
    base_seconds: float
    cap_seconds: float
    draw: Callable[[], float] = random.random  # in [0, 1); injectable so tests can pin it

    def ceiling(self, attempt: int) -> float:
        """The longest wait after failed attempt number `attempt` (1 for the first)."""
        exponent = min(max(attempt, 1) - 1, 62)  # 2^62 x any base is past every cap
        return min(self.cap_seconds, self.base_seconds * 2.0**exponent)

    def delay(self, attempt: int, retry_after_seconds: float | None = None) -> int:
        """Seconds before the next attempt, as SQS takes them (a whole number, at most 12 hours)."""
        wait = self.ceiling(attempt) * self.draw()
        if retry_after_seconds is not None:
            wait = max(wait, retry_after_seconds)
        wait = min(wait, self.cap_seconds, SQS_MAX_VISIBILITY_SECONDS)
        return max(0, math.ceil(wait))

    def longest_time_to_dead_letter(self, max_receive_count: int, timeout_seconds: float) -> float:
        """The most time between a record's first receive and its move to the DLQ: each delivery
        attempt (every receive but the last, which only marks it) runs to the function's timeout and
        then waits the longest backoff, and the marking receive runs to the timeout too."""
        return (max_receive_count - 1) * (self.cap_seconds + timeout_seconds) + timeout_seconds
