"""Publishing: from an API request to its envelope, published now, kept until its `send_at` or
gathered into a digest window; a bulk request's events published together. What reaches SNS, and how,
is the `sns_publisher`'s.

A notification is one SNS message; a bulk request is the same messages sent with PublishBatch. A
status is recorded ACCEPTED only for a message SNS has taken.

Metrics: `NotificationsPublished`, one for each channel of each notification or event SNS took, by
channel and priority (see `platform.metrics`), written before the call returns; `EventsPublished` and
`EventsNotPublished`, one for each event, with the function's other metrics.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from aws_lambda_powertools.metrics import MetricUnit

from notifier.api.routing import Route, route_event, route_notification
from notifier.api.sns_publisher import (
    BATCH_CALLS_AT_ONCE,
    SNS_MAX_PAYLOAD_BYTES,
    NotPublished,
    Published,
    Publisher,
    SnsMessage,
)
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
from notifier.platform.metrics import NOTIFICATIONS_PUBLISHED, channel_metrics, metrics

if TYPE_CHECKING:
    from notifier.api.routing import DigestRule
    from notifier.scheduling.digests import Digests
    from notifier.scheduling.due import Schedules


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
    message = SnsMessage.of(envelope)
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
    message = SnsMessage.of(envelope)
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
    messages = [SnsMessage.of(envelope, index) for index, envelope in enumerate(envelopes)]
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
    digests: Digests, gathered: Sequence[tuple[SnsMessage, DigestRule]], outcomes: list[PublishOutcome | None]
) -> None:
    """The events of a bulk into their digest windows, each with an outcome like a PublishBatch
    entry's. Events of one key are gathered one after another (racing each other would only cost
    rounds of join-or-open), different keys at once."""
    by_key: dict[str, list[tuple[SnsMessage, DigestRule]]] = {}
    for message, rule in gathered:
        by_key.setdefault(digests.key_of(message.envelope, rule), []).append((message, rule))

    def gather(events: list[tuple[SnsMessage, DigestRule]]) -> None:
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


def _check_fits_sns(messages: dict[str, SnsMessage]) -> None:
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
# What an event's publishing came to
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Gathered:
    """Taken into a digest window: sent with the others of its key when the window closes (or at
    once, alone, as its leading event: `digest_id` None)."""

    digest_id: str | None


PublishOutcome = Published | Gathered | NotPublished
