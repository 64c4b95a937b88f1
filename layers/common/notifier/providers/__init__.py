"""Providers: one small interface, one implementation per vendor, and the sandbox."""

from .base import Provider
from .sandbox import Outbox, OutboxEntry, SandboxProvider

__all__ = ["Outbox", "OutboxEntry", "Provider", "SandboxProvider"]
