"""Scheduled sends: a notification sent later (`sendAt`, `send_at`) waits until it is due, then goes
out as any other.

Both ways of waiting end in one place, a message `{"notification_id", "send_at"}` on the due queue:

- **Up to 15 minutes ahead** (SQS's longest delay), the publish function sends it there with that
  delay (`schedule`).
- **Further ahead**, the due function, on that first message, creates an EventBridge Scheduler
  one-time schedule (`at()`, deleted after it fires, a dead-letter queue, a role that may only send
  to the due queue) whose target is the same queue and the same message. No Scheduler target can set
  the SNS attributes our subscriptions filter on, and SNS has no delay: hence the queue.

When the message comes and the notification is due (`release`), one conditional write per channel
moves SCHEDULED to ACCEPTED; the channels it moved are published to the topic from the pending
envelope, and the flow goes on as for any notification (quiet hours included). Scheduler fires
within its minute, so a message that comes early goes back on the queue for the seconds left.

A cancel (`StatusStore.cancel`) moves SCHEDULED to CANCELLED with the same kind of write: whichever
comes first wins, and a cancelled channel is never published. A schedule or a message that comes
twice finds nothing SCHEDULED the second time.

The due queue also carries digest windows' flushes (`{"kind": "flush", "key", "window_id"}`), each
handed to `notifier.scheduling.digests`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from notifier.errors import InvalidRequestError, PublishError
from notifier.models.envelope import Envelope
from notifier.platform.logs import logger
from notifier.platform.metrics import NOTIFICATIONS_PUBLISHED, NOTIFICATIONS_SCHEDULED, count_channels
from notifier.stores.attributes import iso
from notifier.stores.pending import PendingStore
from notifier.stores.status import StatusStore

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

    from notifier.api.sns_publisher import Publisher
    from notifier.scheduling.digests import Digests

SQS_MAX_DELAY_SECONDS = 900


def due_message(notification_id: str, send_at: datetime) -> str:
    return json.dumps({"notification_id": notification_id, "send_at": iso(send_at)}, separators=(",", ":"))


def flush_message(key: str, window_id: str, closes_at: datetime) -> str:
    """A digest window's flush (`notifier.scheduling.digests`), due when the window closes."""
    return json.dumps(
        {"kind": "flush", "key": key, "window_id": window_id, "closes_at": iso(closes_at)},
        separators=(",", ":"),
    )


def check_send_at(send_at: datetime, *, field: str, max_days: int, now: datetime) -> None:
    """A 400 naming `field` when `send_at` is not ahead, or further ahead than `max_days`."""
    if send_at <= now:
        raise InvalidRequestError({field: "in the past: send it without a time, or a time ahead"})
    if send_at > now + timedelta(days=max_days):
        raise InvalidRequestError({field: f"more than {max_days} days ahead (MaxScheduleDays)"})


def delay_seconds(send_at: datetime, now: datetime) -> int:
    """The SQS delay that brings a due message at `send_at`, or as close as SQS allows."""
    return max(0, min(SQS_MAX_DELAY_SECONDS, math.ceil((send_at - now).total_seconds())))


class Schedules:
    """The publish function's side: keep the envelope, record SCHEDULED, and queue the due message."""

    def __init__(
        self,
        pending: PendingStore,
        status: StatusStore,
        sqs: Callable[[], SQSClient],
        due_queue_url: str,
        *,
        max_days: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.pending = pending
        self.status = status
        self._sqs = sqs
        self.due_queue_url = due_queue_url
        self.max_days = max_days
        self.clock = clock

    def check(self, send_at: datetime, field: str) -> None:
        """A 400 naming `field` when `send_at` is not ahead, or is more than MaxScheduleDays ahead."""
        check_send_at(send_at, field=field, max_days=self.max_days, now=self.clock())

    def schedule(self, envelope: Envelope, send_at: datetime) -> None:
        """Raises PublishError (a 503: try again) when the due message could not be queued; the
        notification is then cancelled, so nothing half-scheduled is ever sent."""
        try:
            self.pending.put(envelope, send_at)
            self.status.schedule(envelope, send_at)
            self._sqs().send_message(
                QueueUrl=self.due_queue_url,
                MessageBody=due_message(envelope.notification_id, send_at),
                DelaySeconds=delay_seconds(send_at, self.clock()),
            )
        except (BotoCoreError, ClientError) as exc:
            logger.exception("could not schedule", extra={"notification_id": envelope.notification_id})
            try:
                self.status.cancel(envelope.notification_id)
            except (BotoCoreError, ClientError):
                logger.exception("could not cancel", extra={"notification_id": envelope.notification_id})
            raise PublishError("the notification could not be scheduled; try again") from exc
        logger.info(
            "notification scheduled",
            extra={"notification_id": envelope.notification_id, "send_at": iso(send_at)},
        )
        count_channels(NOTIFICATIONS_SCHEDULED, envelope.channels, envelope.priority)


@dataclass(frozen=True)
class DueTargets:
    """Where a schedule sends its message, and as whom."""

    group: str
    queue_arn: str
    role_arn: str
    dead_letter_arn: str


class DueMessages:
    """The due function's side: each message of the due queue, released, or waited for again."""

    def __init__(
        self,
        pending: PendingStore,
        status: StatusStore,
        publisher: Callable[[], Publisher],
        *,
        sqs: Callable[[], SQSClient],
        scheduler: Callable[[], Any],  # botocore's `scheduler` client
        due_queue_url: str,
        targets: DueTargets,
        digests: Callable[[], Digests] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._digests = digests
        self.pending = pending
        self.status = status
        self._publisher = publisher
        self._sqs = sqs
        self._scheduler = scheduler
        self.due_queue_url = due_queue_url
        self.targets = targets
        self.clock = clock

    def handle(self, body: str) -> str:
        """What was done with one due message: `released`, `nothing` (cancelled, or released before),
        `delayed` or `scheduled`; for a digest window's flush, what `Digests.flush` did. Raises to have
        SQS deliver it again (ValueError: it is not a due message, and never will be)."""
        message = _read(body)
        if "window_id" in message:
            if self._digests is None:
                raise ValueError("a flush message, and this function does not send digests")
            return self._digests().flush(message["key"], message["window_id"], message["closes_at"])
        notification_id, send_at = message["notification_id"], message["send_at"]
        now = self.clock()
        waiting = (send_at - now).total_seconds()
        if waiting > SQS_MAX_DELAY_SECONDS:
            self._create_schedule(notification_id, send_at)
            return "scheduled"
        if waiting > 0:
            self._sqs().send_message(
                QueueUrl=self.due_queue_url,
                MessageBody=due_message(notification_id, send_at),
                DelaySeconds=delay_seconds(send_at, now),
            )
            return "delayed"
        return self.release(notification_id)

    def release(self, notification_id: str) -> str:
        pending = self.pending.get(notification_id)
        if pending is None:  # cancelled and forgotten, or released and forgotten
            return "nothing"
        envelope = pending.envelope
        released = self.status.release(notification_id, envelope.channels)
        if released:
            self._publisher().publish_envelope(envelope.model_copy(update={"channels": released}))
            count_channels(NOTIFICATIONS_PUBLISHED, released, envelope.priority)
            logger.info(
                "scheduled notification released",
                extra={"notification_id": notification_id, "channels": [c.value for c in released]},
            )
        self.pending.delete(notification_id)
        return "released" if released else "nothing"

    def _create_schedule(self, notification_id: str, send_at: datetime) -> None:
        try:
            self._scheduler().create_schedule(
                Name=f"send-{notification_id}",
                GroupName=self.targets.group,
                ScheduleExpression=f"at({send_at.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S')})",
                ScheduleExpressionTimezone="UTC",
                FlexibleTimeWindow={"Mode": "OFF"},
                ActionAfterCompletion="DELETE",
                Target={
                    "Arn": self.targets.queue_arn,
                    "RoleArn": self.targets.role_arn,
                    "Input": due_message(notification_id, send_at),
                    "DeadLetterConfig": {"Arn": self.targets.dead_letter_arn},
                    "RetryPolicy": {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185},
                },
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConflictException":  # made before
                raise


def _read(body: str) -> dict[str, Any]:
    """The due message's fields; ValueError for a message that is not one (it fails alone)."""
    raw = json.loads(body)
    if not isinstance(raw, dict):
        raise ValueError("not a due message")
    if raw.get("kind") == "flush":
        key, window_id = raw.get("key"), raw.get("window_id")
        if not (isinstance(key, str) and key.startswith("digest#") and isinstance(window_id, str)):
            raise ValueError("a flush message without its digest key or window")
        return {"key": key, "window_id": window_id, "closes_at": _moment(raw.get("closes_at"))}
    if not isinstance(raw.get("notification_id"), str):
        raise ValueError("not a due message")
    return {"notification_id": raw["notification_id"], "send_at": _moment(raw.get("send_at"))}


def _moment(value: Any) -> datetime:
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("a due message's time has no offset")
    return moment
