"""Which provider each channel delivers through, built once per execution environment, lazily.

A channel's provider is its vendor's (signed in with the credentials in CREDENTIALS_STORE, built
again when they rotate), Amazon's (SES, End User Messaging), the sandbox's, or, for the in-app
channel, the recipient's inbox; with a fallback named, the two behind a `FailoverProvider`. Tests
hand in a provider with `use_provider(...)` or `use_named_provider(...)`; `notifier.runtime.reset()`
forgets them all.
"""

from __future__ import annotations

import hashlib
import json
import threading
from functools import cache
from typing import TYPE_CHECKING

from notifier import runtime
from notifier.platform.clients import dynamodb_client
from notifier.platform.logs import logger
from notifier.platform.settings import consumer_settings, vendor_settings

# The consumers load this module (`runtime.delivery_deps`), and the webhooks function for the vendors'
# credentials (`runtime.verification_keys`); the providers' code is imported where it is first needed,
# as in notifier.runtime (see the comment above its imports).
if TYPE_CHECKING:
    from notifier.models.channels import Channel
    from notifier.platform.credentials import CredentialSource
    from notifier.providers import Provider
    from notifier.providers.failover import FailoverProvider
    from notifier.stores.breakers import BreakerStore


def _inbox_provider() -> Provider:
    from notifier.models.channels import Channel  # noqa: PLC0415 - see the imports
    from notifier.providers.inbox import InboxProvider  # noqa: PLC0415

    with _vendors_lock:
        built = _keyless.get(Channel.INAPP)
        if built is None:
            concurrency = consumer_settings().delivery_concurrency
            built = _keyless[Channel.INAPP] = InboxProvider(runtime.inbox(), max_concurrency=concurrency)
    return built


def _sandbox(channel: Channel, plays: str | None = None) -> Provider:
    """The channel's sandbox provider, built once (and closed by `reset`: it may hold a receipts
    thread); with `plays`, the one standing in for that provider of a channel with a fallback."""
    from notifier.providers.factory import sandbox_provider  # noqa: PLC0415 - see the imports

    with _vendors_lock:
        built = _sandboxes.get((channel, plays))
        if built is None:
            logger.info(
                "no vendor credentials configured; delivering to the sandbox outbox",
                extra={"channel": channel.value, "plays": plays},
            )
            built = _sandboxes[(channel, plays)] = sandbox_provider(
                channel, consumer_settings(), runtime.outbox(), plays=plays
            )
    return built


_vendors: dict[Channel, tuple[str, Provider]] = {}
_keyless: dict[Channel, Provider] = {}
"""The in-app inbox's provider, which needs no credentials."""
_sandboxes: dict[tuple[Channel, str | None], Provider] = {}
"""Each channel's sandbox, and each sandbox standing in for a provider."""
_named_overrides: dict[str, Provider] = {}
"""What `use_named_provider` put in a provider's place."""
_aws: dict[str, Provider] = {}
"""Amazon SES and End User Messaging, by provider name."""
_failovers: dict[Channel, FailoverProvider] = {}
_overrides: dict[Channel, Provider] = {}
_vendors_lock = threading.Lock()


def provider(channel: Channel) -> Provider:
    """The channel's provider: its primary's (EMAIL_PROVIDERS, SMS_PROVIDERS), or, with a second
    named, both behind a `FailoverProvider` with the primary's circuit breaker (BREAKERS_TABLE)."""
    from notifier.models.channels import Channel  # noqa: PLC0415 - see the imports
    from notifier.providers.factory import channel_providers  # noqa: PLC0415 - see the imports

    if channel in _overrides:
        return _overrides[channel]
    if channel is Channel.INAPP:  # no vendor: the recipient's inbox
        return _inbox_provider()
    settings = consumer_settings()
    built = [_named_provider(channel, name) for name in channel_providers(settings, channel)]
    if len(built) == 1:
        return built[0]
    return _failover(channel, built[0], built[1])


def _failover(channel: Channel, primary: Provider, fallback: Provider) -> Provider:
    """The pair behind one FailoverProvider, made again when either is (a vendor's new credentials)."""
    from notifier.providers.failover import FailoverProvider  # noqa: PLC0415 - see the imports

    with _vendors_lock:
        current = _failovers.get(channel)
        if current is not None and current.primary is primary and current.fallback is fallback:
            return current
        settings = consumer_settings()
        made = _failovers[channel] = FailoverProvider(
            primary,
            fallback,
            breakers=breaker_store() if settings.breakers_table else None,
            rate_limit_budget_seconds=settings.failover_rate_limit_budget_seconds,
        )
    logger.info(
        "delivering with a fallback provider",
        extra={"channel": channel.value, "primary": primary.name, "fallback": fallback.name},
    )
    return made


@cache
def credential_source() -> CredentialSource:
    """Where the vendors' credentials are read (CREDENTIALS_STORE), through a cache."""
    from notifier.platform.credentials import CredentialSource  # noqa: PLC0415 - see the imports

    settings = vendor_settings()
    return CredentialSource(settings.credentials_store, settings.credentials_cache_seconds)


@cache
def breaker_store() -> BreakerStore:
    from notifier.stores.breakers import BreakerPolicy, BreakerStore  # noqa: PLC0415 - see the imports

    settings = consumer_settings()
    policy = BreakerPolicy(
        failures=settings.breaker_failures,
        window_seconds=settings.breaker_window_seconds,
        cooldown_seconds=settings.breaker_cooldown_seconds,
        probe_lease_seconds=int(2 * settings.vendor_timeout_seconds) + 1,
    )
    return BreakerStore(settings.require("breakers_table"), dynamodb_client(), policy)


def _named_provider(channel: Channel, name: str) -> Provider:
    """One provider of the channel: one the stack reaches with its own role (SES, End User
    Messaging), built once; or the channel's vendor, signed in with its credentials (or the sandbox
    when it has none).

    A vendor's credentials are read through a cache (CREDENTIALS_CACHE_SECONDS); when they change (a
    rotation) its client is built again with the new ones.
    """
    from notifier.providers.factory import (  # noqa: PLC0415 - see the imports
        AWS_PROVIDERS,
        aws_provider,
        channel_providers,
        credentials_name,
        vendor_provider,
    )

    settings = consumer_settings()
    if name in _named_overrides:
        return _named_overrides[name]
    several = len(channel_providers(settings, channel)) > 1
    if name in settings.sandbox_providers:
        return _sandbox(channel, name if several else None)
    if name in AWS_PROVIDERS:
        with _vendors_lock:
            made = _aws.get(name)
            if made is None:
                made = _aws[name] = aws_provider(name, settings)
                logger.info("delivering through AWS", extra={"channel": channel.value, "provider": name})
        return made
    secret = credentials_name(settings, channel)
    if secret is None:
        return _sandbox(channel, name if several else None)
    document = credential_source().get(secret)
    fingerprint = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()
    with _vendors_lock:
        current = _vendors.get(channel)
        if current is not None and current[0] == fingerprint:
            return current[1]
        built = vendor_provider(channel, settings, document)
        _vendors[channel] = (fingerprint, built)
    if current is not None:
        current[1].close()
        logger.info("vendor credentials changed; client rebuilt", extra={"channel": channel.value})
    else:
        logger.info("delivering through the vendor", extra={"channel": channel.value, "provider": built.name})
    return built


def use_provider(channel: Channel, chosen: Provider) -> None:
    """Deliver `channel` through `chosen` until `reset()` (tests and benchmarks)."""
    _overrides[channel] = chosen


def use_named_provider(name: str, chosen: Provider) -> None:
    """Send what the provider `name` (`sendgrid`, `ses`, ...) would send through `chosen` instead,
    behind the channel's failover, until `reset()` (the local stack's faults, tests)."""
    _named_overrides[name] = chosen


def reset() -> None:
    """Close every provider built and forget them, and what tests handed in (`runtime.reset`)."""
    credential_source.cache_clear()
    breaker_store.cache_clear()
    with _vendors_lock:
        made = [*(p for _, p in _vendors.values()), *_keyless.values(), *_aws.values(), *_sandboxes.values()]
        for built in made:
            built.close()
        _vendors.clear()
        _keyless.clear()
        _sandboxes.clear()
        _named_overrides.clear()
        _aws.clear()
        _failovers.clear()
    _overrides.clear()
