"""`PUT`, `GET` and `DELETE /recipients/{recipientId}`: who notifications go to, and how."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from notifier import runtime
from notifier.api.docs import responses
from notifier.errors import NotFoundError
from notifier.models.channels import RECIPIENT_ID_PATTERN
from notifier.models.recipients import Recipient, RecipientDocument

router = APIGatewayRouter()  # type: ignore[no-untyped-call]

RecipientIdPath = Annotated[str, Path(pattern=RECIPIENT_ID_PATTERN)]


@router.put(
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


@router.get(
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


@router.delete(
    "/recipients/<recipientId>",
    summary="Forget a recipient",
    tags=["Recipients"],
    responses=responses({204: (None, "Deleted.")}, (400, 403, 404, 429, 503)),
)
def delete_recipient(recipientId: RecipientIdPath) -> Response[None]:  # noqa: N803
    if not runtime.recipient_store().delete(recipientId):
        raise NotFoundError(f"no recipient with id {recipientId!r}")
    return Response(status_code=204, content_type=None, body=None)
