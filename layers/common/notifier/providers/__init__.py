"""Providers: one small interface, one implementation per vendor, and the sandbox.

Vendor modules (`sendgrid_email`, `twilio_sms`, `fcm_push`) import their SDK at the top, so they are
imported only where used: each consumer loads its own vendor's SDK and no other.
"""

from notifier.providers.base import Delivery, OnResult, Provider, Result, retry_after_seconds
from notifier.providers.sandbox import Outbox, OutboxEntry, SandboxOptions, SandboxProvider

__all__ = [
    "Delivery",
    "OnResult",
    "Outbox",
    "OutboxEntry",
    "Provider",
    "Result",
    "SandboxOptions",
    "SandboxProvider",
    "retry_after_seconds",
]
