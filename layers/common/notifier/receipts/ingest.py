"""Applying a verified webhook's receipts: each once, in the order they happened, concurrently across
notifications.

1. Receipts whose vendor event id was applied by an earlier request are dropped (SendGrid delivers an
   event more than once); so is a second copy inside the same request.
2. The rest are sorted by the time they happened and grouped by (notification, channel), the groups
   applied concurrently (a thread pool), so a batch of thousands of events takes a fraction of their
   DynamoDB round trips one by one. A group that settles its notification (the usual `delivered`,
   `open`, `click` of one message) is one conditional write (`ReceiptStore.settle`); any other, or
   one whose status has moved on already, is applied a receipt at a time, in order.
3. Each receipt's address goes on the suppression list when the receipt says so (a hard bounce, a
   spam report, an unsubscribe), whether or not this stack knows the notification: the address is
   dead either way.
4. The applied events' ids, and the signed request's, are remembered last. If anything fails
   before, the request is answered 503 and the vendor sends it again; what was already applied is
   applied again without effect (every write is conditional), so nothing is lost and nothing is
   counted twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from threading import Lock

from notifier.models.channels import Channel, Priority
from notifier.models.responses import ReceiptsApplied
from notifier.platform.logs import log_keys, logger, record_keys
from notifier.platform.metrics import (
    COMPLAINTS,
    NOTIFICATIONS_BOUNCED,
    NOTIFICATIONS_DELIVERED,
    UNSUBSCRIBES,
    channel_metrics,
)
from notifier.receipts.models import ENGAGEMENT, Receipt, ReceiptKind
from notifier.stores.receipts import Applied, Effect, ReceiptStore, SeenEvents, Settled
from notifier.stores.suppressions import SuppressionStore

_METRIC = {
    ReceiptKind.BOUNCED: NOTIFICATIONS_BOUNCED,
    ReceiptKind.COMPLAINED: COMPLAINTS,
    ReceiptKind.UNSUBSCRIBED: UNSUBSCRIBES,
}


@dataclass
class ReceiptDeps:
    statuses: ReceiptStore
    suppressions: SuppressionStore
    seen: SeenEvents
    pool: ThreadPoolExecutor


@dataclass
class _Tally:
    applied: int = 0
    unchanged: int = 0
    unknown: int = 0
    suppressed: int = 0
    counts: dict[tuple[str, Channel, Priority], int] = field(default_factory=lambda: defaultdict(int))
    lock: Lock = field(default_factory=Lock)


def ingest(
    vendor: str,
    receipts: Sequence[Receipt],
    deps: ReceiptDeps,
    *,
    ignored: int = 0,
    invalid: int = 0,
    request: str | None = None,
) -> ReceiptsApplied:
    """Apply `receipts` (see the module's doc); what became of them. `request` is remembered with the
    events' ids once they are applied: the signed request they came in, which is not taken twice."""
    fresh, duplicates = _fresh(vendor, receipts, deps.seen)
    groups: dict[tuple[str | None, Channel], list[Receipt]] = defaultdict(list)
    for receipt in sorted(fresh, key=lambda r: r.occurred_at):
        groups[receipt.notification_id, receipt.channel].append(receipt)
    tally = _Tally()
    work = list(groups.values())
    if len(work) <= 1:
        for group in work:
            _apply_group(group, deps, tally)
    else:
        list(deps.pool.map(lambda group: _apply_group(group, deps, tally), work))
    event_ids = [r.event_id for r in fresh if r.event_id] + ([request] if request else [])
    if event_ids:
        deps.seen.remember(vendor, event_ids)
    for (name, channel, priority), value in tally.counts.items():
        channel_metrics.count(name, channel=channel, priority=priority, value=value)
    return ReceiptsApplied(
        received=len(receipts),
        applied=tally.applied,
        unchanged=tally.unchanged,
        duplicates=duplicates,
        unknown=tally.unknown,
        ignored=ignored,
        invalid=invalid,
        suppressed=tally.suppressed,
    )


def _fresh(vendor: str, receipts: Sequence[Receipt], seen: SeenEvents) -> tuple[list[Receipt], int]:
    """The receipts not applied before, and how many were."""
    ids = [r.event_id for r in receipts if r.event_id]
    already = seen.seen(vendor, ids) if ids else set()
    fresh: list[Receipt] = []
    taken: set[str] = set()
    for receipt in receipts:
        if receipt.event_id is not None:
            if receipt.event_id in already or receipt.event_id in taken:
                continue
            taken.add(receipt.event_id)
        fresh.append(receipt)
    return fresh, len(receipts) - len(fresh)


def _apply_group(group: list[Receipt], deps: ReceiptDeps, tally: _Tally) -> None:
    first = group[0]
    keys = record_keys(correlation_id=None, notification_id=first.notification_id, channel=first.channel)
    with log_keys(**keys):
        settled = deps.statuses.settle(group, first.notification_id) if first.notification_id else None
        if settled is not None:
            outcomes = [_settled_outcome(r, settled) for r in group]
        else:
            outcomes = [(r, _apply_one(r, deps)) for r in group]
        added = sum(_suppress(r, deps) for r in group)
    with tally.lock:
        tally.suppressed += added
        for receipt, applied in outcomes:
            if applied.effect is Effect.UNKNOWN:
                tally.unknown += 1
                continue
            if applied.effect is Effect.CHANGED:
                tally.applied += 1
            else:
                tally.unchanged += 1
            priority = applied.priority or Priority.STANDARD
            for name in _metrics_of(receipt, applied):
                tally.counts[name, receipt.channel, priority] += 1


def _settled_outcome(receipt: Receipt, settled: Settled) -> tuple[Receipt, Applied]:
    """What one receipt of a group settled in one write did, as if applied alone and in order: the
    deciding one and engagement changed the row; another DELIVERED or BOUNCED, or a deferral, found
    it settled already."""
    done = settled.applied
    if receipt is settled.terminal:
        return receipt, done
    if receipt.kind in ENGAGEMENT:
        return receipt, Applied(Effect.CHANGED, done.status, done.priority)
    return receipt, Applied(Effect.UNCHANGED, done.status, done.priority)


def _apply_one(receipt: Receipt, deps: ReceiptDeps) -> Applied:
    if receipt.notification_id is None:
        logger.info(
            "receipt for a message this stack did not send; ignored", extra={"receipt": receipt.kind.value}
        )
        return Applied(Effect.UNKNOWN)
    applied = deps.statuses.apply(receipt, receipt.notification_id)
    if applied.effect is Effect.UNKNOWN:
        logger.debug("receipt for an unknown notification; ignored", extra={"receipt": receipt.kind.value})
    elif applied.effect is Effect.CHANGED:  # one line per request says how many (webhooks.py)
        logger.debug(
            "receipt applied",
            extra={"receipt": receipt.kind.value, "status": applied.status, "reason": receipt.reason},
        )
    return applied


def _metrics_of(receipt: Receipt, applied: Applied) -> list[str]:
    if applied.effect is not Effect.CHANGED:
        return []
    names = []
    if receipt.kind is ReceiptKind.DELIVERED or applied.delivered:
        names.append(NOTIFICATIONS_DELIVERED)
    if receipt.kind in _METRIC:
        names.append(_METRIC[receipt.kind])
    return names


def _suppress(receipt: Receipt, deps: ReceiptDeps) -> int:
    if not (receipt.suppress and receipt.address):
        return 0
    added = deps.suppressions.add(
        receipt.address,
        reason=receipt.reason or receipt.source,
        source=receipt.source,
        notification_id=receipt.notification_id,
    )
    if added:
        logger.warning(
            "address suppressed: nothing more will be sent to it",
            extra={"address": receipt.address, "source": receipt.source},
        )
    return int(added)
