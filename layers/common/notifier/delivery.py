"""Delivery: what a channel consumer does with a batch of SQS records.

A batch goes through three steps, so that the vendor calls of all its records overlap:

1. **prepare** each record (concurrently): apply the recipient's preferences (opted out: SUPPRESSED;
   inside quiet hours: put back on the queue for later), mark the attempt, find the addresses and
   render the message in the recipient's language;
2. **send** every message of the batch in one `Provider.send_batch` call (FCM: one `send_each`;
   SendGrid and Twilio: a bounded pool of concurrent calls);
3. **finish** each record (concurrently): record SENT or FAILED with the provider's ids and reasons,
   forget push tokens the vendor says are unregistered, and hand back a transient failure so that
   record, alone, is retried by SQS.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from pydantic import Json

from .errors import DeliveryError, PermanentDeliveryError, TransientDeliveryError, UnregisteredAddressError
from .models import Channel, Envelope
from .observability import logger, metrics
from .preferences import Defer, Suppress, decide
from .providers import Delivery, Provider, Result
from .queues import Requeuer
from .recipients import Recipient, RecipientStore, addresses_for
from .rendering import render
from .status import Status, StatusStore


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


@dataclass(frozen=True)
class Job:
    """One record to deliver: its envelope, and where it came from (to put it back for later)."""

    key: str
    envelope: Envelope
    queue_arn: str = ""
    body: str = ""

    @classmethod
    def of(cls, record: NotificationRecord, raw_body: str) -> Job:
        return cls(record.messageId, record.body, record.eventSourceARN, raw_body)


Outcome = Status | None | DeliveryError | Exception
"""What became of a record: the status reached, None when there was nothing to do (already handled,
deferred, not for this channel), or the error that fails the record so SQS delivers it again."""


@dataclass
class _Ready:
    job: Job
    recipient: Recipient | None
    deliveries: list[Delivery]
    inline: bool


@dataclass
class _Done:
    outcome: Outcome
    metric: str | None = None
    tokens_removed: int = 0


_T = TypeVar("_T")
_R = TypeVar("_R")


class BatchDelivery:
    """Delivers the records of one batch on one channel (see the module's docstring)."""

    def __init__(self, channel: Channel, deps: DeliveryDeps, pool: ThreadPoolExecutor) -> None:
        self.channel = channel
        self.deps = deps
        self.pool = pool
        self._recipients: dict[str, Recipient] = {}

    def run(self, jobs: Sequence[Job]) -> dict[str, Outcome]:
        store = self.deps.recipients
        try:
            self._recipients = store.get_many(j.envelope.recipient_id for j in jobs) if store else {}
        except Exception as exc:
            logger.exception("could not read the batch's recipients; every record will be retried")
            return {job.key: exc for job in jobs}
        prepared = self._each(self._prepare, jobs)
        ready = [p for p in prepared if isinstance(p, _Ready)]
        deliveries = [d for r in ready for d in r.deliveries]
        results: list[Result] = self.deps.provider.send_batch(deliveries) if deliveries else []
        per_job: list[tuple[_Ready, list[Result]]] = []
        start = 0
        for r in ready:
            per_job.append((r, results[start : start + len(r.deliveries)]))
            start += len(r.deliveries)
        finished = iter(self._each(lambda pair: self._finish(*pair), per_job))
        outcomes: dict[str, Outcome] = {}
        counts: Counter[str] = Counter()
        for job, step in zip(jobs, prepared, strict=True):
            done = next(finished) if isinstance(step, _Ready) else step
            outcomes[job.key] = done.outcome
            if done.metric:
                counts[done.metric] += 1
            counts["PushTokensRemoved"] += done.tokens_removed
        for name, value in counts.items():  # from this thread only: Metrics is not thread-safe
            if value:
                metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
        return outcomes

    def _each(self, step: Callable[[_T], _R], items: Sequence[_T]) -> list[_R]:
        if len(items) <= 1:
            return [step(item) for item in items]
        return list(self.pool.map(step, items))

    # ------------------------------------------------------------------ steps

    def _prepare(self, job: Job) -> _Ready | _Done:
        envelope, channel, deps = job.envelope, self.channel, self.deps
        with _record_keys(job, channel):
            try:
                if channel not in envelope.channels:
                    logger.warning("record is not for this channel; check the filter policies")
                    return _Done(None)
                recipient = self._recipients.get(envelope.recipient_id)
                if recipient is not None:
                    held = self._apply_preferences(job, recipient)
                    if held is not None:
                        return held
                if not deps.status.begin_attempt(envelope, channel):
                    logger.info("already handled; not sending again")
                    return _Done(None, "DuplicatesSkipped")
                addresses = addresses_for(envelope, channel, recipient)
                message = render(envelope, channel, recipient.locale if recipient else None)
            except PermanentDeliveryError as exc:
                return self._failed(envelope, exc)
            except Exception as exc:
                logger.exception("could not prepare the delivery; the record will be retried")
                return _Done(exc)
            deliveries = [
                Delivery(envelope.notification_id, a, message, envelope.priority) for a in addresses
            ]
            return _Ready(job, recipient, deliveries, inline=channel in envelope.addresses)

    def _apply_preferences(self, job: Job, recipient: Recipient) -> _Done | None:
        envelope, deps = job.envelope, self.deps
        now = deps.clock()
        decision = decide(recipient, self.channel, str(envelope.event_type), envelope.priority, now)
        if isinstance(decision, Suppress):
            if not deps.status.suppress(envelope, self.channel, decision.reason):
                return _Done(None, "DuplicatesSkipped")
            logger.info("suppressed by the recipient's preferences", extra={"reason": decision.reason})
            return _Done(Status.SUPPRESSED, "NotificationsSuppressed")
        if isinstance(decision, Defer):
            if deps.requeuer is None or not job.queue_arn:
                return None  # nowhere to put it back: sending now beats holding it forever
            if not deps.status.defer(envelope.notification_id, self.channel, decision.until):
                return _Done(None, "DuplicatesSkipped")
            delay = deps.requeuer.send_later(job.queue_arn, job.body, decision.until, now=now)
            logger.info(
                "deferred by the recipient's quiet hours",
                extra={"until": decision.until.isoformat(), "delay_seconds": delay},
            )
            return _Done(None, "NotificationsDeferred")
        return None

    def _finish(self, ready: _Ready, results: list[Result]) -> _Done:
        envelope, deps = ready.job.envelope, self.deps
        with _record_keys(ready.job, self.channel):
            try:
                sent = [r for r in results if isinstance(r, str)]
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
                        error="; ".join(reasons) or None,
                    )
                    logger.info(
                        "notification sent", extra={"provider": deps.provider.name, "messages": len(sent)}
                    )
                    return _Done(Status.SENT, "NotificationsSent", removed)
                transient = [e for e in errors if isinstance(e, TransientDeliveryError)]
                if transient:
                    error = TransientDeliveryError("; ".join(reasons), _longest_wait(transient))
                    deps.status.record_error(envelope.notification_id, self.channel, error.reason)
                    logger.warning("delivery failed for now; SQS will retry", extra={"reason": error.reason})
                    return _Done(error, "TransientFailures", removed)
                return self._failed(envelope, PermanentDeliveryError("; ".join(reasons)), removed)
            except Exception as exc:
                logger.exception("could not record the outcome; the record will be retried")
                return _Done(exc)

    def _failed(self, envelope: Envelope, exc: PermanentDeliveryError, tokens_removed: int = 0) -> _Done:
        self.deps.status.advance(envelope.notification_id, self.channel, Status.FAILED, error=exc.reason)
        logger.warning("delivery failed permanently", extra={"reason": exc.reason})
        return _Done(Status.FAILED, "NotificationsFailed", tokens_removed)

    def _forget_dead_tokens(self, ready: _Ready, results: list[Result]) -> int:
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


class _record_keys:  # noqa: N801 - used as a context manager, reads like one
    """The record's ids on every log line of this thread while it is handled."""

    def __init__(self, job: Job, channel: Channel) -> None:
        self.keys = {
            "correlation_id": job.envelope.correlation_id,
            "notification_id": job.envelope.notification_id,
            "sqs_message_id": job.key,
            "channel": channel.value,
        }

    def __enter__(self) -> None:
        logger.thread_safe_append_keys(**self.keys)

    def __exit__(self, *exc: object) -> None:
        logger.thread_safe_remove_keys(list(self.keys))
