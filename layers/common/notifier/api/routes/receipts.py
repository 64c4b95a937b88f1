"""`POST /event/{event_id}/receipts`: the app reports that a push notification arrived or was opened.

Push has no vendor receipt (FCM says only that it took the message), so the app that received it
says so, as Knock's and Novu's SDKs do: the push message's data carries `notification_id`. Statuses
move only forward, as with the vendors' receipts (`notifier.stores.receipts`): `opened` also makes a
SENT notification DELIVERED, and a report sent twice changes nothing the second time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from notifier import runtime
from notifier.api.docs import notification_id_path, responses
from notifier.errors import NotFoundError
from notifier.models.channels import Channel, Priority
from notifier.models.requests import PushReceiptRequest
from notifier.models.responses import EventStatus
from notifier.platform.metrics import NOTIFICATIONS_DELIVERED, channel_metrics

router = APIGatewayRouter()  # type: ignore[no-untyped-call]

PushNotificationPath = Annotated[
    str, notification_id_path("The push notification's id: the `notification_id` of the push message's data.")
]


@router.post(
    "/event/<event_id>/receipts",
    summary="Report that a push notification reached the device, or was opened",
    tags=["Notifications"],
    responses=responses(
        {200: (EventStatus, "Recorded (or already known): the notification's status, per channel.")},
        (400, 403, 404, 413, 415, 429, 503),
    ),
)
def report_receipt(event_id: PushNotificationPath, report: PushReceiptRequest) -> EventStatus:
    # Imported by the first push receipt, not at every cold start of the publish function (3 ms).
    from notifier.receipts.models import Receipt, ReceiptKind  # noqa: PLC0415
    from notifier.stores.receipts import Effect  # noqa: PLC0415

    receipt = Receipt(
        kind=ReceiptKind.DELIVERED if report.event == "delivered" else ReceiptKind.OPENED,
        channel=Channel.PUSH,
        notification_id=event_id,
        occurred_at=report.occurred_at or datetime.now(UTC),
    )
    applied = runtime.receipt_store().apply(receipt, event_id)
    if applied.effect is Effect.UNKNOWN:
        raise NotFoundError(f"no push notification with id {event_id!r}")
    if applied.effect is Effect.CHANGED and (receipt.kind is ReceiptKind.DELIVERED or applied.delivered):
        priority = applied.priority or Priority.STANDARD
        channel_metrics.count(NOTIFICATIONS_DELIVERED, channel=Channel.PUSH, priority=priority)
    found = runtime.status_store().get(event_id)
    if found is None:  # expired between the two reads
        raise NotFoundError(f"no push notification with id {event_id!r}")
    return found
