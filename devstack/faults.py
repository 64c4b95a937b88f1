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

And into the providers themselves: `outage=PROVIDER@START-END` takes that provider down from START to
END seconds after the stack started (counted from when the stack has been provisioned and its faults
injected, a moment before it reports ready; decimals allowed). Several windows are joined with `+`
(`outage=sendgrid@20-50+twilio@20-50`), or `outage=` is given again. PROVIDER is one of sendgrid,
ses, twilio, eum or fcm, and must be one of its channel's providers (EmailProviders, SmsProviders).
During a window every send through it fails as an unreachable provider's would
(`ProviderUnavailableError`, `maybe_sent=False`): nothing is sent and nothing reaches the outbox, so
a channel with a fallback hands the message to the fallback, and the primary's circuit breaker opens
(`notifier.providers.failover`). The outage wraps the sandbox that plays the provider
(`devstack.outage`); each window's start and end are logged once, as
`[chaos] outage: sendgrid down (20-50 s)` and `[chaos] outage: sendgrid back (20-50 s)`.

Vendor failures (latency, transient and permanent errors) are the sandbox's own options
(`SandboxLatencyMs`, `SandboxTransientFailureRate`, `SandboxPermanentFailureRate`). This module is
part of the local stack and never ships to Lambda.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_RATES = {
    "crash": "crash_rate",
    "timeout": "timeout_rate",
    "receipt_duplicate": "receipt_duplicate_rate",
    "receipt_reorder": "receipt_reorder_rate",
    "flush_crash": "flush_crash_rate",
}
"""Each rate's name in `--chaos`, and the field it sets."""

CHAOS_VARIABLE = "LOCAL_CHAOS"
"""The `--chaos` faults, as written on the command line, in each execution environment that applies
them (`devstack.injection`)."""
STARTED_VARIABLE = "LOCAL_STARTED_AT"
"""When the stack started (seconds since the epoch): an outage's windows are counted from it."""

OUTAGE_PROVIDERS = ("sendgrid", "ses", "twilio", "eum", "fcm")
"""The providers an outage can take down (`notifier.providers.factory.channel_providers`' names)."""

_WINDOW = re.compile(r"^([a-z]+)@(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)$")


@dataclass(frozen=True)
class Outage:
    """`provider` unreachable from `start` to `end` seconds after the stack started."""

    provider: str
    start: float
    end: float

    def covers(self, elapsed: float) -> bool:
        return self.start <= elapsed < self.end

    def __str__(self) -> str:
        return f"{self.provider}@{self.start:g}-{self.end:g}"

    @classmethod
    def parse_all(cls, text: str) -> tuple[Outage, ...]:
        """`sendgrid@20-50+twilio@20-50`: one or more windows, joined by `+`."""
        outages = []
        for part in text.split("+"):
            found = _WINDOW.match(part.strip())
            if found is None:
                raise ValueError(
                    f"--chaos: outage={text!r}: each window is PROVIDER@START-END (seconds after the "
                    "stack started), several joined by +: outage=sendgrid@20-50+twilio@20-50"
                )
            provider, start, end = found.group(1), float(found.group(2)), float(found.group(3))
            if provider not in OUTAGE_PROVIDERS:
                raise ValueError(
                    f"--chaos: outage of {provider!r}: the providers are {', '.join(OUTAGE_PROVIDERS)}"
                )
            if end <= start:
                raise ValueError(f"--chaos: outage {part.strip()!r} ends before it starts")
            outages.append(cls(provider, start, end))
        return tuple(outages)


@dataclass(frozen=True)
class Faults:
    crash_rate: float = 0.0
    timeout_rate: float = 0.0
    seed: int | None = None
    receipt_duplicate_rate: float = 0.0
    receipt_reorder_rate: float = 0.0
    flush_crash_rate: float = 0.0
    outages: tuple[Outage, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Faults:
        """`crash=0.05,timeout=0.02,receipt_duplicate=0.1,receipt_reorder=0.1,flush_crash=0.1,seed=7,
        outage=sendgrid@20-50+twilio@20-50` (any subset; `outage=` may come more than once)."""
        values: dict[str, str] = {}
        outages: list[Outage] = []
        for part in filter(None, (p.strip() for p in text.split(","))):
            key, _, value = part.partition("=")
            if key == "outage" and value:
                outages.extend(Outage.parse_all(value))
                continue
            if (key not in _RATES and key != "seed") or not value:
                raise ValueError(
                    f"--chaos: {part!r} is not crash=RATE, timeout=RATE, receipt_duplicate=RATE, "
                    "receipt_reorder=RATE, flush_crash=RATE, seed=N or outage=PROVIDER@START-END"
                )
            values[key] = value
        try:
            rates = {field: float(values.get(key, 0)) for key, field in _RATES.items()}
            faults = cls(
                seed=int(values["seed"]) if "seed" in values else None, outages=tuple(outages), **rates
            )
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

    def as_option(self) -> str:
        """The `--chaos` text that parses back to these faults."""
        parts = [f"{key}={getattr(self, name)!r}" for key, name in _RATES.items() if getattr(self, name)]
        if self.seed is not None:
            parts.append(f"seed={self.seed}")
        if self.outages:
            parts.append("outage=" + "+".join(str(outage) for outage in self.outages))
        return ",".join(parts)

    @property
    def crashes(self) -> bool:
        """Whether consumer invocations are to crash or hang (`devstack.faulty_provider`)."""
        return bool(self.crash_rate or self.timeout_rate)

    @property
    def receipts(self) -> bool:
        """Whether the sandbox's receipts are to be duplicated or reordered."""
        return bool(self.receipt_duplicate_rate or self.receipt_reorder_rate)
