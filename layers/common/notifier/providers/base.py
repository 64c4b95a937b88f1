from __future__ import annotations

from abc import ABC, abstractmethod

from notifier.models import Channel, OutboundMessage


class Provider(ABC):
    """Sends one rendered message to one address on one channel.

    `send` returns the provider's message id. It raises `TransientDeliveryError` when trying again
    later may succeed and `PermanentDeliveryError` when it cannot; it never returns on failure.
    """

    name: str

    @abstractmethod
    def send(
        self, channel: Channel, address: str, message: OutboundMessage, *, notification_id: str
    ) -> str: ...
