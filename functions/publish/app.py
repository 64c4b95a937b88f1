"""The publish function: the REST API in front of the SNS topic, and the recipients it delivers to."""

from __future__ import annotations

from notifier import collector

collector.pause()  # until the first invocation ends: see notifier.collector

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Header, Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from notifier import publishing, runtime, snapstart
from notifier.api_edge import allow_origin, too_large
from notifier.api_errors import error_response, validation_error_response
from notifier.errors import (
    IdempotencyKeyInUseError,
    IdempotencyKeyReusedError,
    IdempotencyUnavailableError,
    InvalidRequestError,
    NotFoundError,
    NothingPublishedError,
    PublishError,
)
from notifier.idempotency import IDEMPOTENCY_KEY_HEADER, REPLAYED_HEADER, Answer, scope_of
from notifier.models import (
    RECIPIENT_ID_PATTERN,
    BulkEventRequest,
    EventRequest,
    EventStatus,
    FieldProblem,
    IdempotencyKey,
    PublishRequest,
)
from notifier.observability import logger, metrics
from notifier.recipients import Recipient, RecipientDocument
from notifier.settings import get_settings
from notifier.tracing import AWS, traced

app = APIGatewayRestResolver(enable_validation=True)

_RETRY_SOON = {"Retry-After": "1"}


IdempotencyKeyHeader = Annotated[
    IdempotencyKey,
    Header(
        alias=IDEMPOTENCY_KEY_HEADER,
        description="Makes the POST safe to retry: within the idempotency window, the same key and body "
        "get the first answer again and publish nothing.",
    ),
]


@app.post("/api/v1/notifications/publish")
def publish_notification(
    request: PublishRequest, idempotency_key: IdempotencyKeyHeader = None
) -> Response[str]:
    def publish() -> Answer:
        accepted = publishing.publish_notification(
            request, correlation_id=_request_id(), publisher=runtime.publisher()
        )
        return Answer.of(202, accepted)

    return _answer(request, idempotency_key, publish)


@app.post("/event")
def publish_event(request: EventRequest, idempotency_key: IdempotencyKeyHeader = None) -> Response[str]:
    def publish() -> Answer:
        accepted = publishing.publish_event(
            request, correlation_id=_request_id(), publisher=runtime.publisher()
        )
        return Answer.of(202, accepted)

    return _answer(request, idempotency_key, publish)


@app.post("/events/bulk")
def publish_events(request: BulkEventRequest, idempotency_key: IdempotencyKeyHeader = None) -> Response[str]:
    """202 when every event was queued, 207 when some were not (see each result); 503 when none was."""

    def publish() -> Answer:
        published = publishing.publish_events(
            request.events, correlation_id=_request_id(), publisher=runtime.publisher()
        )
        return Answer.of(207 if published.failed else 202, published)

    return _answer(request, idempotency_key, publish)


def _request_id() -> str:
    return app.current_event.request_context.request_id


def _answer(request: BaseModel, idempotency_key: str | None, publish: Callable[[], Answer]) -> Response[str]:
    """`publish()`'s answer; with an Idempotency-Key, the first answer given to that key."""
    scope = scope_of(app.current_event, idempotency_key)
    if scope is None:
        answer = publish()
    else:
        answer = runtime.idempotency().run(scope, request, publish, app.lambda_context)
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


@app.get("/event/<event_id>")
def event_status(event_id: Annotated[str, Path(min_length=1, max_length=128)]) -> EventStatus:
    found = runtime.status_store().get(event_id)
    if found is None:
        raise NotFoundError(f"no event or notification with id {event_id!r}")
    return found


RecipientIdPath = Annotated[str, Path(pattern=RECIPIENT_ID_PATTERN)]


@app.put("/recipients/<recipientId>")
def put_recipient(recipientId: RecipientIdPath, document: RecipientDocument) -> Response[str]:  # noqa: N803
    """Create or replace the recipient: 201 when created, 200 when replaced; the stored document."""
    recipient = document.for_recipient(recipientId, updated_at=datetime.now(UTC))
    created = runtime.recipient_store().put(recipient)
    return Response(
        status_code=201 if created else 200,
        content_type=content_types.APPLICATION_JSON,
        body=recipient.model_dump_json(),
    )


@app.get("/recipients/<recipientId>")
def get_recipient(recipientId: RecipientIdPath) -> Recipient:  # noqa: N803
    found = runtime.recipient_store().get(recipientId)
    if found is None:
        raise NotFoundError(f"no recipient with id {recipientId!r}")
    return found


@app.delete("/recipients/<recipientId>")
def delete_recipient(recipientId: RecipientIdPath) -> Response[str]:  # noqa: N803
    if not runtime.recipient_store().delete(recipientId):
        raise NotFoundError(f"no recipient with id {recipientId!r}")
    return Response(status_code=204, content_type=content_types.APPLICATION_JSON, body="")


@app.exception_handler(RequestValidationError)
def _invalid_request(exc: RequestValidationError) -> Response[Any]:
    return validation_error_response(exc.errors())


@app.exception_handler(InvalidRequestError)
def _cannot_publish_as_sent(exc: InvalidRequestError) -> Response[Any]:
    fields = [FieldProblem(field=field, reason=reason) for field, reason in exc.problems.items()]
    return error_response(400, "invalid_request", str(exc), fields)


@app.exception_handler(NotFoundError)
def _not_found(exc: NotFoundError) -> Response[Any]:
    return error_response(404, "not_found", str(exc))


@app.exception_handler(PublishError)
def _not_published(exc: PublishError) -> Response[Any]:
    return error_response(503, "unavailable", str(exc), headers=_RETRY_SOON, retryable=True)


@app.exception_handler(NothingPublishedError)
def _no_event_published(exc: NothingPublishedError) -> Response[Any]:
    return Response(
        status_code=503,
        content_type=content_types.APPLICATION_JSON,
        body=exc.answer.model_dump_json(),
        headers=_RETRY_SOON,
    )


@app.exception_handler(IdempotencyKeyReusedError)
def _key_reused(exc: IdempotencyKeyReusedError) -> Response[Any]:
    return error_response(422, "idempotency_key_reused", str(exc))


@app.exception_handler(IdempotencyKeyInUseError)
def _key_in_use(exc: IdempotencyKeyInUseError) -> Response[Any]:
    return error_response(409, "idempotency_key_in_use", str(exc), headers=_RETRY_SOON, retryable=True)


@app.exception_handler(IdempotencyUnavailableError)
def _idempotency_unavailable(exc: IdempotencyUnavailableError) -> Response[Any]:
    return error_response(503, "unavailable", str(exc), headers=_RETRY_SOON, retryable=True)


snapstart.register(snapstart.warm_publisher)  # with SnapStart on: see notifier.snapstart


@traced(patch=(AWS,))
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        settings = get_settings()
        answer = too_large(event, settings.max_request_bytes) or app.resolve(event, context)
        return allow_origin(answer, settings.cors_allow_origin)
    finally:
        collector.first_invocation_done()


collector.init_done()
