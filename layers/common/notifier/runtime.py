"""The objects a function builds once per execution environment, lazily, from its settings.

Handlers and domain code ask here instead of building clients themselves. Tests swap a piece with
`override(...)` or start over with `reset()`.
"""

from __future__ import annotations

from functools import cache

from .clients import dynamodb_client, reset_clients, sns_client
from .delivery import DeliveryDeps
from .models import Channel
from .providers import Outbox, Provider, SandboxProvider
from .publishing import Publisher
from .recipients import RecipientStore
from .settings import get_settings
from .status import StatusStore


@cache
def status_store() -> StatusStore:
    settings = get_settings()
    return StatusStore(settings.status_table, settings.status_ttl_days, dynamodb_client())


@cache
def recipient_store() -> RecipientStore:
    return RecipientStore(get_settings().require("recipients_table"), dynamodb_client())


@cache
def outbox() -> Outbox:
    return Outbox(get_settings().sandbox_outbox_path)


@cache
def provider(channel: Channel) -> Provider:
    # Vendor providers arrive with their credentials; until then every channel uses the sandbox.
    return SandboxProvider(outbox())


@cache
def publisher() -> Publisher:
    return Publisher(get_settings().require("topic_arn"), status_store(), sns_client())


def delivery_deps(channel: Channel) -> DeliveryDeps:
    return DeliveryDeps(status=status_store(), recipients=recipient_store(), provider=provider(channel))


def reset() -> None:
    """Forget every built object and the settings (tests, and the local stack between runs)."""
    for factory in (status_store, recipient_store, outbox, provider, publisher, get_settings):
        factory.cache_clear()
    reset_clients()
