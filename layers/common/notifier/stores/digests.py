"""Digest windows: the events of one digest key gathered until their window closes, then sent as one
notification (`notifier.scheduling.digests` says when and how).

Each digest key has two kinds of items in the table (partition `pk`, sort `sk`, TTL `expires_at`):

- **`HEAD`**, the arbiter: the id of the key's current window. It only ever changes by a
  compare-and-swap from the id its writer read, so of two requests that both find no open window,
  exactly one opens the next (the other's transaction is cancelled, and it joins the winner's).
- **`W#<window id>`**, a window: its state (OPEN, FLUSHING, SENT or EMPTY), when it closes, the
  events that joined it and the first actors. An event joins with one conditional update on this
  exact item (OPEN, not closed, not full), so no event joins a window that is being sent, and none is
  counted twice.

A window's digest is sent under an id derived from the window (`digest_id`), so a flush retried after
a crash sends the same notification again, which the consumers' status rows let through once.

This answers the two failures users of other services report (novuhq/novu#2569, #3893): no
find-then-create, and every write addressed to one exact item of one key.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from notifier.models.envelope import DIGEST_MAX_ACTORS
from notifier.platform.logs import logger

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

HEAD = "HEAD"
KEPT_AFTER_CLOSING = timedelta(days=3)
"""How long a window is kept after it closes: long enough for a flush in its DLQ to be redriven."""
_DIGEST_NAMESPACE = uuid.UUID("8f7c2b0e-5d4a-4e1b-9c3f-6a2d1e0b7f45")


class WindowState(StrEnum):
    OPEN = "OPEN"
    FLUSHING = "FLUSHING"
    SENT = "SENT"
    EMPTY = "EMPTY"


def digest_key(parts: Sequence[str | None]) -> str:
    """The partition of a digest key: a hash of its parts (recipient, event type, payload values),
    so that no value, however written, can run into the next one."""
    return "digest#" + hashlib.sha256(json.dumps(list(parts)).encode()).hexdigest()


def digest_id(key: str, window_id: str) -> str:
    """The notification id the window's digest is sent as: the same on every flush of the window."""
    return str(uuid.uuid5(_DIGEST_NAMESPACE, f"{key}/{window_id}"))


def _epoch(moment: datetime) -> str:
    return f"{moment.timestamp():.3f}"


def _moment(value: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(float(value["N"]), UTC)


@dataclass(frozen=True)
class Window:
    key: str
    window_id: str
    state: WindowState
    closes_at: datetime
    event_count: int
    event_ids: list[str]
    actors: list[str]
    leading_event_id: str | None
    lease_until: datetime | None
    about: dict[str, Any]
    """What the digest is about: recipient, event type, priority, channels, correlation id, and the
    payload of the window's first event."""

    @property
    def digest_id(self) -> str:
        return digest_id(self.key, self.window_id)

    @classmethod
    def of(cls, item: dict[str, Any]) -> Window:
        lease = item.get("lease_until")
        leading = item.get("leading_event_id")
        return cls(
            key=item["pk"]["S"],
            window_id=item["sk"]["S"].removeprefix("W#"),
            state=WindowState(item["state"]["S"]),
            closes_at=_moment(item["closes_at"]),
            event_count=int(item["event_count"]["N"]),
            event_ids=[value["S"] for value in item.get("event_ids", {}).get("L", [])],
            actors=[value["S"] for value in item.get("actors", {}).get("L", [])],
            leading_event_id=leading["S"] if leading else None,
            lease_until=_moment(lease) if lease else None,
            about=json.loads(item["about"]["S"]),
        )


@dataclass(frozen=True)
class NewWindow:
    """A window about to be opened by `first_event_id`: digested at once, or sent alone (`leading`)."""

    window_id: str
    closes_at: datetime
    about: dict[str, Any]
    first_event_id: str
    actor: str | None
    leading: bool


class DigestStore:
    """Table keyed by `pk` (the digest key) and `sk` (`HEAD`, or `W#` and the window id)."""

    def __init__(self, table: str, client: DynamoDBClient) -> None:
        self.table = table
        self.client = client

    def current(self, key: str) -> str | None:
        """The id of the key's current window (open or not), or None when it never had one."""
        item = self.client.get_item(TableName=self.table, Key=self._key(key, HEAD), ConsistentRead=True).get(
            "Item"
        )
        return item["window_id"]["S"] if item else None

    def window(self, key: str, window_id: str) -> Window | None:
        item = self.client.get_item(
            TableName=self.table, Key=self._key(key, f"W#{window_id}"), ConsistentRead=True
        ).get("Item")
        return Window.of(item) if item else None

    def join(
        self, key: str, window_id: str, event_id: str, actor: str | None, *, now: datetime, max_events: int
    ) -> int | None:
        """Add the event to the window if it is open, not closed and not full: its count after, or None
        when it could not join (the caller then opens the next window)."""
        try:
            answer = self.client.update_item(
                TableName=self.table,
                Key=self._key(key, f"W#{window_id}"),
                UpdateExpression="SET event_ids = list_append(event_ids, :id) ADD event_count :one",
                ConditionExpression="#state = :open AND closes_at > :now AND event_count < :max",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={
                    ":id": {"L": [{"S": event_id}]},
                    ":one": {"N": "1"},
                    ":open": {"S": WindowState.OPEN},
                    ":now": {"N": _epoch(now)},
                    ":max": {"N": str(max_events)},
                },
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as exc:
            if _condition_failed(exc):
                return None
            raise
        if actor:
            self._name(key, window_id, actor)
        return int(answer["Attributes"]["event_count"]["N"])

    def _name(self, key: str, window_id: str, actor: str) -> None:
        """Add `actor` to the window's names if it is new and there is room: the names a digest shows
        only, so a name left out (a lost race for the last place) changes no count."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key=self._key(key, f"W#{window_id}"),
                UpdateExpression="SET actors = list_append(actors, :actor)",
                ConditionExpression="#state = :open AND size(actors) < :room AND NOT contains(actors, :name)",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={
                    ":actor": {"L": [{"S": actor}]},
                    ":name": {"S": actor},
                    ":open": {"S": WindowState.OPEN},
                    ":room": {"N": str(DIGEST_MAX_ACTORS)},
                },
            )
        except ClientError as exc:
            if not _condition_failed(exc):
                # The event has joined already: failing it now would have its client send it again,
                # to be counted twice. The digest goes without this name.
                logger.warning("could not add an actor's name", extra={"window_id": window_id}, exc_info=True)

    def open(self, key: str, seen: str | None, new: NewWindow) -> bool:
        """Make `new` the key's current window, if the current one is still `seen` (None: there was
        none). False when another request changed it first."""
        digested = not new.leading
        head_condition = "window_id = :seen" if seen else "attribute_not_exists(window_id)"
        head_values = {":seen": {"S": seen}} if seen else {}
        window: dict[str, Any] = {
            **self._key(key, f"W#{new.window_id}"),
            "state": {"S": WindowState.OPEN},
            "opened_at": {"N": _epoch(datetime.now(UTC))},
            "closes_at": {"N": _epoch(new.closes_at)},
            "event_count": {"N": "1" if digested else "0"},
            "event_ids": {"L": [{"S": new.first_event_id}] if digested else []},
            "actors": {"L": [{"S": new.actor}] if digested and new.actor else []},
            "about": {"S": json.dumps(new.about, separators=(",", ":"))},
            "expires_at": {"N": str(int((new.closes_at + KEPT_AFTER_CLOSING).timestamp()))},
        }
        if new.leading:
            window["leading_event_id"] = {"S": new.first_event_id}
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": self._key(key, HEAD),
                            "UpdateExpression": "SET window_id = :new, expires_at = :expires",
                            "ConditionExpression": head_condition,
                            "ExpressionAttributeValues": {
                                ":new": {"S": new.window_id},
                                ":expires": window["expires_at"],
                                **head_values,
                            },
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": window,
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                return False
            raise
        return True

    def claim(
        self, key: str, window_id: str, *, now: datetime, max_events: int, lease_seconds: float
    ) -> tuple[Window, bool] | None:
        """Freeze the window for sending (FLUSHING, leased for `lease_seconds`) if it is due (closed,
        or full), or if a flush that froze it earlier let its lease run out (it crashed). The window,
        and whether this caller froze it (if not: another flush holds it, it is done, or it is not
        due yet); None when there is no such window."""
        try:
            answer = self.client.update_item(
                TableName=self.table,
                Key=self._key(key, f"W#{window_id}"),
                UpdateExpression="SET #state = :flushing, lease_until = :lease",
                ConditionExpression=(
                    "(#state = :open AND (closes_at <= :now OR event_count >= :max)) "
                    "OR (#state = :flushing AND lease_until < :now)"
                ),
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={
                    ":flushing": {"S": WindowState.FLUSHING},
                    ":open": {"S": WindowState.OPEN},
                    ":now": {"N": _epoch(now)},
                    ":max": {"N": str(max_events)},
                    ":lease": {"N": _epoch(now + timedelta(seconds=lease_seconds))},
                },
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not _condition_failed(exc):
                raise
            old = cast("dict[str, Any] | None", exc.response.get("Item"))
            return (Window.of(old), False) if old else None
        return Window.of(answer["Attributes"]), True

    def finish(self, window: Window, state: WindowState) -> bool:
        """FLUSHING -> SENT or EMPTY, by the flush holding it. False if it was finished already."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key=self._key(window.key, f"W#{window.window_id}"),
                UpdateExpression="SET #state = :state REMOVE lease_until",
                ConditionExpression="#state = :flushing",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={
                    ":state": {"S": state},
                    ":flushing": {"S": WindowState.FLUSHING},
                },
            )
        except ClientError as exc:
            if _condition_failed(exc):
                return False
            raise
        return True

    @staticmethod
    def _key(key: str, sort: str) -> dict[str, Any]:
        return {"pk": {"S": key}, "sk": {"S": sort}}


def _condition_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"
