"""Faults the local stack can inject into the consumers, to show what survives them (`make chaos`).

`--chaos crash=0.05,timeout=0.02,seed=7` wraps each channel's provider so that, per invocation:

- **crash**: the execution environment dies in the middle of the batch. The messages before a random
  point are sent and recorded as usual; the one at that point is accepted by the vendor, and then the
  invocation raises before its result is seen, as if the process were killed right after the vendor's
  answer. The whole batch fails; SQS hands its records out again after the visibility timeout.
- **timeout**: the same, except that the invocation then hangs past the function's timeout, as a
  vendor call that never answers would, and is reported as timed out.

Vendor failures (latency, transient and permanent errors) are the sandbox's own options
(`SandboxLatencyMs`, `SandboxTransientFailureRate`, `SandboxPermanentFailureRate`). This module is
part of the local stack and never ships to Lambda.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Faults:
    crash_rate: float = 0.0
    timeout_rate: float = 0.0
    seed: int | None = None

    @classmethod
    def parse(cls, text: str) -> Faults:
        """`crash=0.05,timeout=0.02,seed=7` (any subset)."""
        values: dict[str, str] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            key, _, value = part.partition("=")
            if key not in ("crash", "timeout", "seed") or not value:
                raise ValueError(f"--chaos: {part!r} is not crash=RATE, timeout=RATE or seed=N")
            values[key] = value
        try:
            faults = cls(
                crash_rate=float(values.get("crash", 0)),
                timeout_rate=float(values.get("timeout", 0)),
                seed=int(values["seed"]) if "seed" in values else None,
            )
        except ValueError:
            raise ValueError(
                f"--chaos: rates are numbers from 0 to 1 and the seed an integer: {text!r}"
            ) from None
        if not (
            faults.crash_rate >= 0
            and faults.timeout_rate >= 0
            and faults.crash_rate + faults.timeout_rate <= 1
        ):
            raise ValueError(f"--chaos: rates must be from 0 to 1 and add up to at most 1: {text!r}")
        return faults
