"""Publishing: from an API request to SNS messages, and their ACCEPTED status.

A notification is one SNS message; a bulk request is the same messages sent with PublishBatch. A
status is recorded ACCEPTED only for a message SNS has taken.

Metrics: `NotificationsPublished`, one for each channel of each notification or event SNS took, by
channel and priority (see `platform.metrics`), written before the call returns; `EventsPublished` and
`EventsNotPublished`, one for each event, with the function's other metrics.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError

from notifier.api.routing import Route, route_event, route_notification
from notifier.errors import InvalidRequestError, NothingPublishedError, PublishError
from notifier.models.channels import DIRECT_EVENT_TYPE
from notifier.models.envelope import Envelope, EventContent, MessageContent
from notifier.models.requests import EventRequest, PublishRequest
from notifier.models.responses import (
    BulkItemAccepted,
    BulkItemFailed,
    BulkItemResult,
    BulkNotPublished,
    BulkPublished,
    EventAccepted,
    PublishAccepted,
)
from notifier.platform.logs import logger
from notifier.platform.metrics import NOTIFICATIONS_PUBLISHED, channel_metrics, metrics
from notifier.stores.status import StatusStore

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sns.type_defs import MessageAttributeValueTypeDef, PublishBatchRequestEntryTypeDef

    from notifier.api.routing import DigestRule
    from notifier.scheduling.digests import Digests
    from notifier.scheduling.due import Schedules

SNS_MAX_BATCH_ENTRIES = 10
SNS_MAX_PAYLOAD_BYTES = 262_144
"""SNS's limit for one message, and for all the messages of one PublishBatch call (with attributes)."""
BATCH_CALLS_AT_ONCE = 4
"""PublishBatch calls in flight at once for one bulk request."""


def notification_envelope(request: PublishRequest, *, correlation_id: str) -> Envelope:
    route = route_notification(request)
    return Envelope(
        notification_id=str(uuid.uuid4()),
        correlation_id=correlation_id,
        recipient_id=request.recipient_id,
        event_type=DIRECT_EVENT_TYPE,
        priority=route.priority,
        channels=route.channels,
        content=MessageContent(
            body=request.message_body, subject=request.subject, title=request.title, data=request.data or {}
        ),
        addresses={request.type: request.to} if request.to else {},
        created_at=datetime.now(UTC),
    )


def event_envelope(request: EventRequest, *, correlation_id: str, route: Route | None = None) -> Envelope:
    """The event's envelope, routed by `route` (the event's own when not given)."""
    route = route or route_event(request)
    return Envelope(
        notification_id=str(uuid.uuid4()),
        correlation_id=correlation_id,
        recipient_id=request.user_id,
        event_type=request.event_type,
        priority=route.priority,
        channels=route.channels,
        content=EventContent(payload=request.payload.model_dump(mode="json", exclude_none=True)),
        created_at=datetime.now(UTC),
    )


def message_attributes(envelope: Envelope) -> dict[str, MessageAttributeValueTypeDef]:
    """The attributes the subscriptions' filter policies select on."""
    return {
        "channel": {
            "DataType": "String.Array",
            "StringValue": json.dumps([c.value for c in envelope.channels]),
        },
        "priority": {"DataType": "String", "StringValue": envelope.priority.value},
        "event_type": {"DataType": "String", "StringValue": str(envelope.event_type)},
        "correlation_id": {"DataType": "String", "StringValue": envelope.correlation_id},
    }


# --------------------------------------------------------------------------------------------
# What the API's POST routes do
# --------------------------------------------------------------------------------------------


def publish_notification(
    request: PublishRequest,
    *,
    correlation_id: str,
    publisher: Publisher,
    schedules: Callable[[], Schedules] | None = None,
) -> PublishAccepted:
    """Publish now, or with `sendAt` keep it until then (`notifier.scheduling.due`)."""
    envelope = notification_envelope(request, correlation_id=correlation_id)
    message = _Message.of(envelope)
    _check_fits_sns({"messageBody": message})
    if request.send_at is not None:
        _schedule(envelope, request.send_at, "sendAt", schedules)
    else:
        publisher.publish(message)
        _count_published([envelope])
    return PublishAccepted(notificationId=envelope.notification_id)


def publish_event(
    request: EventRequest,
    *,
    correlation_id: str,
    publisher: Publisher,
    schedules: Callable[[], Schedules] | None = None,
    digests: Callable[[], Digests] | None = None,
) -> EventAccepted:
    """Publish now; or with `send_at` keep it until then (`notifier.scheduling.due`); or, when its
    route has a digest, gather it with the others of its key (`notifier.scheduling.digests`). An event
    sent for later is sent alone when it is due."""
    route = route_event(request)
    envelope = event_envelope(request, correlation_id=correlation_id, route=route)
    message = _Message.of(envelope)
    _check_fits_sns({"payload": message})
    digest = route.digest
    if request.send_at is not None:
        _schedule(envelope, request.send_at, "send_at", schedules)
    elif digest is not None and digests is not None:
        digests().add(envelope, digest)
    else:
        publisher.publish(message)
        _count_published([envelope])
    metrics.add_metric(name="EventsPublished", unit=MetricUnit.Count, value=1)
    return EventAccepted(event_id=envelope.notification_id)


def _schedule(
    envelope: Envelope, send_at: datetime, field: str, schedules: Callable[[], Schedules] | None
) -> None:
    if schedules is None:
        raise InvalidRequestError({field: "this stack does not schedule sends"})
    scheduled = schedules()
    scheduled.check(send_at, field)
    scheduled.schedule(envelope, send_at)


def publish_events(
    requests: Sequence[EventRequest],
    *,
    correlation_id: str,
    publisher: Publisher,
    digests: Callable[[], Digests] | None = None,
) -> BulkPublished:
    """Publish each event as `publish_event` would: in PublishBatch calls, and those with a digest into
    their windows; one result per event, in order. Raises NothingPublishedError (with the results)
    when no event could be queued."""
    scheduled = [f"events.{i}.send_at" for i, request in enumerate(requests) if request.send_at is not None]
    if scheduled:  # one POST /event each: a bulk is published at once
        raise InvalidRequestError(dict.fromkeys(scheduled, "not taken in a bulk: send the event alone"))
    routes = [route_event(request) for request in requests]
    envelopes = [
        event_envelope(request, correlation_id=correlation_id, route=route)
        for request, route in zip(requests, routes, strict=True)
    ]
    messages = [_Message.of(envelope, index) for index, envelope in enumerate(envelopes)]
    _check_fits_sns({f"events.{m.index}.payload": m for m in messages})
    rules = [route.digest if digests is not None else None for route in routes]
    outcomes: list[PublishOutcome | None] = [None] * len(messages)
    now = [m for m, rule in zip(messages, rules, strict=True) if rule is None]
    for message, outcome in zip(now, publisher.publish_batch(now), strict=True):
        outcomes[message.index] = outcome
    if digests is not None:
        _gather(
            digests(),
            [(m, rule) for m, rule in zip(messages, rules, strict=True) if rule is not None],
            outcomes,
        )
    done = [outcome for outcome in outcomes if outcome is not None]
    results: list[BulkItemResult] = [
        BulkItemFailed(index=index, error=outcome.reason, retryable=outcome.retryable)
        if isinstance(outcome, NotPublished)
        else BulkItemAccepted(index=index, event_id=envelope.notification_id)
        for index, (envelope, outcome) in enumerate(zip(envelopes, done, strict=True))
    ]
    accepted = sum(not isinstance(outcome, NotPublished) for outcome in done)
    failed = len(done) - accepted
    if accepted:
        metrics.add_metric(name="EventsPublished", unit=MetricUnit.Count, value=accepted)
    if failed:
        metrics.add_metric(name="EventsNotPublished", unit=MetricUnit.Count, value=failed)
    _count_published([m.envelope for m in now if isinstance(outcomes[m.index], Published)])
    if not accepted:
        retryable = any(isinstance(outcome, NotPublished) and outcome.retryable for outcome in done)
        raise NothingPublishedError(
            BulkNotPublished(
                accepted=0,
                failed=failed,
                results=results,
                message="none of the events could be queued" + ("; try again" if retryable else ""),
                retryable=retryable,
            )
        )
    return BulkPublished(accepted=accepted, failed=failed, results=results)


def _gather(
    digests: Digests, gathered: Sequence[tuple[_Message, DigestRule]], outcomes: list[PublishOutcome | None]
) -> None:
    """The events of a bulk into their digest windows, each with an outcome like a PublishBatch
    entry's. Events of one key are gathered one after another (racing each other would only cost
    rounds of join-or-open), different keys at once."""
    by_key: dict[str, list[tuple[_Message, DigestRule]]] = {}
    for message, rule in gathered:
        by_key.setdefault(digests.key_of(message.envelope, rule), []).append((message, rule))

    def gather(events: list[tuple[_Message, DigestRule]]) -> None:
        for message, rule in events:
            try:
                outcomes[message.index] = Gathered(digests.add(message.envelope, rule))
            except PublishError as exc:
                outcomes[message.index] = NotPublished(f"not queued: {exc}", retryable=True)

    if by_key:
        with ThreadPoolExecutor(
            max_workers=min(BATCH_CALLS_AT_ONCE, len(by_key)), thread_name_prefix="digest"
        ) as pool:
            list(pool.map(gather, by_key.values()))


def _count_published(envelopes: Sequence[Envelope]) -> None:
    """NotificationsPublished: one for each channel of each envelope, by channel and priority;
    written now, from the caller's (the handler's) thread."""
    for envelope in envelopes:
        for channel in envelope.channels:
            channel_metrics.count(NOTIFICATIONS_PUBLISHED, channel=channel, priority=envelope.priority)
    channel_metrics.flush()


def _check_fits_sns(messages: dict[str, _Message]) -> None:
    """Raise InvalidRequestError naming each field whose message SNS would refuse as too large, so
    that such a request is a 400, not a 503 to retry forever."""
    problems = {
        field: f"too large: {message.size} bytes as an SNS message, SNS takes at most {SNS_MAX_PAYLOAD_BYTES}"
        for field, message in messages.items()
        if message.size > SNS_MAX_PAYLOAD_BYTES
    }
    if problems:
        raise InvalidRequestError(problems)


# --------------------------------------------------------------------------------------------
# SNS
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Published:
    sns_message_id: str


@dataclass(frozen=True)
class NotPublished:
    reason: str
    retryable: bool


@dataclass(frozen=True)
class Gathered:
    """Taken into a digest window: sent with the others of its key when the window closes (or at
    once, alone, as its leading event: `digest_id` None)."""

    digest_id: str | None


PublishOutcome = Published | Gathered | NotPublished


@dataclass(frozen=True)
class _Message:
    """One envelope as SNS receives it, whether published alone or in a batch."""

    index: int
    envelope: Envelope
    body: str
    attributes: dict[str, MessageAttributeValueTypeDef]

    @classmethod
    def of(cls, envelope: Envelope, index: int = 0) -> _Message:
        return cls(index, envelope, envelope.model_dump_json(), message_attributes(envelope))

    @property
    def size(self) -> int:
        """Bytes as SNS counts them against its limit: the body and each attribute's name, type and value."""
        return len(self.body.encode()) + sum(
            len(name.encode()) + len(value["DataType"].encode()) + len(value.get("StringValue", "").encode())
            for name, value in self.attributes.items()
        )

    def batch_entry(self) -> PublishBatchRequestEntryTypeDef:
        return {"Id": str(self.index), "Message": self.body, "MessageAttributes": self.attributes}


class Publisher:
    def __init__(self, topic_arn: str, status: StatusStore, client: SNSClient) -> None:
        self.topic_arn = topic_arn
        self.status = status
        self.client = client

    def publish_envelope(self, envelope: Envelope) -> None:
        """`publish` for an envelope made elsewhere (a scheduled one, released when due)."""
        self.publish(_Message.of(envelope))

    def publish(self, message: _Message) -> None:
        """Publish once to SNS, then record ACCEPTED. Raises PublishError if SNS refused it."""
        envelope = message.envelope
        try:
            sns_message_id = self.client.publish(
                TopicArn=self.topic_arn, Message=message.body, MessageAttributes=message.attributes
            )["MessageId"]
        except (BotoCoreError, ClientError) as exc:
            logger.exception("SNS publish failed", extra={"notification_id": envelope.notification_id})
            raise PublishError("the notification could not be queued; try again") from exc
        self._accepted(envelope, sns_message_id)

    def publish_batch(self, messages: Sequence[_Message]) -> list[PublishOutcome]:
        """Publish each message exactly as `publish` would, with PublishBatch (at most 10 messages and
        256 KiB a call, a few calls at once), and record ACCEPTED for each SNS took. One outcome per
        message, in order; a call that fails fails its own messages only. Messages need distinct
        indexes (their batch entry ids)."""
        outcomes: dict[int, PublishOutcome] = {}
        batches = _batches(messages)
        if len(batches) == 1:
            outcomes.update(self._publish_call(batches[0]))
        elif batches:
            with ThreadPoolExecutor(
                max_workers=min(BATCH_CALLS_AT_ONCE, len(batches)), thread_name_prefix="publish-batch"
            ) as pool:
                for answered in pool.map(self._publish_call, batches):
                    outcomes.update(answered)
        return [outcomes[message.index] for message in messages]

    def _publish_call(self, batch: Sequence[_Message]) -> dict[int, PublishOutcome]:
        """One PublishBatch call; ACCEPTED for each message SNS reports Successful."""
        try:
            answer = self.client.publish_batch(
                TopicArn=self.topic_arn, PublishBatchRequestEntries=[m.batch_entry() for m in batch]
            )
        except (BotoCoreError, ClientError) as exc:
            logger.exception(
                "SNS PublishBatch failed",
                extra={"notification_ids": [m.envelope.notification_id for m in batch]},
            )
            code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None
            reason = f"not queued: the SNS call failed ({code or type(exc).__name__}); try again"
            return {m.index: NotPublished(reason, retryable=True) for m in batch}
        taken = {entry["Id"]: entry["MessageId"] for entry in answer.get("Successful", [])}
        refused = {entry["Id"]: entry for entry in answer.get("Failed", [])}
        outcomes: dict[int, PublishOutcome] = {}
        for message in batch:
            entry_id = str(message.index)
            if entry_id in taken:
                self._accepted(message.envelope, taken[entry_id])
                outcomes[message.index] = Published(taken[entry_id])
            elif entry_id in refused:
                failure = refused[entry_id]
                retryable = not failure["SenderFault"]
                detail = failure.get("Message")
                reason = f"not queued: SNS refused it ({failure['Code']}{f': {detail}' if detail else ''})"
                logger.warning(
                    "SNS refused a message of a batch",
                    extra={"notification_id": message.envelope.notification_id, "code": failure["Code"]},
                )
                outcomes[message.index] = NotPublished(
                    f"{reason}; try again" if retryable else reason, retryable=retryable
                )
            else:
                # Never seen: SNS answers every entry. Not claimed as published, so not ACCEPTED.
                logger.error(
                    "SNS did not report on a message of a batch",
                    extra={"notification_id": message.envelope.notification_id},
                )
                outcomes[message.index] = NotPublished(
                    "not queued: SNS did not report on it; try again", retryable=True
                )
        return outcomes

    def _accepted(self, envelope: Envelope, sns_message_id: str) -> None:
        logger.info(
            "notification published",
            extra={
                "notification_id": envelope.notification_id,
                "sns_message_id": sns_message_id,
                "channels": [c.value for c in envelope.channels],
                "priority": envelope.priority.value,
            },
        )
        try:
            self.status.accept(envelope)
        except (BotoCoreError, ClientError):
            # The message is on its way and the consumer writes the status it reaches; answering an
            # error here would make the client publish it a second time.
            logger.exception("could not record ACCEPTED", extra={"notification_id": envelope.notification_id})


def _batches(messages: Sequence[_Message]) -> list[list[_Message]]:
    """Consecutive messages packed into PublishBatch calls within SNS's count and size limits."""
    batches: list[list[_Message]] = []
    size = 0
    for message in messages:
        if (
            not batches
            or len(batches[-1]) == SNS_MAX_BATCH_ENTRIES
            or size + message.size > SNS_MAX_PAYLOAD_BYTES
        ):
            batches.append([])
            size = 0
        batches[-1].append(message)
        size += message.size
    return batches
