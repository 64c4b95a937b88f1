"""Putting `--chaos` faults (`devstack.faults`) into a process's runtime; imported once the common
layer is on the path.

The local stack checks the faults once, before anything starts (`check`), and hands them to every
execution environment of a function with an event source as `LOCAL_CHAOS` (with the moment the stack
started, `LOCAL_STARTED_AT`, seconds since the epoch: both named in `devstack.faults`). Each
environment applies them to itself after its handler is imported (`into_this_environment`), as Lambda
would have the faults happen inside the function: a consumer's providers are wrapped (outages,
crashes and timeouts, receipt faults), and the due function's digests crash their flushes. An
environment's draws are its own: the seed is the given seed plus the environment's number in its
function, so a run is repeatable per environment.

An outage's windows are counted from `started` on the wall clock, which every process shares; the
workers' wrappers log nothing, and the stack logs each window's start and end once
(`outage_watchers`).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from notifier import runtime, vendors
from notifier.models.channels import Channel
from notifier.platform.settings import consumer_settings, due_settings
from notifier.providers import Provider
from notifier.providers.factory import (
    AWS_PROVIDERS,
    channel_providers,
    credentials_name,
    sandbox_provider,
)
from notifier.providers.sandbox_receipts import RECEIPT_CHANNELS, ReceiptFaults

from .faults import Faults, Outage
from .faulty_digests import inject_flush_crashes
from .faulty_provider import FaultyProvider
from .outage import OutageProvider, OutageWindows

if TYPE_CHECKING:
    from notifier.platform.settings import ConsumerSettings

DUE_MODULE = "notifier.scheduling.handler"
"""The due function's handler's module."""


class InjectionError(ValueError):
    """The faults cannot be injected here; the message says why."""


def _quiet(line: str) -> None:
    """The workers' outage wrappers log nothing: the stack logs each window once (`outage_watchers`)."""


def check(faults: Faults) -> None:
    """Refuse, naming it, a fault this stack cannot inject: an outage of a provider that is not one of
    its channel's, or that the sandbox does not play; flush crashes without digests."""
    check_outages(faults)
    if faults.flush_crash_rate and not due_settings().digests_table:
        raise InjectionError("--chaos flush_crash: the template's due function sends no digests")


def check_outages(faults: Faults) -> None:
    """Refuse an outage of a provider that is not one of its channel's, or that the sandbox does not
    play (a consumer's settings are enough to tell)."""
    settings = consumer_settings()
    named = _named(settings)
    for window in faults.outages:
        name = window.provider
        if name not in named:
            raise InjectionError(
                f"--chaos outage={name}: {name} is not one of its channel's providers here "
                "(EmailProviders, SmsProviders)"
            )
        if not played_by_the_sandbox(settings, named[name], name):
            raise InjectionError(
                f"--chaos outage={name}: the local stack takes down only a provider its sandbox "
                f"plays, and {name} has credentials here"
            )


def into_this_environment(
    faults: Faults, handler: object, *, started: float, timeout_seconds: float, environment: int = 0
) -> list[Provider]:
    """Apply `faults` to this execution environment, by what its `handler` is: a consumer's (which
    names the channel it delivers: `notifier.delivery.handler`) gets its channel's providers wrapped,
    the due function's (`DUE_MODULE`'s) its flushes; any other function, nothing. The providers built
    (to close)."""
    if faults.seed is not None:
        faults = dataclasses.replace(faults, seed=faults.seed + environment)
    built: list[Provider] = []
    channel = getattr(handler, "channel", None)
    if isinstance(channel, Channel):
        built = into_providers(faults, started=started, timeout_seconds=timeout_seconds, channels=(channel,))
    if getattr(handler, "__module__", None) == DUE_MODULE and faults.flush_crash_rate:
        into_digests(faults)
    return built


def into_providers(
    faults: Faults,
    *,
    started: float,
    timeout_seconds: float,
    channels: Iterable[Channel] = tuple(Channel),
) -> list[Provider]:
    """Outages first, each around the sandbox that plays its provider (`named_sandboxes`); then, for
    crashes, timeouts or receipt faults, each of `channels`' providers wrapped in a FaultyProvider, a
    sandbox that posts receipts built here with the receipt faults, so that they reach its poster.
    The providers built."""
    receipt_faults = (
        ReceiptFaults(faults.receipt_duplicate_rate, faults.receipt_reorder_rate, faults.seed)
        if faults.receipts
        else None
    )
    channels = tuple(channels)
    built: list[Provider] = []
    with_sandboxes = named_sandboxes(faults, receipt_faults, built, started=started, channels=channels)
    if faults.crashes or faults.receipts:
        _faulty_providers(
            faults, receipt_faults, built, channels, with_sandboxes, timeout_seconds=timeout_seconds
        )
    return built


def named_sandboxes(
    faults: Faults,
    receipt_faults: ReceiptFaults | None,
    built: list[Provider],
    *,
    started: float,
    channels: Iterable[Channel] = tuple(Channel),
) -> set[Channel]:
    """The sandboxes of `channels` that play a provider with an outage (`devstack.outage`), and, with
    receipt faults, every sandbox of a channel with a fallback, built here (added to `built`) and put
    in the providers' places (`vendors.use_named_provider`), behind the channel's failover; the
    channels they are of. An outage's window is counted from `started` (seconds since the epoch)."""
    check_outages(faults)
    settings = consumer_settings()
    windows = _windows(faults.outages)
    wanted = set(channels)
    done: set[Channel] = set()
    for name, channel in _named(settings).items():
        if channel not in wanted:
            continue
        several = len(channel_providers(settings, channel)) > 1
        with_receipts = receipt_faults is not None and channel in RECEIPT_CHANNELS and several
        if name not in windows and not with_receipts:
            continue
        if not played_by_the_sandbox(settings, channel, name):
            continue
        provider: Provider = sandbox_provider(
            channel,
            settings,
            runtime.outbox(),
            receipt_faults=receipt_faults if channel in RECEIPT_CHANNELS else None,
            plays=name if several else None,
        )
        if name in windows:
            provider = OutageProvider(
                provider, windows[name], started=started, provider=name, clock=time.time, log=_quiet
            )
        built.append(provider)
        vendors.use_named_provider(name, provider)
        done.add(channel)
    return done


def _faulty_providers(
    faults: Faults,
    receipt_faults: ReceiptFaults | None,
    built: list[Provider],
    channels: Iterable[Channel],
    with_sandboxes: set[Channel],
    *,
    timeout_seconds: float,
) -> None:
    """Each of `channels`' providers wrapped in a FaultyProvider; a channel's single sandbox that
    posts receipts is built here with the receipt faults (one with a fallback has its sandboxes built
    by `named_sandboxes`: `with_sandboxes`)."""
    settings = consumer_settings()
    for channel in channels:
        inner: Provider
        # Only a channel with receipts gets a sandbox of its own here: in-app's provider is the inbox,
        # never a sandbox, and has no vendor credentials to look up.
        with_receipts = receipt_faults is not None and channel in RECEIPT_CHANNELS
        if (
            with_receipts
            and channel not in with_sandboxes
            and len(channel_providers(settings, channel)) == 1
            and credentials_name(settings, channel) is None
        ):
            inner = sandbox_provider(channel, settings, runtime.outbox(), receipt_faults=receipt_faults)
        else:
            inner = vendors.provider(channel)
        faulty = FaultyProvider(inner, faults, timeout_seconds=timeout_seconds)
        built.append(faulty)
        vendors.use_provider(channel, faulty)


def into_digests(faults: Faults) -> None:
    """The due function's digests (built once: `runtime.due_digests`) finish their flushes through a
    FaultyDigestStore."""
    inject_flush_crashes(runtime.due_digests(), faults)


def outage_watchers(faults: Faults, *, started: float, log: Callable[[str], None]) -> list[OutageWindows]:
    """One watcher per provider taken down, to log the start and the end of each of its windows once,
    when it comes (`make chaos` reads the lines): `watch()` each, `close()` each when the stack stops."""
    return [
        OutageWindows(windows, started=started, provider=name, clock=time.time, log=log)
        for name, windows in _windows(faults.outages).items()
    ]


def _windows(outages: tuple[Outage, ...]) -> dict[str, list[Outage]]:
    windows: dict[str, list[Outage]] = {}
    for window in outages:
        windows.setdefault(window.provider, []).append(window)
    return windows


def _named(settings: ConsumerSettings) -> dict[str, Channel]:
    """Every provider of every channel, by name (`sendgrid`, `ses`, ...)."""
    return {name: channel for channel in Channel for name in channel_providers(settings, channel)}


def played_by_the_sandbox(settings: ConsumerSettings, channel: Channel, name: str) -> bool:
    """Whether the sandbox plays the provider `name` of `channel` (`vendors._named_provider`): one
    the stack has no emulator for, or a vendor without credentials."""
    if name in settings.sandbox_providers:
        return True
    if name in AWS_PROVIDERS:
        return False
    return credentials_name(settings, channel) is None
