"""Telling a recipient's open apps: the frames posted to their WebSocket connections, and the posting.

Frames, server to client (JSON text, one per post):
- `{"type": "notification", "item": {...}}` when an item arrives (the item as `GET .../inbox` lists it);
- `{"type": "counts", "unread": n, "unseen": m}` after anything changes the counts;
- `{"type": "pong"}` to a client's `{"action": "ping"}`, and `{"type": "error", "reason": ...}` to a
  frame the socket function cannot take.

Posts go to every live connection of the recipient at once (`CONNECTIONS_POOL` in flight), through
API Gateway's @connections API. A connection answered 410 Gone has closed without its $disconnect
reaching us: its item is deleted and it counts as not reached. Any other failure is logged and counted
as not reached, never raised: the inbox holds the item either way, and the app reads it on its next
fetch.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from notifier.models.responses import InboxItemView
from notifier.platform.clients import CONNECTIONS_POOL
from notifier.platform.logs import logger
from notifier.stores.attributes import iso
from notifier.stores.inbox import InboxItem

if TYPE_CHECKING:
    from mypy_boto3_apigatewaymanagementapi import ApiGatewayManagementApiClient

    from notifier.stores.connections import ConnectionStore

Frame = dict[str, Any]


def item_view(item: InboxItem) -> InboxItemView:
    def moment(value: Any) -> str | None:
        return iso(value) if value is not None else None

    return InboxItemView(
        id=item.notification_id,
        event_type=item.event_type,
        title=item.title,
        body=item.body,
        data=item.data,
        created_at=iso(item.created_at),
        seen_at=moment(item.seen_at),
        read_at=moment(item.read_at),
        archived_at=moment(item.archived_at),
    )


def notification_frame(item: InboxItem) -> Frame:
    return {"type": "notification", "item": item_view(item).model_dump(mode="json")}


def counts_frame(unread: int, unseen: int) -> Frame:
    return {"type": "counts", "unread": unread, "unseen": unseen}


PONG: Frame = {"type": "pong"}


def error_frame(reason: str) -> Frame:
    return {"type": "error", "reason": reason}


class LiveConnections:
    """Posts frames to a recipient's open WebSocket connections."""

    def __init__(
        self,
        connections: ConnectionStore,
        client: Callable[[], ApiGatewayManagementApiClient],
        pool: ThreadPoolExecutor | None = None,
    ) -> None:
        self.connections = connections
        self._client = client
        self._pool = pool or ThreadPoolExecutor(CONNECTIONS_POOL, thread_name_prefix="connections")

    def tell(self, recipient_id: str, frames: Sequence[Frame] | Callable[[], Sequence[Frame]]) -> int:
        """Post `frames`, in order, to each of the recipient's connections; how many got them all.
        `frames` may be a function that makes them: it is called only when someone is connected."""
        ids = self.connections.of_recipient(recipient_id)
        if not ids:
            return 0
        if callable(frames):
            frames = frames()
        if len(ids) == 1:
            return int(self.post(ids[0], frames))
        return sum(self._pool.map(lambda connection_id: self.post(connection_id, frames), ids))

    def post(self, connection_id: str, frames: Sequence[Frame]) -> bool:
        """Post `frames` to one connection; False when it has gone (and is forgotten) or failed."""
        client = self._client()
        try:
            for frame in frames:
                client.post_to_connection(
                    ConnectionId=connection_id, Data=json.dumps(frame, separators=(",", ":")).encode()
                )
        except ClientError as exc:
            if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 410:
                self.connections.remove(connection_id)
            else:
                logger.warning(
                    "could not post to a WebSocket connection",
                    extra={"connection_id": connection_id, "error": _code(exc)},
                )
            return False
        except BotoCoreError as exc:
            logger.warning(
                "could not reach the WebSocket API",
                extra={"connection_id": connection_id, "error": type(exc).__name__},
            )
            return False
        return True


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code") or exc)
