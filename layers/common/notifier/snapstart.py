"""Lambda SnapStart hooks: what a function does before its snapshot and after each restore.

With the template's SnapStart Parameter on, Lambda initialises each published version once, takes a
snapshot of it, and starts new execution environments from that snapshot instead of importing
everything again. Each handler module calls `register(...)`; outside Lambda, or without SnapStart,
the `snapshot_restore_py` module is missing or its hooks never run, and nothing changes.

- **Before the snapshot**, `warm` does what the first request would otherwise do and what is the same
  in every environment: builds the AWS clients and the stores, and imports the vendor's SDK (the
  biggest part of a consumer's cold start). It reads no secret, so no credential is in the snapshot;
  the vendor client is built from them on the first request, as without SnapStart. It opens no
  connection (building a client does not), so none goes stale in the snapshot.
- **After each restore**, `random` is seeded again: every environment restored from one snapshot would
  otherwise draw the same backoff jitter (and the same sandbox failures), defeating the jitter.
"""

from __future__ import annotations

import importlib
import random
from collections.abc import Callable

from .models import Channel
from .observability import logger

# What the hooks use is imported when they run (in Lambda, before the snapshot): importing this
# module must add nothing to a cold start without SnapStart.

VENDOR_MODULES = {
    Channel.EMAIL: "notifier.providers.sendgrid_email",
    Channel.SMS: "notifier.providers.twilio_sms",
    Channel.PUSH: "notifier.providers.fcm_push",
}


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
    from . import runtime  # noqa: PLC0415 - see above

    runtime.publisher()
    runtime.recipient_store()


def warm_consumer(channel: Channel) -> Callable[[], None]:
    def warm() -> None:
        from . import clients, runtime  # noqa: PLC0415 - see above
        from .providers.factory import credentials_name  # noqa: PLC0415
        from .settings import get_settings  # noqa: PLC0415

        runtime.status_store()
        runtime.recipient_store()
        clients.sqs_client()
        settings = get_settings()
        if credentials_name(settings, channel) is None:
            return  # the sandbox: nothing more to warm
        if settings.credentials_store == "ssm":
            clients.ssm_client()
        else:
            clients.secrets_client()
        importlib.import_module(VENDOR_MODULES[channel])

    return warm


def after_restore() -> None:
    random.seed()  # from os.urandom: each restored environment draws its own


def _safely(warm: Callable[[], None]) -> Callable[[], None]:
    """`warm`, whose failure is logged rather than failing the version's publication: it only saves
    time, and the first request does the same work (and reports a real problem) anyway."""

    def run() -> None:
        try:
            warm()
        except Exception:
            logger.exception("warming before the SnapStart snapshot failed; the first request will do it")

    return run
