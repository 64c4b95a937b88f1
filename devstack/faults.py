"""Faults the local stack can inject into the consumers and the due function, to show what survives
them (`make chaos`).

`--chaos crash=0.05,timeout=0.02,seed=7` wraps each channel's provider so that, per invocation:

- **crash**: the execution environment dies in the middle of the batch. The messages before a random
  point are sent and recorded as usual; the one at that point is accepted by the vendor, and then the
  invocation raises before its result is seen, as if the process were killed right after the vendor's
  answer. The whole batch fails; SQS hands its records out again after the visibility timeout.
- **timeout**: the same, except that the invocation then hangs past the function's timeout, as a
  vendor call that never answers would, and is reported as timed out.

And into the sandbox's delivery receipts (`notifier.providers.sandbox_receipts`), as the vendors get
them wrong: `receipt_duplicate=RATE` posts that share of receipts twice, the copy in a later request
(SendGrid delivers an event at least once); `receipt_reorder=RATE` shuffles that share of the batches
posted together and posts a stale event (an earlier deferral) after that share of deliveries.

And into the due function's digest flushes (`notifier.scheduling.digests`): `flush_crash=RATE` makes
that share of the flushes that published a digest raise before they mark its window SENT, as if the
execution environment died between the two (`devstack.faulty_digests`). The flush's message comes
back after the due queue's visibility timeout, once the window's lease has run out, and the retry
publishes the same digest again, which the consumers must send once. Each such crash is logged as
`[chaos] injected flush crash: digest <id> published, not marked SENT`.

Vendor failures (latency, transient and permanent errors) are the sandbox's own options
(`SandboxLatencyMs`, `SandboxTransientFailureRate`, `SandboxPermanentFailureRate`). This module is
part of the local stack and never ships to Lambda.
"""

from __future__ import annotations

from dataclasses import dataclass

_RATES = {
    "crash": "crash_rate",
    "timeout": "timeout_rate",
    "receipt_duplicate": "receipt_duplicate_rate",
    "receipt_reorder": "receipt_reorder_rate",
    "flush_crash": "flush_crash_rate",
}
"""Each rate's name in `--chaos`, and the field it sets."""


@dataclass(frozen=True)
class Faults:
    crash_rate: float = 0.0
    timeout_rate: float = 0.0
    seed: int | None = None
    receipt_duplicate_rate: float = 0.0
    receipt_reorder_rate: float = 0.0
    flush_crash_rate: float = 0.0

    @classmethod
    def parse(cls, text: str) -> Faults:
        """`crash=0.05,timeout=0.02,receipt_duplicate=0.1,receipt_reorder=0.1,flush_crash=0.1,seed=7`
        (any subset)."""
        values: dict[str, str] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            key, _, value = part.partition("=")
            if (key not in _RATES and key != "seed") or not value:
                raise ValueError(
                    f"--chaos: {part!r} is not crash=RATE, timeout=RATE, receipt_duplicate=RATE, "
                    "receipt_reorder=RATE, flush_crash=RATE or seed=N"
                )
            values[key] = value
        try:
            rates = {field: float(values.get(key, 0)) for key, field in _RATES.items()}
            faults = cls(seed=int(values["seed"]) if "seed" in values else None, **rates)
        except ValueError:
            raise ValueError(
                f"--chaos: rates are numbers from 0 to 1 and the seed an integer: {text!r}"
            ) from None
        if not (
            all(0 <= rate <= 1 for rate in rates.values()) and faults.crash_rate + faults.timeout_rate <= 1
        ):
            raise ValueError(
                f"--chaos: rates must be from 0 to 1, crash and timeout adding up to at most 1: {text!r}"
            )
        return faults

    @property
    def receipts(self) -> bool:
        """Whether the sandbox's receipts are to be duplicated or reordered."""
        return bool(self.receipt_duplicate_rate or self.receipt_reorder_rate)
