"""`GET /event/{event_id}`: where an event or notification is, per channel."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from notifier import runtime
from notifier.api.docs import responses
from notifier.errors import NotFoundError
from notifier.models.responses import EventStatus

router = APIGatewayRouter()  # type: ignore[no-untyped-call]


@router.get(
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
