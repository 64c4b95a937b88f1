"""The publish function: the REST API in front of the SNS topic, and the recipients it delivers to."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from notifier import runtime
from notifier.api_errors import error_response, validation_error_response
from notifier.errors import NotFoundError, PublishError
from notifier.models import (
    RECIPIENT_ID_PATTERN,
    EventAccepted,
    EventRequest,
    EventStatus,
    PublishAccepted,
    PublishRequest,
)
from notifier.observability import logger, metrics
from notifier.publishing import event_envelope, notification_envelope
from notifier.recipients import Recipient, RecipientDocument

app = APIGatewayRestResolver(enable_validation=True)


@app.post("/api/v1/notifications/publish", status_code=202)
def publish_notification(request: PublishRequest) -> PublishAccepted:
    envelope = notification_envelope(request, correlation_id=app.current_event.request_context.request_id)
    runtime.publisher().publish(envelope)
    metrics.add_metric(name="NotificationsPublished", unit=MetricUnit.Count, value=1)
    return PublishAccepted(notificationId=envelope.notification_id)


@app.post("/event", status_code=202)
def publish_event(request: EventRequest) -> EventAccepted:
    envelope = event_envelope(request, correlation_id=app.current_event.request_context.request_id)
    runtime.publisher().publish(envelope)
    metrics.add_metric(name="EventsPublished", unit=MetricUnit.Count, value=1)
    return EventAccepted(event_id=envelope.notification_id)


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


@app.exception_handler(NotFoundError)
def _not_found(exc: NotFoundError) -> Response[Any]:
    return error_response(404, "not_found", str(exc))


@app.exception_handler(PublishError)
def _not_published(exc: PublishError) -> Response[Any]:
    return error_response(503, "unavailable", str(exc), headers={"Retry-After": "1"})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
