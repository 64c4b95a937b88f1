"""A recipient's in-app inbox: list it, mark its items, and issue the token an app's client reads it
with (`notifier.inbox.service`).

Every route but the token's takes the API key (the app's backend) or an inbox token for this
recipient (`Authorization: Bearer`, the app's client), checked before anything is read
(`notifier.inbox.access`). The token route is the backend's only: API Gateway checks its API key
(or IAM, or Cognito) as on every other route.
"""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from notifier import runtime
from notifier.api.docs import API_KEY_SCHEME, INBOX_TOKEN_SCHEME, notification_id_path, responses
from notifier.models.channels import RECIPIENT_ID_PATTERN
from notifier.models.responses import InboxCounts, InboxPageView, InboxToken
from notifier.stores.attributes import iso

router = APIGatewayRouter()  # type: ignore[no-untyped-call]

_TAGS = ["Inbox"]
_EITHER: list[dict[str, list[str]]] = [{API_KEY_SCHEME: []}, {INBOX_TOKEN_SCHEME: []}]
"""The API key, or an inbox token for this recipient (OpenAPI: either requirement)."""

RecipientPath = Annotated[str, Path(pattern=RECIPIENT_ID_PATTERN, description="The recipient's id.")]
NotificationPath = Annotated[str, notification_id_path("The item's notification id.")]


def _check(recipient_id: str) -> None:
    headers = router.current_event.headers  # case-insensitive; each sent once (the edge refuses two)
    runtime.inbox_access().check(recipient_id, headers.get("authorization"), headers.get("x-api-key"))


# Registered before the item route, which would otherwise take `mark-all` for a notification id.
@router.post(
    "/recipients/<recipientId>/inbox/mark-all/<mark>",
    summary="Mark every unseen item seen, every unread item read, or every item archived",
    description="At most 1,000 items a call: while the counts answered are not 0, call again.",
    tags=_TAGS,
    security=_EITHER,
    responses=responses({200: (InboxCounts, "Marked; the counts after.")}, (400, 401, 403, 429, 503)),
)
def mark_all(
    recipientId: RecipientPath,  # noqa: N803 - the path's name, as the API has always spelled it
    mark: Annotated[Literal["seen", "read", "archived"], Path(description="What to mark every item.")],
) -> InboxCounts:
    from notifier.stores.inbox import Mark  # noqa: PLC0415 - the inbox's code loads at its first request

    _check(recipientId)
    return runtime.inbox().mark_all(recipientId, Mark(mark))


@router.post(
    "/recipients/<recipientId>/inbox/token",
    summary="Issue an inbox token for the app's client",
    description="The backend hands it to its client, which reads and marks this recipient's inbox "
    "with it (`Authorization: Bearer <token>`) and opens the WebSocket with it (`?token=`). It expires "
    "(InboxTokenTtlSeconds) and reaches no other recipient's inbox.",
    tags=_TAGS,
    responses=responses({201: (InboxToken, "Issued.")}, (400, 403, 429, 503)),
)
def issue_token(recipientId: RecipientPath) -> Response[str]:  # noqa: N803 - see mark_all
    issued = runtime.inbox_tokens().issue(recipientId)
    answer = InboxToken(token=issued.token, expires_at=iso(issued.expires_at))
    return Response(
        status_code=201, content_type=content_types.APPLICATION_JSON, body=answer.model_dump_json()
    )


@router.get(
    "/recipients/<recipientId>/inbox",
    summary="The recipient's inbox, newest first, a page at a time, with its unread and unseen counts",
    description="Fetching an item makes its notification DELIVERED (an app has it).",
    tags=_TAGS,
    security=_EITHER,
    responses=responses({200: (InboxPageView, "A page of items.")}, (400, 401, 403, 429, 503)),
)
def list_inbox(
    recipientId: RecipientPath,  # noqa: N803 - see mark_all
    status: Annotated[
        Literal["all", "unread", "unseen"], Query(description="Only unread, or only unseen, items.")
    ] = "all",
    archived: Annotated[
        Literal["exclude", "include", "only"], Query(description="Archived items: left out, too, or only.")
    ] = "exclude",
    limit: Annotated[int, Query(ge=1, le=100, description="Items per page.")] = 20,
    after: Annotated[
        str | None, Query(min_length=1, max_length=2048, description="The `next` of the previous page.")
    ] = None,
) -> InboxPageView:
    _check(recipientId)
    return runtime.inbox().page(recipientId, status=status, archived=archived, limit=limit, after=after)


@router.post(
    "/recipients/<recipientId>/inbox/<notificationId>/<mark>",
    summary="Mark one item seen, read, unread, archived or unarchived",
    description="Read is seen too; reading records the notification as opened (and DELIVERED). Every "
    "open WebSocket of the recipient is sent the new counts.",
    tags=_TAGS,
    security=_EITHER,
    responses=responses(
        {200: (InboxCounts, "Marked (or already so); the counts after.")}, (400, 401, 403, 404, 429, 503)
    ),
)
def mark_item(
    recipientId: RecipientPath,  # noqa: N803 - see mark_all
    notificationId: NotificationPath,  # noqa: N803
    mark: Annotated[
        Literal["seen", "read", "unread", "archived", "unarchived"], Path(description="What to mark it.")
    ],
) -> InboxCounts:
    from notifier.stores.inbox import Mark  # noqa: PLC0415 - see mark_all

    _check(recipientId)
    return runtime.inbox().mark(recipientId, [notificationId], Mark(mark))
