"""Delivery: what a channel consumer does with a batch of SQS records.

A batch goes through three steps, so that the vendor calls of all its records overlap:

1. **prepare** each record (concurrently): on its last receive, mark it DEAD_LETTERED and let it go
   to the dead-letter queue; apply the recipient's preferences (opted out: SUPPRESSED; inside quiet
   hours: put back on the queue for later) and the suppression list (every address on it:
   SUPPRESSED; some: the others are sent to; the batch's addresses are read at once); begin the
   attempt, which takes the (notification, channel)'s lease, so a second copy of the message neither
   sends again nor races this one; find the addresses and render the message in the recipient's
   language;
2. **send** every message of the batch in one `Provider.send_batch` call (FCM: one `send_each`;
   SendGrid and Twilio: a bounded pool of concurrent calls);
3. **finish** each record as soon as its last message is answered (concurrently, while the rest of
   the batch is still being sent): record SENT or FAILED with the provider's ids and reasons, forget
   push tokens the vendor says are unregistered, and hand back a transient failure so that record,
   alone, is retried by SQS after its backoff. Recording each send at once means that an execution
   environment dying mid-batch leaves unrecorded only the calls in flight at that moment.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from pydantic import Json

from notifier.delivery.preferences import Defer, Suppress, decide
from notifier.delivery.rendering import render
from notifier.delivery.requeue import Requeuer
from notifier.errors import (
    DeadLettered,
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
    UnregisteredAddressError,
)
from notifier.models.channels import Channel, Priority
from notifier.models.envelope import Envelope
from notifier.models.recipients import Recipient, addresses_for
from notifier.models.responses import Suppression
from notifier.models.statuses import Status
from notifier.platform.logs import log_keys, logger, record_keys
from notifier.platform.metrics import (
    CONCURRENT_ATTEMPTS_DEFERRED,
    DUPLICATES_SKIPPED,
    NOTIFICATIONS_DEAD_LETTERED,
    NOTIFICATIONS_DEFERRED,
    NOTIFICATIONS_FAILED,
    NOTIFICATIONS_SENT,
    NOTIFICATIONS_SUPPRESSED,
    PUSH_TOKENS_REMOVED,
    TRANSIENT_FAILURES,
    channel_metrics,
)
from notifier.providers import Delivery, Provider, Result
from notifier.stores.recipients import RecipientStore
from notifier.stores.status import StatusStore
from notifier.stores.suppressions import SuppressionStore, normalized


class NotificationRecord(SqsRecordModel):
    """An SQS record whose body is the envelope. A body that is not one fails this record alone."""

    body: Json[Envelope]


@dataclass
class DeliveryDeps:
    status: StatusStore
    recipients: RecipientStore | None
    provider: Provider
    requeuer: Requeuer | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    suppressions: SuppressionStore | None = None
    """The suppression list (e-mail and SMS); None: nothing is suppressed by address."""


@dataclass(frozen=True)
class Job:
    """One record to deliver: its envelope, where it came from (to put it back for later), and how
    many times SQS has handed it out."""

    key: str
    envelope: Envelope
    queue_arn: str = ""
    body: str = ""
    receive_count: int = 1

    @classmethod
    def of(cls, record: NotificationRecord, raw_body: str) -> Job:
        count = int(record.attributes.ApproximateReceiveCount or 1)
        return cls(record.messageId, record.body, record.eventSourceARN, raw_body, count)


@dataclass(frozen=True)
class Attempts:
    """How many receives a record gets, and how long an attempt may hold its lease."""

    max_receive_count: int
    lease_seconds: float


Outcome = Status | None | DeliveryError | Exception
"""What became of a record: the status reached, None when there was nothing to do (already handled,
deferred, not for this channel), or the error that fails the record so SQS delivers it again."""


@dataclass
class _ReadyToSend:
    job: Job
    recipient: Recipient | None
    deliveries: list[Delivery]
    inline: bool
    results: list[Result | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.results = [None] * len(self.deliveries)


@dataclass
class _Finished:
    outcome: Outcome
    metric: str | None = None
    tokens_removed: int = 0


_T = TypeVar("_T")
_R = TypeVar("_R")


class BatchDelivery:
    """Delivers the records of one batch on one channel (see the module's docstring)."""

    def __init__(
        self, channel: Channel, deps: DeliveryDeps, pool: ThreadPoolExecutor, attempts: Attempts
    ) -> None:
        self.channel = channel
        self.deps = deps
        self.pool = pool
        self.attempts = attempts
        self._recipients: dict[str, Recipient] = {}
        self._suppressed: dict[str, Suppression] = {}

    def run(self, jobs: Sequence[Job]) -> dict[str, Outcome]:
        store = self.deps.recipients
        try:
            self._recipients = store.get_many(j.envelope.recipient_id for j in jobs) if store else {}
        except Exception as exc:
            logger.exception("could not read the batch's recipients; every record will be retried")
            return {job.key: exc for job in jobs}
        try:
            self._suppressed = self._read_suppressions(jobs)
        except Exception as exc:
            logger.exception("could not read the suppression list; every record will be retried")
            return {job.key: exc for job in jobs}
        prepared = self._each(self._prepare, jobs)
        finished = self._send_and_finish([p for p in prepared if isinstance(p, _ReadyToSend)])
        outcomes: dict[str, Outcome] = {}
        counts: Counter[tuple[str, Priority]] = Counter()
        for job, step in zip(jobs, prepared, strict=True):
            done = finished[job.key] if isinstance(step, _ReadyToSend) else step
            outcomes[job.key] = done.outcome
            priority = job.envelope.priority
            if done.metric:
                counts[done.metric, priority] += 1
            counts[PUSH_TOKENS_REMOVED, priority] += done.tokens_removed
        for (name, priority), value in counts.items():  # written by the consumer at the end
            channel_metrics.count(name, channel=self.channel, priority=priority, value=value)
        return outcomes

    def _send_and_finish(self, ready: list[_ReadyToSend]) -> dict[str, _Finished]:
        """Send every message of the batch at once; finish each record as soon as its messages are
        all answered, while the others are still being sent."""
        owners = [(r, slot) for r in ready for slot in range(len(r.deliveries))]
        deliveries = [r.deliveries[slot] for r, slot in owners]
        waiting = {r.job.key: len(r.deliveries) for r in ready}
        lock = threading.Lock()
        finishing: dict[str, Future[_Finished]] = {}

        def on_result(index: int, result: Result) -> None:
            owner, slot = owners[index]
            owner.results[slot] = result
            with lock:
                waiting[owner.job.key] -= 1
                complete = waiting[owner.job.key] == 0
            if complete:
                finishing[owner.job.key] = self.pool.submit(self._finish, owner)

        for r in ready:
            if not r.deliveries:  # nothing to send; finish it like the others
                finishing[r.job.key] = self.pool.submit(self._finish, r)
        try:
            if deliveries:
                self.deps.provider.send_batch(deliveries, on_result)
        except BaseException:
            # The provider gave up mid-batch: what it did send is recorded before the error goes on.
            wait(list(finishing.values()))
            raise
        return {key: future.result() for key, future in finishing.items()}

    def _each(self, step: Callable[[_T], _R], items: Sequence[_T]) -> list[_R]:
        if len(items) <= 1:
            return [step(item) for item in items]
        return list(self.pool.map(step, items))

    # ------------------------------------------------------------------ steps

    def _prepare(self, job: Job) -> _ReadyToSend | _Finished:
        envelope, channel = job.envelope, self.channel
        with _record_keys(job, channel):
            recipient = self._recipients.get(envelope.recipient_id)
            try:
                held = self._hold(job, recipient)
                if held is not None:
                    return held
                addresses = self._not_suppressed(addresses_for(envelope, channel, recipient))
                message = render(envelope, channel, recipient.locale if recipient else None)
            except PermanentDeliveryError as exc:
                return self._failed(envelope, exc)
            except Exception as exc:
                logger.exception("could not prepare the delivery; the record will be retried")
                return _Finished(exc)
            deliveries = [
                Delivery(envelope.notification_id, a, message, envelope.priority, envelope.correlation_id)
                for a in addresses
            ]
            return _ReadyToSend(job, recipient, deliveries, inline=channel in envelope.addresses)

    def _hold(self, job: Job, recipient: Recipient | None) -> _Finished | None:
        """Why this record is not sent now, or None when it is: not for this channel, out of attempts,
        held by the recipient's preferences or the suppression list, or already handled or being
        handled by another copy."""
        if self.channel not in job.envelope.channels:
            logger.warning("record is not for this channel; check the filter policies")
            return _Finished(None)
        if job.receive_count >= self.attempts.max_receive_count:
            return self._dead_letter(job)
        held = (self._apply_preferences(job, recipient) if recipient else None) or self._apply_suppressions(
            job
        )
        if held is not None:
            return held
        claim = self.deps.status.begin_attempt(
            job.envelope, self.channel, lease_seconds=self.attempts.lease_seconds
        )
        if claim.busy:
            logger.info("another delivery of this notification is in progress; trying later")
            wait = TransientDeliveryError("another delivery is in progress", claim.busy_seconds)
            return _Finished(wait, CONCURRENT_ATTEMPTS_DEFERRED)
        if not claim.granted:
            logger.info("already handled; not sending again")
            return _Finished(None, DUPLICATES_SKIPPED)
        return None

    def _dead_letter(self, job: Job) -> _Finished:
        attempts = job.receive_count - 1
        reason = f"no delivery attempt finished in {attempts} receives (the function failed or timed out)"
        if not self.deps.status.dead_letter(job.envelope, self.channel, reason):
            logger.info("already handled; not sending again")
            return _Finished(None, DUPLICATES_SKIPPED)
        logger.warning(
            "out of attempts; marked DEAD_LETTERED and left to the dead-letter queue",
            extra={"receive_count": job.receive_count},
        )
        dead = DeadLettered(f"dead-lettered after {attempts} attempts")
        return _Finished(dead, NOTIFICATIONS_DEAD_LETTERED)

    def _apply_preferences(self, job: Job, recipient: Recipient) -> _Finished | None:
        envelope, deps = job.envelope, self.deps
        now = deps.clock()
        decision = decide(recipient, self.channel, str(envelope.event_type), envelope.priority, now)
        if isinstance(decision, Suppress):
            if not deps.status.suppress(envelope, self.channel, decision.reason):
                return _Finished(None, DUPLICATES_SKIPPED)
            logger.info("suppressed by the recipient's preferences", extra={"reason": decision.reason})
            return _Finished(Status.SUPPRESSED, NOTIFICATIONS_SUPPRESSED)
        if isinstance(decision, Defer):
            if deps.requeuer is None or not job.queue_arn:
                return None  # nowhere to put it back: sending now beats holding it forever
            if not deps.status.defer(envelope.notification_id, self.channel, decision.until):
                return _Finished(None, DUPLICATES_SKIPPED)
            delay = deps.requeuer.send_later(job.queue_arn, job.body, decision.until, now=now)
            logger.info(
                "deferred by the recipient's quiet hours",
                extra={"until": decision.until.isoformat(), "delay_seconds": delay},
            )
            return _Finished(None, NOTIFICATIONS_DEFERRED)
        return None

    def _read_suppressions(self, jobs: Sequence[Job]) -> dict[str, Suppression]:
        """The batch's addresses that are on the suppression list, in one read."""
        store = self.deps.suppressions
        if store is None:
            return {}
        addresses = [a for job in jobs for a in self._addresses_or_none(job)]
        return store.find_many(addresses) if addresses else {}

    def _addresses_or_none(self, job: Job) -> list[str]:
        try:
            return addresses_for(job.envelope, self.channel, self._recipients.get(job.envelope.recipient_id))
        except PermanentDeliveryError:
            return []  # failed when the record is prepared, with the reason

    def _apply_suppressions(self, job: Job) -> _Finished | None:
        """SUPPRESSED when every address of the record is on the suppression list."""
        if not self._suppressed:
            return None
        addresses = self._addresses_or_none(job)
        found = [self._suppressed.get(normalized(a)) for a in addresses]
        if not addresses or None in found:
            return None
        reasons = "; ".join(sorted({f"{s.source}: {s.reason}" for s in found if s is not None}))
        reason = f"address suppressed ({reasons})"
        if not self.deps.status.suppress(job.envelope, self.channel, reason):
            return _Finished(None, DUPLICATES_SKIPPED)
        logger.info("suppressed: every address is on the suppression list", extra={"reason": reason})
        return _Finished(Status.SUPPRESSED, NOTIFICATIONS_SUPPRESSED)

    def _not_suppressed(self, addresses: list[str]) -> list[str]:
        kept = [a for a in addresses if normalized(a) not in self._suppressed]
        if len(kept) < len(addresses):
            logger.info("not sending to suppressed addresses", extra={"skipped": len(addresses) - len(kept)})
        return kept

    def _finish(self, ready: _ReadyToSend) -> _Finished:
        envelope, deps = ready.job.envelope, self.deps
        results = [r for r in ready.results if r is not None]
        with _record_keys(ready.job, self.channel):
            try:
                sent = [r for r in results if isinstance(r, str)]
                providers = list(dict.fromkeys(getattr(r, "provider", deps.provider.name) for r in sent))
                errors = [r for r in results if isinstance(r, DeliveryError)]
                removed = self._forget_dead_tokens(ready, results)
                reasons = [e.reason for e in errors]
                if sent:
                    if errors:
                        logger.warning("some addresses failed", extra={"reasons": reasons})
                    deps.status.advance(
                        envelope.notification_id,
                        self.channel,
                        Status.SENT,
                        provider_message_id=",".join(sent),
                        provider=",".join(providers),
                        error="; ".join(reasons) or None,
                    )
                    logger.info(
                        "notification sent", extra={"provider": ",".join(providers), "messages": len(sent)}
                    )
                    return _Finished(Status.SENT, NOTIFICATIONS_SENT, removed)
                transient = [e for e in errors if isinstance(e, TransientDeliveryError)]
                if transient:
                    error = TransientDeliveryError("; ".join(reasons), _longest_wait(transient))
                    deps.status.record_error(envelope.notification_id, self.channel, error.reason)
                    logger.warning("delivery failed for now; SQS will retry", extra={"reason": error.reason})
                    return _Finished(error, TRANSIENT_FAILURES, removed)
                return self._failed(envelope, PermanentDeliveryError("; ".join(reasons)), removed)
            except Exception as exc:
                logger.exception("could not record the outcome; the record will be retried")
                return _Finished(exc)

    def _failed(self, envelope: Envelope, exc: PermanentDeliveryError, tokens_removed: int = 0) -> _Finished:
        self.deps.status.advance(envelope.notification_id, self.channel, Status.FAILED, error=exc.reason)
        logger.warning("delivery failed permanently", extra={"reason": exc.reason})
        return _Finished(Status.FAILED, NOTIFICATIONS_FAILED, tokens_removed)

    def _forget_dead_tokens(self, ready: _ReadyToSend, results: list[Result]) -> int:
        """Remove from the recipient every push token the vendor says is unregistered; how many."""
        store = self.deps.recipients
        if ready.inline or ready.recipient is None or store is None:
            return 0
        removed = 0
        for delivery, result in zip(ready.deliveries, results, strict=True):
            if not isinstance(result, UnregisteredAddressError):
                continue
            try:
                removed += store.remove_push_token(ready.recipient.recipient_id, delivery.address)
            except Exception:
                logger.exception("could not remove an unregistered push token")
        if removed:
            logger.info("removed unregistered push tokens from the recipient", extra={"removed": removed})
        return removed


def _longest_wait(errors: list[TransientDeliveryError]) -> float | None:
    waits = [e.retry_after_seconds for e in errors if e.retry_after_seconds is not None]
    return max(waits) if waits else None


def _record_keys(job: Job, channel: Channel) -> AbstractContextManager[None]:
    """The record's ids on every log line of this thread while it is handled (see `platform.logs`)."""
    return log_keys(
        **record_keys(
            correlation_id=job.envelope.correlation_id,
            notification_id=job.envelope.notification_id,
            sqs_message_id=job.key,
            channel=channel,
        )
    )
