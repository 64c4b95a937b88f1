"""Domain errors. Each is a type; the API maps them to answers in one table, the consumers by type."""

from __future__ import annotations


class NotifierError(Exception):
    """Base of every error this service raises on purpose."""


class NotFoundError(NotifierError):
    """The thing asked for does not exist."""


class PublishError(NotifierError):
    """SNS did not take the message; the caller may retry."""


class DeliveryError(NotifierError):
    """A channel could not deliver a notification."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TransientDeliveryError(DeliveryError):
    """Try again later: a timeout, a rate limit, a vendor outage."""

    def __init__(self, reason: str, retry_after_seconds: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after_seconds = retry_after_seconds


class PermanentDeliveryError(DeliveryError):
    """Retrying cannot help: no address, an invalid address, content the vendor rejects."""


class UnregisteredAddressError(PermanentDeliveryError):
    """The vendor says the address no longer exists (an unregistered push token): forget it."""
