"""`GET /event/{event_id}`: where an event or notification is, per channel; `DELETE /event/{event_id}`:
cancel what is not sent yet."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from notifier import runtime
from notifier.api.docs import notification_id_path, responses
from notifier.errors import NotFoundError
from notifier.models.responses import EventStatus

router = APIGatewayRouter()  # type: ignore[no-untyped-call]

EventIdPath = Annotated[
    str, notification_id_path("An event id or a notification id (what the POST answered).")
]


@router.get(
    "/event/<event_id>",
    summary="The status of an event or notification, per channel",
    tags=["Notifications"],
    responses=responses({200: (EventStatus, "The status of each channel.")}, (400, 403, 404, 429, 503)),
)
def event_status(event_id: EventIdPath) -> EventStatus:
    found = runtime.status_store().get(event_id)
    if found is None:
        raise NotFoundError(f"no event or notification with id {event_id!r}")
    return found


@router.delete(
    "/event/<event_id>",
    summary="Cancel a scheduled event or notification that is not sent yet",
    description="Each channel still SCHEDULED becomes CANCELLED and is never sent, even if its time "
    "comes at the same moment; a channel already released, sent or settled is reported as it is, "
    "unchanged.",
    tags=["Notifications"],
    responses=responses(
        {200: (EventStatus, "The status of each channel after the cancel.")}, (400, 403, 404, 429, 503)
    ),
)
def cancel_event(event_id: EventIdPath) -> EventStatus:
    found = runtime.status_store().cancel(event_id)
    if found is None:
        raise NotFoundError(f"no event or notification with id {event_id!r}")
    return found
