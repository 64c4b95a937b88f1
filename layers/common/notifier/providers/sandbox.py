"""The sandbox provider: records deliveries in an outbox instead of calling a vendor.

It is the default for every channel until a vendor is configured, so a new stack works end to end
without accounts. A few reserved addresses fail on purpose, like the vendors' own test numbers, so
that failure handling can be tried without a vendor. Those of the first two columns are refused by the
send itself. Those of the last are accepted (SENT), and then their receipt says what went wrong, as a
vendor's receipt does after it took a message:

| channel | permanent failure | transient failure | accepted, then a failing receipt |
|---|---|---|---|
| email | `bounce@simulator.sandbox` | `throttle@simulator.sandbox` | `bounced@simulator.sandbox`: bounced |
| email | | | `complaint@simulator.sandbox`: delivered, then a spam report |
| sms | `+15005550001` | `+15005550429` | `+15005550305`: undelivered, 30005 |
| push | `sandbox-unregistered` | `sandbox-unavailable` | (push has no vendor receipt) |

The receipts are posted only when the stack says where and with what to sign them (`PUBLIC_API_URL`,
`SANDBOX_RECEIPTS_SECRET`); every other accepted e-mail and SMS is then `delivered`, all of them
`SANDBOX_RECEIPT_DELAY_MS` after the send (`notifier.providers.sandbox_receipts`).

For tests and load tests it can also behave like a slow or unreliable vendor (`SandboxOptions`, set
by the `SANDBOX_*` variables): a latency per call, and rates of transient and permanent failures drawn
from a seeded generator, so a run can be repeated.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
import uuid
import weakref
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from notifier.errors import PermanentDeliveryError, TransientDeliveryError, UnregisteredAddressError
from notifier.models.channels import Channel
from notifier.providers.base import Delivery, Provider

if TYPE_CHECKING:
    from notifier.providers.sandbox_receipts import ReceiptPoster

PERMANENT_FAILURES = {
    Channel.EMAIL: "bounce@simulator.sandbox",
    Channel.SMS: "+15005550001",
    Channel.PUSH: "sandbox-unregistered",
}
TRANSIENT_FAILURES = {
    Channel.EMAIL: "throttle@simulator.sandbox",
    Channel.SMS: "+15005550429",
    Channel.PUSH: "sandbox-unavailable",
}
"""The addresses each vendor channel's sandbox fails. In-app has none: it has no sandbox (its provider,
the inbox, stores), and its address is a recipient id, not one a vendor could refuse."""
RECEIPT_BOUNCES = {
    Channel.EMAIL: "bounced@simulator.sandbox",
    Channel.SMS: "+15005550305",
}
"""Accepted, then bounced by their receipt (a hard bounce; an unknown handset): suppressed."""
RECEIPT_COMPLAINT = "complaint@simulator.sandbox"
"""Accepted and delivered, then reported as spam by its recipient: suppressed."""


@dataclass(frozen=True)
class OutboxEntry:
    notification_id: str
    channel: str
    address: str
    content: dict[str, Any]
    provider_message_id: str
    provider: str = "sandbox"
    sent_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())


class Outbox:
    """What the sandbox delivered, in memory, and appended to a JSON-lines file when given one."""

    def __init__(self, path: str | None = None) -> None:
        self._entries: list[OutboxEntry] = []
        self._lock = threading.Lock()
        self.path = Path(path) if path else None

    def add(self, entry: OutboxEntry) -> None:
        with self._lock:
            self._entries.append(entry)
            if self.path is not None:
                # One write(2) with O_APPEND: whole lines, whoever else appends to the file (the local
                # stack's environments share one outbox).
                line = (json.dumps(asdict(entry)) + "\n").encode()
                descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                try:
                    os.write(descriptor, line)
                finally:
                    os.close(descriptor)

    def entries(self) -> list[OutboxEntry]:
        with self._lock:
            return list(self._entries)

    def __iter__(self) -> Iterator[OutboxEntry]:
        return iter(self.entries())

    def __len__(self) -> int:
        return len(self._entries)


@dataclass(frozen=True)
class SandboxOptions:
    latency_ms: int = 0
    transient_failure_rate: float = 0.0
    permanent_failure_rate: float = 0.0
    seed: int | None = None


class SandboxProvider(Provider):
    name = "sandbox"

    def __init__(
        self,
        channel: Channel,
        outbox: Outbox,
        options: SandboxOptions | None = None,
        *,
        max_concurrency: int = 10,
        receipts: ReceiptPoster | None = None,
        plays: str | None = None,
    ) -> None:
        super().__init__(channel, max_concurrency=max_concurrency)
        # Standing in for one of a channel's providers (a channel with a fallback, in the local stack),
        # it is named after it, in statuses, the outbox and the breakers.
        self.name = f"sandbox-{plays}" if plays else "sandbox"  # type: ignore[misc]
        self.outbox = outbox
        self.options = options or SandboxOptions()
        self.receipts = receipts
        self._random = random.Random(self.options.seed)  # noqa: S311 - injected failures, not secrets
        self._random_lock = threading.Lock()
        if receipts is not None:
            # A provider forgotten without close() (runtime.reset() drops the sandbox's) still stops
            # its poster's thread, rather than leave it posting for a stack that has moved on.
            weakref.finalize(self, receipts.close)

    def send(self, delivery: Delivery) -> str:
        options = self.options
        if options.latency_ms:
            time.sleep(options.latency_ms / 1000)
        if delivery.address == PERMANENT_FAILURES.get(self.channel):
            # Worded as the vendors word it, address included (Twilio: "The 'To' number +1... is not a
            # valid phone number"), so what logs and statuses do with vendor texts is exercised.
            reason = f"sandbox: {self.channel} address {delivery.address} rejected permanently"
            if self.channel is Channel.PUSH:  # as FCM answers UNREGISTERED for a dead token
                raise UnregisteredAddressError(f"{reason} (token not registered)")
            raise PermanentDeliveryError(reason)
        if delivery.address == TRANSIENT_FAILURES.get(self.channel):
            raise TransientDeliveryError(f"sandbox: {self.channel} provider temporarily unavailable")
        with self._random_lock:
            draw = self._random.random()
        if draw < options.permanent_failure_rate:
            raise PermanentDeliveryError("sandbox: injected permanent failure")
        if draw < options.permanent_failure_rate + options.transient_failure_rate:
            raise TransientDeliveryError("sandbox: injected transient failure")
        message_id = f"sandbox-{uuid.uuid4()}"
        self.outbox.add(
            OutboxEntry(
                notification_id=delivery.notification_id,
                channel=self.channel.value,
                address=delivery.address,
                content=delivery.message.model_dump(mode="json", exclude={"channel"}),
                provider_message_id=message_id,
                provider=self.name,
            )
        )
        if self.receipts is not None:
            self.receipts.post_later(delivery.notification_id, delivery.address, message_id)
        return message_id

    def close(self) -> None:
        if self.receipts is not None:
            self.receipts.close()
        super().close()
