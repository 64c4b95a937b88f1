"""Digests: events of one key that arrive within a window are sent as one notification when it closes
("Ana, Ben and 3 others liked your post"), exactly once per window, whatever the concurrency.

- **Gathering** (the publish function, `add`). An event whose route has a digest rule joins its key's
  open window with one conditional write (`DigestStore.join`), or opens the next one with a
  compare-and-swap on the key's arbiter (`DigestStore.open`): of requests racing in the same
  millisecond, one opens and the others join it. The event's channels are recorded DIGESTED, with
  `digested_into` naming the digest notification. With `leading`, the event that opens a window is
  sent at once, alone, and only the ones after it wait.
- **Timing.** The opener queues the window's flush on the due queue *before* it writes the window
  (a window is never left without its flush; a flush for a window that was never written, its opener
  having lost the race, does nothing). The delay is the window, at most SQS's 15 minutes, queued
  again for the rest when the window is longer; a window that fills up (DigestMaxEvents) is flushed
  at once by the event that filled it.
- **Flushing** (the due function, `flush`). One conditional write freezes the window (FLUSHING, with
  a lease), after which no event can join it; the digest is published under an id derived from the
  window; then the window is marked SENT. A flush that crashes after publishing is retried once its
  lease has run out and publishes the same notification again, which the consumers' status rows send
  once. A window whose only event was sent as the leading one ends EMPTY, sending nothing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from notifier.errors import PublishError, RetryLater
from notifier.models.envelope import DigestContent, Envelope, EventContent
from notifier.platform.logs import logger
from notifier.platform.metrics import NOTIFICATIONS_DIGESTED, NOTIFICATIONS_PUBLISHED, count_channels
from notifier.scheduling.due import delay_seconds, flush_message
from notifier.stores.digests import DigestStore, NewWindow, Window, WindowState, digest_id, digest_key
from notifier.stores.status import StatusStore

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

    from notifier.api.routing import DigestRule
    from notifier.api.sns_publisher import Publisher

FLUSH_LEASE_SECONDS = 30
"""How long a flush holds its window: the due function's Timeout, so a flush that died has let go
before SQS hands its message out again (the due queue's VisibilityTimeout, twice that)."""
ACTOR_NAME_MAX_CHARS = 128
DIGEST_PAYLOAD_FIELDS = ("parent_id", "parent_type", "timestamp")
"""What a digest keeps of its first event's payload when the whole of it would not fit in one SNS
message beside the names: what every template may use."""
SNS_MAX_BODY_BYTES = 256_000
"""SNS's 262,144 bytes, less room for the message attributes."""
WINDOW_WRITE_GRACE = timedelta(seconds=45)
"""How long after a window's end its flush still waits for the window to be written: more than the
publish function's Timeout (it writes the window within its invocation), less than the due queue's
VisibilityTimeout (so a flush that found nothing comes back once, after it)."""
OPEN_ATTEMPTS = 8
"""Rounds of "join, else open" an event gets before the request is answered 503: each lost round
means another request opened or filled a window meanwhile, so more than a few is a sign of trouble."""


class Digests:
    def __init__(
        self,
        store: DigestStore,
        status: StatusStore,
        publisher: Callable[[], Publisher],
        *,
        sqs: Callable[[], SQSClient],
        due_queue_url: str,
        max_events: int,
        window_override_seconds: int = 0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.status = status
        self._publisher = publisher
        self._sqs = sqs
        self.due_queue_url = due_queue_url
        self.max_events = max_events
        self.window_override_seconds = window_override_seconds
        self.clock = clock

    # ----------------------------------------------------------------------------------------
    # Gathering: the publish function
    # ----------------------------------------------------------------------------------------

    def add(self, envelope: Envelope, rule: DigestRule) -> str | None:
        """Gather the event into its key's window: the id of the digest it will go out in, or None when
        it opened the window as the leading event and went out alone. Raises PublishError (a 503: try
        again) when it could be neither; nothing is then recorded for it."""
        payload = _payload(envelope)
        key = self.key_of(envelope, rule)
        actor = _actor(payload)
        try:
            for _ in range(OPEN_ATTEMPTS):
                now = self.clock()
                seen = self.store.current(key)
                if seen is not None:
                    count = self.store.join(
                        key, seen, envelope.notification_id, actor, now=now, max_events=self.max_events
                    )
                    if count is not None:
                        if count >= self.max_events:  # full: flushed now rather than when it closes
                            self._flush_early(key, seen, now)
                        return self._digested(envelope, key, seen)
                window = NewWindow(
                    window_id=uuid.uuid4().hex,
                    closes_at=now + timedelta(seconds=self.window_override_seconds or rule.window_seconds),
                    about=_about(envelope, payload),
                    first_event_id=envelope.notification_id,
                    actor=actor,
                    leading=rule.leading,
                )
                self._queue_flush(key, window.window_id, window.closes_at)
                if self.store.open(key, seen, window):
                    if rule.leading:
                        return self._lead(envelope, key, window, actor)
                    return self._digested(envelope, key, window.window_id)
        except (BotoCoreError, ClientError) as exc:
            logger.exception("could not digest", extra={"notification_id": envelope.notification_id})
            raise PublishError("the event could not be queued; try again") from exc
        logger.error("no window to join or open", extra={"notification_id": envelope.notification_id})
        raise PublishError("the event could not be queued; try again")

    @staticmethod
    def key_of(envelope: Envelope, rule: DigestRule) -> str:
        """The digest key the event is gathered under: its recipient, its type, and the values of the
        rule's payload fields."""
        payload = _payload(envelope)
        by = [_text(payload.get(field)) for field in rule.payload_fields()]
        return digest_key([envelope.recipient_id, str(envelope.event_type), *by])

    def _lead(self, envelope: Envelope, key: str, window: NewWindow, actor: str | None) -> str | None:
        """Send the window's first event alone. If SNS refuses it, it joins its own window instead, so
        it is sent with the digest rather than lost (or sent twice, by a client's retry)."""
        try:
            self._publisher().publish_envelope(envelope)
        except PublishError:
            now = self.clock()
            joined = self.store.join(
                key, window.window_id, envelope.notification_id, actor, now=now, max_events=self.max_events
            )
            if joined is None:
                raise
            return self._digested(envelope, key, window.window_id)
        count_channels(NOTIFICATIONS_PUBLISHED, envelope.channels, envelope.priority)
        return None

    def _digested(self, envelope: Envelope, key: str, window_id: str) -> str:
        into = digest_id(key, window_id)
        count_channels(NOTIFICATIONS_DIGESTED, envelope.channels, envelope.priority)
        try:
            self.status.digested(envelope, into)
        except (BotoCoreError, ClientError):
            # The event is in the window, and the window's digest will carry it: answering an error
            # now would have the client send it a second time.
            logger.exception("could not record DIGESTED", extra={"notification_id": envelope.notification_id})
        logger.info("event digested", extra={"notification_id": envelope.notification_id, "digest_id": into})
        return into

    def _flush_early(self, key: str, window_id: str, now: datetime) -> None:
        """Queue the full window's flush now. The event is in the window already, so a failure here
        must not fail it (its client would send it again, to be counted twice): the window then goes
        when it closes, by the flush its opener queued."""
        try:
            self._queue_flush(key, window_id, now)
        except (BotoCoreError, ClientError):
            logger.warning(
                "could not flush a full window early", extra={"window_id": window_id}, exc_info=True
            )

    def _queue_flush(self, key: str, window_id: str, closes_at: datetime) -> None:
        self._sqs().send_message(
            QueueUrl=self.due_queue_url,
            MessageBody=flush_message(key, window_id, closes_at),
            DelaySeconds=delay_seconds(closes_at, self.clock()),
        )

    # ----------------------------------------------------------------------------------------
    # Flushing: the due function
    # ----------------------------------------------------------------------------------------

    def flush(self, key: str, window_id: str, closes_at: datetime) -> str:
        """Send the window's digest if it is due: `sent`, `empty` (nothing but the leading event),
        `delayed` (not closed yet: queued again for the rest) or `nothing` (never opened, sent
        already, or being sent by another flush). Raises to have SQS deliver the message again:
        RetryLater when the window is not there yet."""
        now = self.clock()
        claimed = self.store.claim(
            key, window_id, now=now, max_events=self.max_events, lease_seconds=FLUSH_LEASE_SECONDS
        )
        if claimed is None:
            # Its opener queued this message before writing the window: either it lost the race to
            # open (and the window will never be), or its write has not landed yet. Until the
            # window's end it waits as any early flush; soon after, it is asked again later (SQS's
            # next delivery); after that, the window never was.
            if now < closes_at:
                self._queue_flush(key, window_id, closes_at)
                return "delayed"
            if now < closes_at + WINDOW_WRITE_GRACE:
                raise RetryLater(f"digest window {window_id} is not there yet")
            return "nothing"
        window, mine = claimed
        if not mine:
            if window.state == WindowState.OPEN and window.closes_at > now:
                self._queue_flush(key, window_id, window.closes_at)
                return "delayed"
            return "nothing"
        if window.event_count == 0:
            self.store.finish(window, WindowState.EMPTY)
            return "empty"
        envelope = digest_envelope(window, now)
        self._publisher().publish_envelope(envelope)
        count_channels(NOTIFICATIONS_PUBLISHED, envelope.channels, envelope.priority)
        self.store.finish(window, WindowState.SENT)
        logger.info(
            "digest sent",
            extra={"notification_id": envelope.notification_id, "events": window.event_count, "key": key},
        )
        return "sent"


def digest_envelope(window: Window, now: datetime) -> Envelope:
    """The notification a window is sent as: always the same id for the same window. Its first event
    fitted in an SNS message; with the names beside it, its payload may not, and is then cut to the
    fields every template may use."""
    about = window.about
    envelope = Envelope(
        notification_id=window.digest_id,
        correlation_id=about["correlation_id"],
        recipient_id=about["recipient_id"],
        event_type=about["event_type"],
        priority=about["priority"],
        channels=about["channels"],
        content=DigestContent(count=window.event_count, actors=window.actors, payload=about["payload"]),
        created_at=now,
    )
    if len(envelope.model_dump_json().encode()) <= SNS_MAX_BODY_BYTES:
        return envelope
    kept = {name: value for name, value in about["payload"].items() if name in DIGEST_PAYLOAD_FIELDS}
    content = DigestContent(count=window.event_count, actors=window.actors, payload=kept)
    return envelope.model_copy(update={"content": content})


def _about(envelope: Envelope, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "recipient_id": envelope.recipient_id,
        "event_type": str(envelope.event_type),
        "priority": envelope.priority.value,
        "channels": [channel.value for channel in envelope.channels],
        "correlation_id": envelope.correlation_id,
        "payload": payload,
    }


def _payload(envelope: Envelope) -> dict[str, Any]:
    if not isinstance(envelope.content, EventContent):
        raise TypeError("only events are digested")
    return envelope.content.payload


def _actor(payload: dict[str, Any]) -> str | None:
    """The event's `actor_name`, as a digest names it: text only, one line, at most
    ACTOR_NAME_MAX_CHARS (a name is not a paragraph, and ten of them live in the window's item)."""
    name = payload.get("actor_name")
    text = _text(name) if isinstance(name, str) else None
    return text[:ACTOR_NAME_MAX_CHARS].rstrip() if text else None


def _text(value: Any) -> str | None:
    """A payload value as the one-line text a key or a name is made of; None for none or blank."""
    if value is None:
        return None
    text = " ".join((value if isinstance(value, str) else json.dumps(value, sort_keys=True)).split())
    return text or None
