"""The sandbox provider: records deliveries in an outbox instead of calling a vendor.

It is the default for every channel until a vendor is configured, so a new stack works end to end
without accounts. A few reserved addresses fail on purpose, like the vendors' own test numbers, so
that failure handling can be tried without a vendor:

| channel | permanent failure | transient failure |
|---|---|---|
| email | `bounce@simulator.sandbox` | `throttle@simulator.sandbox` |
| sms | `+15005550001` | `+15005550429` |
| push | `sandbox-unregistered` | `sandbox-unavailable` |
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from notifier.errors import PermanentDeliveryError, TransientDeliveryError
from notifier.models import Channel, OutboundMessage

from .base import Provider

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


@dataclass(frozen=True)
class OutboxEntry:
    notification_id: str
    channel: str
    address: str
    content: dict[str, Any]
    provider_message_id: str
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
                with self.path.open("a", encoding="utf-8") as out:
                    out.write(json.dumps(asdict(entry)) + "\n")

    def entries(self) -> list[OutboxEntry]:
        with self._lock:
            return list(self._entries)

    def __iter__(self) -> Iterator[OutboxEntry]:
        return iter(self.entries())

    def __len__(self) -> int:
        return len(self._entries)


class SandboxProvider(Provider):
    name = "sandbox"

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    def send(self, channel: Channel, address: str, message: OutboundMessage, *, notification_id: str) -> str:
        if address == PERMANENT_FAILURES[channel]:
            raise PermanentDeliveryError(f"sandbox: {channel} address rejected permanently")
        if address == TRANSIENT_FAILURES[channel]:
            raise TransientDeliveryError(f"sandbox: {channel} provider temporarily unavailable")
        message_id = f"sandbox-{uuid.uuid4()}"
        self.outbox.add(
            OutboxEntry(
                notification_id=notification_id,
                channel=channel.value,
                address=address,
                content=message.model_dump(mode="json", exclude={"channel"}),
                provider_message_id=message_id,
            )
        )
        return message_id
