"""The socket function: the inbox WebSocket API's authorizer and routes.

- **Authorizer** (`$connect`, identity source `route.request.querystring.token`): an inbox token of
  this stack lets the connection in as its recipient (an IAM policy allowing the `$connect` route, the
  recipient in its context); anything else raises `Unauthorized`, which API Gateway answers 401 at the
  handshake. A missing token never reaches it: API Gateway refuses that itself.
- **`$connect`**: remembers the connection and its recipient (`notifier.stores.connections`). It
  posts nothing: until it returns, the connection is not open.
- **`$disconnect`**: forgets the connection.
- **`$default`**: the client's frames, JSON objects with an `action`:
  - `{"action": "ping"}`, answered `{"type": "pong"}` (API Gateway closes a connection idle for 10
    minutes: an app pings every few);
  - `{"action": "counts"}`, answered `{"type": "counts", "unread": n, "unseen": m}`;
  - `{"action": "mark", "ids": [...], "status": "seen|read|unread|archived|unarchived"}` and
    `{"action": "mark_all", "status": "seen|read|archived"}`: the items are marked, and every
    connection of the recipient is sent the new counts (`notifier.inbox.service`).
  A frame it cannot take is answered `{"type": "error", "reason": ...}`; the connection stays open.

Answers go back through the @connections API (a WebSocket route's own answer reaches the client only
with a route response, which this API does not declare), at WEBSOCKET_MANAGEMENT_URL, or else at the
request's own domain and stage.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from notifier import coldstart, runtime
from notifier.errors import NotFoundError, UnauthorizedError
from notifier.inbox.live import PONG, Frame, LiveConnections, counts_frame, error_frame
from notifier.inbox.service import Inbox
from notifier.platform.logs import logger
from notifier.platform.metrics import channel_metrics, metrics
from notifier.platform.settings import inbox_settings
from notifier.platform.tracing import AWS, traced
from notifier.stores.inbox import Mark

__all__ = ["lambda_handler"]

inbox_settings().require("connections_table")
MAX_FRAME_IDS = 100
"""Items one `mark` frame may name."""


class _Ping(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["ping", "counts"]


class _Mark(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["mark"]
    ids: list[str] = Field(min_length=1, max_length=MAX_FRAME_IDS)
    status: Literal["seen", "read", "unread", "archived", "unarchived"]


class _MarkAll(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["mark_all"]
    status: Literal["seen", "read", "archived"]


_FRAMES: dict[str, type[BaseModel]] = {"ping": _Ping, "counts": _Ping, "mark": _Mark, "mark_all": _MarkAll}


@traced(patch=(AWS,))
@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        if event.get("type") == "REQUEST":
            return authorize(event)
        request = event.get("requestContext") or {}
        route = request.get("routeKey")
        connection_id = str(request.get("connectionId") or "")
        if route == "$connect":
            return connect(connection_id, request)
        if route == "$disconnect":
            runtime.connection_store().remove(connection_id)
            return {"statusCode": 200}
        answer(connection_id, request, event.get("body"))
        return {"statusCode": 200}
    finally:
        channel_metrics.flush()
        coldstart.first_invocation_done()


def authorize(event: dict[str, Any]) -> dict[str, Any]:
    token = (event.get("queryStringParameters") or {}).get("token")
    try:
        claims = runtime.inbox_tokens().verify(token)
    except UnauthorizedError as refused:
        logger.info("WebSocket connection refused", extra={"reason": str(refused)})
        raise Exception("Unauthorized") from None
    return {
        "principalId": claims.recipient_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": event["methodArn"]}
            ],
        },
        "context": {"recipient_id": claims.recipient_id, "expires_at": int(claims.expires_at.timestamp())},
    }


def connect(connection_id: str, request: dict[str, Any]) -> dict[str, Any]:
    recipient_id = (request.get("authorizer") or {}).get("recipient_id")
    if not connection_id or not recipient_id:
        return {"statusCode": 403}
    runtime.connection_store().add(connection_id, str(recipient_id))
    return {"statusCode": 200}


def answer(connection_id: str, request: dict[str, Any], body: str | None) -> None:
    """Do what the client's frame asks, and answer it on its own connection."""
    live = _live(request)
    recipient_id = runtime.connection_store().recipient_of(connection_id)
    if recipient_id is None:  # its item expired (2 h), or it was never ours
        live.post(connection_id, [error_frame("this connection is closed: connect again")])
        return
    frames = _frames(Inbox(runtime.inbox_store(), live, runtime.receipt_store), recipient_id, body)
    if frames:
        live.post(connection_id, frames)


def _frames(inbox: Inbox, recipient_id: str, body: str | None) -> list[Frame]:
    """What to answer the client's frame with (the counts after a mark go to every connection)."""
    try:
        raw = json.loads(body or "")
        action = raw.get("action") if isinstance(raw, dict) else None
        model = _FRAMES.get(action) if isinstance(action, str) else None
        if model is None:
            return [error_frame('send a JSON object whose "action" is ping, counts, mark or mark_all')]
        frame = model.model_validate(raw)
    # ValueError: not JSON, or pydantic's ValidationError; RecursionError: nested past the parser's depth.
    except (ValueError, RecursionError) as exc:
        return [error_frame(_reason(exc))]
    match frame:
        case _Ping(action="ping"):
            return [PONG]
        case _Ping():
            counts = inbox.counts(recipient_id)
            return [counts_frame(counts.unread_count, counts.unseen_count)]
        case _Mark():
            try:
                inbox.mark(recipient_id, frame.ids, Mark(frame.status))
            except NotFoundError as missing:
                return [error_frame(str(missing))]
        case _MarkAll():
            inbox.mark_all(recipient_id, Mark(frame.status))
    return []


def _live(request: dict[str, Any]) -> LiveConnections:
    """The connections of this API stage: at WEBSOCKET_MANAGEMENT_URL when it is set (the local stack
    sets it), else at the request's own domain and stage."""
    url = inbox_settings().websocket_management_url
    return runtime.connections_at(url or f"https://{request.get('domainName')}/{request.get('stage')}")


def _reason(exc: ValueError | RecursionError) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "frame"
        return f"{where}: {first['msg']}"
    if isinstance(exc, RecursionError):
        return "not JSON: nested too deeply"
    return "not JSON"
