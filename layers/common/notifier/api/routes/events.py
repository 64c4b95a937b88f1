"""`POST /api/v1/notifications/publish`, `POST /event` and `POST /events/bulk`: publishing, each POST
safe to retry with an `Idempotency-Key`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Header
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel

from notifier import runtime
from notifier.api import publishing
from notifier.api.docs import responses
from notifier.api.idempotency import IDEMPOTENCY_KEY_HEADER, REPLAYED_HEADER, Answer, scope_of
from notifier.models.requests import BulkEventRequest, EventRequest, IdempotencyKey, PublishRequest
from notifier.models.responses import BulkNotPublished, BulkPublished, EventAccepted, PublishAccepted
from notifier.platform.metrics import metrics

router = APIGatewayRouter()  # type: ignore[no-untyped-call]

# Errors every POST can answer: invalid, a key in use or reused, too large, not JSON, unavailable.
_POST_ERRORS = (400, 403, 409, 413, 415, 422, 429, 503)

IdempotencyKeyHeader = Annotated[
    IdempotencyKey,
    Header(
        alias=IDEMPOTENCY_KEY_HEADER,
        description="Makes the POST safe to retry: within the idempotency window, the same key and body "
        "get the first answer again and publish nothing.",
    ),
]


@router.post(
    "/api/v1/notifications/publish",
    summary="Send one message to one recipient on one channel",
    tags=["Notifications"],
    responses=responses({202: (PublishAccepted, "Accepted: the notification is queued.")}, _POST_ERRORS),
)
def publish_notification(
    request: PublishRequest, idempotency_key: IdempotencyKeyHeader = None
) -> Response[str]:
    def publish() -> Answer:
        accepted = publishing.publish_notification(
            request, correlation_id=_request_id(), publisher=runtime.publisher(), schedules=runtime.schedules
        )
        return Answer.of(202, accepted)

    return _answer(request, idempotency_key, publish)


@router.post(
    "/event",
    summary="Publish a social event; the routing rules pick its channels",
    tags=["Notifications"],
    responses=responses({202: (EventAccepted, "Accepted: queued for the event's channels.")}, _POST_ERRORS),
)
def publish_event(request: EventRequest, idempotency_key: IdempotencyKeyHeader = None) -> Response[str]:
    def publish() -> Answer:
        accepted = publishing.publish_event(
            request,
            correlation_id=_request_id(),
            publisher=runtime.publisher(),
            schedules=runtime.schedules,
            digests=runtime.digests,
        )
        return Answer.of(202, accepted)

    return _answer(request, idempotency_key, publish)


@router.post(
    "/events/bulk",
    summary="Publish up to 100 events at once",
    tags=["Notifications"],
    responses=responses(
        {
            202: (BulkPublished, "Every event was queued."),
            207: (BulkPublished, "Some events were queued and some were not: see each result."),
        },
        _POST_ERRORS,
        error_models={503: BulkNotPublished},
    ),
)
def publish_events(request: BulkEventRequest, idempotency_key: IdempotencyKeyHeader = None) -> Response[str]:
    """202 when every event was queued, 207 when some were not (see each result); 503 when none was."""

    def publish() -> Answer:
        published = publishing.publish_events(
            request.events,
            correlation_id=_request_id(),
            publisher=runtime.publisher(),
            digests=runtime.digests,
        )
        return Answer.of(207 if published.failed else 202, published)

    return _answer(request, idempotency_key, publish)


def _request_id() -> str:
    return router.current_event.request_context.request_id


def _answer(request: BaseModel, idempotency_key: str | None, publish: Callable[[], Answer]) -> Response[str]:
    """`publish()`'s answer; with an Idempotency-Key, the first answer given to that key."""
    scope = scope_of(router.current_event, idempotency_key)
    if scope is None:
        answer = publish()
    else:
        answer = runtime.idempotency().run(scope, request, publish, router.lambda_context)
    headers = {}
    if answer.replayed:
        metrics.add_metric(name="IdempotentReplays", unit=MetricUnit.Count, value=1)
        headers[REPLAYED_HEADER] = "true"
    return Response(
        status_code=answer.status_code,
        content_type=content_types.APPLICATION_JSON,
        body=answer.body,
        headers=headers or None,
    )
