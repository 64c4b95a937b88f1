"""What every function does around its cold start: the garbage collector, and SnapStart's hooks.

**The garbage collector.** Init and the first invocation build long-lived objects (modules, models,
clients, the vendor's client) and free almost none, so the collector would scan them some 200 times
for nothing. So each handler module calls `pause()` before its other imports and `init_done()` at
its end, which freezes what init built (the collector never scans it again), and its handler calls
`first_invocation_done()` when each invocation ends. After the first, that freezes what the
invocation built too (otherwise the first collection would scan the vendor SDK it imported, to find
some 35 cyclic leftovers, which stay) and resumes collection; after any other, it does nothing.

**SnapStart.** With the template's SnapStart Parameter on, Lambda initialises each published version
once, takes a snapshot of it, and starts new execution environments from that snapshot instead of
importing everything again. Each handler module calls `register(...)`; outside Lambda, or without
SnapStart, the `snapshot_restore_py` module is missing or its hooks never run, and nothing changes.

- **Before the snapshot**, `warm` does what the first request would otherwise do and what is the same
  in every environment: builds the AWS clients and the stores, and imports the vendor's SDK (the
  biggest part of a consumer's cold start). It reads no secret, so no credential is in the snapshot;
  the vendor client is built from them on the first request, as without SnapStart. It opens no
  connection (building a client does not), so none goes stale in the snapshot.
- **After each restore**, `random` is seeded again: every environment restored from one snapshot would
  otherwise draw the same backoff jitter (and the same sandbox failures), defeating the jitter.

Only the standard library at the top: handler modules import this before anything else, and what
the hooks use is imported when they run (in Lambda, before the snapshot), so importing this module
adds nothing to a cold start.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from notifier.models.channels import Channel

VENDOR_MODULES = {
    "email": "notifier.providers.sendgrid_email",
    "sms": "notifier.providers.twilio_sms",
    "push": "notifier.providers.fcm_push",
}
"""The vendor SDK's module of each channel with a vendor (keyed by the channel's value); in-app has
none."""


# --------------------------------------------------------------------------------------------
# The garbage collector
# --------------------------------------------------------------------------------------------


def pause() -> None:
    gc.disable()


def init_done() -> None:
    gc.freeze()


def first_invocation_done() -> None:
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


# --------------------------------------------------------------------------------------------
# SnapStart
# --------------------------------------------------------------------------------------------


def register(warm: Callable[[], None]) -> bool:
    """Run `warm` before the snapshot and reseed `random` after each restore; False outside Lambda."""
    try:
        from snapshot_restore_py import (  # type: ignore[import-not-found]  # noqa: PLC0415 - Lambda's
            register_after_restore,
            register_before_snapshot,
        )
    except ImportError:
        return False
    register_before_snapshot(_safely(warm))
    register_after_restore(after_restore)
    return True


def warm_publisher() -> None:
    from notifier import runtime  # noqa: PLC0415 - see the module's docstring

    runtime.publisher()
    runtime.recipient_store()


def warm_consumer(channel: Channel) -> Callable[[], None]:
    def warm() -> None:
        import importlib  # noqa: PLC0415 - see the module's docstring

        from notifier import runtime  # noqa: PLC0415
        from notifier.models.channels import Channel  # noqa: PLC0415
        from notifier.platform import clients  # noqa: PLC0415
        from notifier.platform.settings import consumer_settings  # noqa: PLC0415
        from notifier.providers.factory import credentials_name  # noqa: PLC0415

        runtime.status_store()
        runtime.recipient_store()
        clients.sqs_client()
        if channel is Channel.INAPP:
            runtime.inbox_store()
            return  # no vendor: the inbox is the provider
        settings = consumer_settings()
        if credentials_name(settings, channel) is None:
            return  # the sandbox: nothing more to warm
        if settings.credentials_store == "ssm":
            clients.ssm_client()
        else:
            clients.secrets_client()
        importlib.import_module(VENDOR_MODULES[channel])

    return warm


def after_restore() -> None:
    import random  # noqa: PLC0415 - see the module's docstring

    random.seed()  # from os.urandom: each restored environment draws its own


def _safely(warm: Callable[[], None]) -> Callable[[], None]:
    """`warm`, whose failure is logged rather than failing the version's publication: it only saves
    time, and the first request does the same work (and reports a real problem) anyway."""

    def run() -> None:
        try:
            warm()
        except Exception:
            from notifier.platform.logs import logger  # noqa: PLC0415 - see the module's docstring

            logger.exception("warming before the SnapStart snapshot failed; the first request will do it")

    return run
