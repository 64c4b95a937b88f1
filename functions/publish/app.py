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

from notifier import api_docs, api_edge, publishing, runtime, snapstart, strict_json
from notifier.api_docs import responses
from notifier.api_errors import RETRY_SOON, response_for, validation_error_response
from notifier.errors import InvalidRequestError, NotFoundError, NothingPublishedError, NotifierError
from notifier.idempotency import IDEMPOTENCY_KEY_HEADER, REPLAYED_HEADER, Answer, scope_of
from notifier.models import (
    RECIPIENT_ID_PATTERN,
    BulkEventRequest,
    BulkNotPublished,
    BulkPublished,
    EventAccepted,
    EventRequest,
    EventStatus,
    IdempotencyKey,
    PublishAccepted,
    PublishRequest,
)
from notifier.observability import logger, metrics
from notifier.recipients import Recipient, RecipientDocument
from notifier.settings import get_settings
from notifier.tracing import AWS, traced

app = APIGatewayRestResolver(enable_validation=True, json_body_deserializer=strict_json.loads)

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


@app.post(
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
            request, correlation_id=_request_id(), publisher=runtime.publisher()
        )
        return Answer.of(202, accepted)

    return _answer(request, idempotency_key, publish)


@app.post(
    "/event",
    summary="Publish a social event; the routing rules pick its channels",
    tags=["Notifications"],
    responses=responses({202: (EventAccepted, "Accepted: queued for the event's channels.")}, _POST_ERRORS),
)
def publish_event(request: EventRequest, idempotency_key: IdempotencyKeyHeader = None) -> Response[str]:
    def publish() -> Answer:
        accepted = publishing.publish_event(
            request, correlation_id=_request_id(), publisher=runtime.publisher()
        )
        return Answer.of(202, accepted)

    return _answer(request, idempotency_key, publish)


@app.post(
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


@app.get(
    "/event/<event_id>",
    summary="The status of an event or notification, per channel",
    tags=["Notifications"],
    responses=responses({200: (EventStatus, "The status of each channel.")}, (400, 403, 404, 429, 503)),
)
def event_status(event_id: Annotated[str, Path(min_length=1, max_length=128)]) -> EventStatus:
    found = runtime.status_store().get(event_id)
    if found is None:
        raise NotFoundError(f"no event or notification with id {event_id!r}")
    return found


RecipientIdPath = Annotated[str, Path(pattern=RECIPIENT_ID_PATTERN)]


@app.put(
    "/recipients/<recipientId>",
    summary="Create or replace a recipient: contacts, language, time zone, preferences",
    tags=["Recipients"],
    responses=responses(
        {201: (Recipient, "Created: the stored recipient."), 200: (Recipient, "Replaced: the same.")},
        (400, 403, 413, 415, 429, 503),
    ),
)
def put_recipient(recipientId: RecipientIdPath, document: RecipientDocument) -> Response[str]:  # noqa: N803
    """Create or replace the recipient: 201 when created, 200 when replaced; the stored document."""
    recipient = document.for_recipient(recipientId, updated_at=datetime.now(UTC))
    created = runtime.recipient_store().put(recipient)
    return Response(
        status_code=201 if created else 200,
        content_type=content_types.APPLICATION_JSON,
        body=recipient.model_dump_json(),
    )


@app.get(
    "/recipients/<recipientId>",
    summary="A recipient",
    tags=["Recipients"],
    responses=responses({200: (Recipient, "The stored recipient.")}, (400, 403, 404, 429, 503)),
)
def get_recipient(recipientId: RecipientIdPath) -> Recipient:  # noqa: N803
    found = runtime.recipient_store().get(recipientId)
    if found is None:
        raise NotFoundError(f"no recipient with id {recipientId!r}")
    return found


@app.delete(
    "/recipients/<recipientId>",
    summary="Forget a recipient",
    tags=["Recipients"],
    responses=responses({204: (None, "Deleted.")}, (400, 403, 404, 429, 503)),
)
def delete_recipient(recipientId: RecipientIdPath) -> Response[None]:  # noqa: N803
    if not runtime.recipient_store().delete(recipientId):
        raise NotFoundError(f"no recipient with id {recipientId!r}")
    return Response(status_code=204, content_type=None, body=None)


@app.get("/openapi.json", include_in_schema=False)
def openapi_document() -> Response[str]:
    _docs_switched_on()
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=api_docs.document(app))


@app.get("/docs", include_in_schema=False)
def api_docs_page() -> Response[str]:
    if (app.current_event.query_string_parameters or {}).get("format") == "json":
        return openapi_document()  # where the page says its document is
    _docs_switched_on()
    return Response(status_code=200, content_type="text/html; charset=utf-8", body=api_docs.page(app))


def _docs_switched_on() -> None:
    if get_settings().api_docs != "Enabled":
        raise NotFoundError("the API documentation is switched off (ApiDocs=Disabled)")


@app.not_found
def _no_route(exc: Exception) -> Response[Any]:
    # API Gateway answers unknown routes itself: a request reaches this only when its decoded path
    # parameter holds characters no route's pattern takes (a control character, say).
    parameters = app.current_event.path_parameters or {}
    problems = dict.fromkeys(parameters, "contains characters this path parameter does not take")
    refused = InvalidRequestError(problems) if problems else NotFoundError("no such route")
    return response_for(refused)


@app.exception_handler(RequestValidationError)
def _invalid_request(exc: RequestValidationError) -> Response[Any]:
    return validation_error_response(exc.errors())


@app.exception_handler(NotifierError)
def _refused(exc: NotifierError) -> Response[Any]:
    return response_for(exc)  # one table: notifier.api_errors.ANSWERS


@app.exception_handler(NothingPublishedError)
def _no_event_published(exc: NothingPublishedError) -> Response[Any]:
    return Response(
        status_code=503,
        content_type=content_types.APPLICATION_JSON,
        body=exc.answer.model_dump_json(),
        headers=RETRY_SOON,
    )


snapstart.register(snapstart.warm_publisher)  # with SnapStart on: see notifier.snapstart


@traced(patch=(AWS,))
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        settings = get_settings()
        return api_edge.serve(
            event,
            lambda: app.resolve(event, context),
            max_request_bytes=settings.max_request_bytes,
            cors_allow_origin=settings.cors_allow_origin,
        )
    finally:
        collector.first_invocation_done()


collector.init_done()
