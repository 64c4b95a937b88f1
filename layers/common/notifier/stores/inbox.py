"""The in-app inbox: one DynamoDB item per (recipient, notification), newest first, with counts that
stay right when the table's TTL deletes items.

Keyed by `recipient_id` (partition) and `notification_id` (sort), so a mark finds its item directly
and a second copy of a delivery stores nothing (`attribute_not_exists`). Listing and counting go
through local secondary indexes whose sort key, `<created_at>#<notification_id>`, is copied into an
attribute only while the item belongs to the index (sparse):

| index | holds | used for |
|---|---|---|
| `newest` | every item | `archived=include` |
| `active` | items not archived | `archived=exclude` (the default) |
| `archived` | archived items | `archived=only` |
| `unread` | unread items not archived | `status=unread`, and `unread_count` |
| `unseen` | unseen items not archived | `status=unseen`, and `unseen_count` |

A count is a `Select=COUNT` query of its index: it reads only the unread (unseen) items, and an item
the TTL deletes leaves every index with it, so no counter can drift. A mark reads the item and writes
its new state, conditional on the state it read (a concurrent mark makes it read again).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from notifier.errors import InvalidRequestError, NotFoundError, RecipientConflictError
from notifier.stores.attributes import iso
from notifier.stores.batches import query_pages

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

INDEXES = ("newest", "active", "archived", "unread", "unseen")
"""Each index's sort key attribute is `<index>_key`."""
MARK_ATTEMPTS = 5
MARK_ALL_LIMIT = 1000
"""Items one mark-all changes at most: the rest wait for the next call (the counts say how many)."""
MARK_ALL_CONCURRENCY = 8


class Mark(StrEnum):
    SEEN = "seen"
    READ = "read"
    UNREAD = "unread"
    ARCHIVED = "archived"
    UNARCHIVED = "unarchived"


@dataclass(frozen=True)
class InboxItem:
    recipient_id: str
    notification_id: str
    event_type: str
    title: str | None
    body: str
    data: dict[str, Any]
    created_at: datetime
    seen_at: datetime | None = None
    read_at: datetime | None = None
    archived_at: datetime | None = None
    delivered: bool = False
    """Told to an open app, or fetched by one: its notification's status says DELIVERED."""


@dataclass(frozen=True)
class InboxPage:
    items: list[InboxItem]
    next: str | None


class InboxStore:
    def __init__(
        self,
        table: str,
        client: DynamoDBClient,
        *,
        ttl: timedelta,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.table = table
        self.client = client
        self.ttl = ttl
        self.clock = clock

    def put(self, item: InboxItem) -> bool:
        """Store a new item (unseen, unread). False when it is there already (a second delivery)."""
        order = _order(item.created_at, item.notification_id)
        record: dict[str, Any] = {
            "recipient_id": {"S": item.recipient_id},
            "notification_id": {"S": item.notification_id},
            "event_type": {"S": item.event_type},
            "body": {"S": item.body},
            "data": {"S": json.dumps(item.data, separators=(",", ":"))},
            "created_at": {"S": iso(item.created_at)},
            "expires_at": {"N": str(int((item.created_at + self.ttl).timestamp()))},
            **{f"{index}_key": {"S": order} for index in ("newest", "active", "unread", "unseen")},
        }
        if item.title is not None:
            record["title"] = {"S": item.title}
        try:
            self.client.put_item(
                TableName=self.table, Item=record, ConditionExpression="attribute_not_exists(notification_id)"
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def get(self, recipient_id: str, notification_id: str) -> InboxItem | None:
        found = self._read(recipient_id, notification_id)
        return _item(found) if found else None

    def page(
        self,
        recipient_id: str,
        *,
        status: str = "all",
        archived: str = "exclude",
        limit: int = 20,
        after: str | None = None,
    ) -> InboxPage:
        """Up to `limit` items, newest first; `status` all | unread | unseen, `archived` exclude |
        include | only; `after` is the previous page's `next`."""
        index, wanted = _index_for(status, archived)
        start = _cursor_key(after, recipient_id, index) if after else None
        items: list[InboxItem] = []
        while True:
            request = self._query(recipient_id, index, ScanIndexForward=False, Limit=limit - len(items))
            if start:
                request["ExclusiveStartKey"] = start
            answer = self.client.query(**request)
            for record in answer.get("Items", []):
                item = _item(record)
                if wanted(item):
                    items.append(item)
            start = answer.get("LastEvaluatedKey")
            if not start or len(items) >= limit:
                return InboxPage(items, _cursor(start, index) if start else None)

    def counts(self, recipient_id: str) -> tuple[int, int]:
        """(unread, unseen), archived items left out."""
        return self._count(recipient_id, "unread"), self._count(recipient_id, "unseen")

    def mark(self, recipient_id: str, notification_id: str, mark: Mark) -> InboxItem:
        """The item after `mark`; NotFoundError when the recipient has no such item."""
        return self.marked(recipient_id, notification_id, mark)[0]

    def marked(self, recipient_id: str, notification_id: str, mark: Mark) -> tuple[InboxItem, bool]:
        """The item after `mark`, and whether the mark changed it; NotFoundError as `mark`'s."""
        for _ in range(MARK_ATTEMPTS):
            found = self._read(recipient_id, notification_id)
            if found is None:
                raise NotFoundError(f"no item {notification_id!r} in this inbox")
            updated = self._apply(found, mark)
            if updated is not None:
                return _item(updated), updated is not found
        raise RecipientConflictError(f"inbox item {notification_id!r} kept changing while marked {mark}")

    def mark_all(self, recipient_id: str, mark: Mark) -> list[InboxItem]:
        """Mark every item that `mark` changes (unseen ones seen, unread ones read, active ones archived),
        at most MARK_ALL_LIMIT of them; the items it changed, as they were before."""
        index = {Mark.SEEN: "unseen", Mark.READ: "unread", Mark.ARCHIVED: "active"}.get(mark)
        if index is None:
            raise InvalidRequestError({"mark": f"mark-all takes seen, read or archived, not {mark}"})
        records: list[dict[str, Any]] = []
        for answer in query_pages(self.client, self._query(recipient_id, index, Limit=MARK_ALL_LIMIT)):
            records += answer.get("Items", [])[: MARK_ALL_LIMIT - len(records)]
            if len(records) >= MARK_ALL_LIMIT:
                break

        def one(record: dict[str, Any]) -> InboxItem | None:
            before = _item(record)
            if self._apply(dict(record), mark) is None:  # changed meanwhile: read it again
                try:
                    self.mark(recipient_id, before.notification_id, mark)
                except NotFoundError:  # expired or deleted meanwhile
                    return None
            return before

        if len(records) <= 1:
            changed = [one(record) for record in records]
        else:
            with ThreadPoolExecutor(MARK_ALL_CONCURRENCY, thread_name_prefix="mark-all") as pool:
                changed = list(pool.map(one, records))
        return [item for item in changed if item is not None]

    def set_delivered(self, recipient_id: str, notification_ids: list[str]) -> None:
        """Remember that these items' notifications are DELIVERED, so a fetch does not say so again."""
        for notification_id in notification_ids:
            try:
                self.client.update_item(
                    TableName=self.table,
                    Key=_key(recipient_id, notification_id),
                    UpdateExpression="SET delivered = :t",
                    ConditionExpression="attribute_exists(notification_id)",
                    ExpressionAttributeValues={":t": {"BOOL": True}},
                )
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise

    def _apply(self, found: dict[str, Any], mark: Mark) -> dict[str, Any] | None:
        """Write `mark` over the item as read; None when it changed meanwhile."""
        state = {name: name in found for name in ("seen_at", "read_at", "archived_at")}
        sets, removes = _changes(found, state, mark, iso(self.clock()))
        if not sets and not removes:
            return found
        expression = " ".join(
            part
            for part in (
                "SET " + ", ".join(f"#{n} = :{n}" for n in sets) if sets else "",
                "REMOVE " + ", ".join(f"#{n}" for n in removes) if removes else "",
            )
            if part
        )
        as_read = " AND ".join(
            f"attribute_exists(#{n})" if present else f"attribute_not_exists(#{n})"
            for n, present in state.items()
        )
        request: dict[str, Any] = {
            "TableName": self.table,
            "Key": _key(found["recipient_id"]["S"], found["notification_id"]["S"]),
            "UpdateExpression": expression,
            "ConditionExpression": f"attribute_exists(notification_id) AND {as_read}",
            "ExpressionAttributeNames": {f"#{n}": n for n in [*sets, *removes, *state]},
            "ReturnValues": "ALL_NEW",
        }
        if sets:
            request["ExpressionAttributeValues"] = {f":{n}": {"S": v} for n, v in sets.items()}
        try:
            answer = self.client.update_item(**request)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return None
            raise
        return dict(answer["Attributes"])

    def _count(self, recipient_id: str, index: str) -> int:
        request = self._query(recipient_id, index, Select="COUNT")
        return sum(int(answer.get("Count", 0)) for answer in query_pages(self.client, request))

    def _query(self, recipient_id: str, index: str, **options: Any) -> dict[str, Any]:
        """A Query of one recipient's items in `index`."""
        return {
            "TableName": self.table,
            "IndexName": index,
            "KeyConditionExpression": "recipient_id = :r",
            "ExpressionAttributeValues": {":r": {"S": recipient_id}},
            **options,
        }

    def _read(self, recipient_id: str, notification_id: str) -> dict[str, Any] | None:
        found = self.client.get_item(
            TableName=self.table, Key=_key(recipient_id, notification_id), ConsistentRead=True
        ).get("Item")
        return dict(found) if found else None


def _changes(
    found: dict[str, Any], state: dict[str, bool], mark: Mark, now: str
) -> tuple[dict[str, str], list[str]]:
    """What `mark` sets and removes on an item in `state`: its moments, and its index keys."""
    moments = {
        "seen_at": mark in (Mark.SEEN, Mark.READ) or (state["seen_at"]),
        "read_at": mark is Mark.READ or (state["read_at"] and mark is not Mark.UNREAD),
        "archived_at": mark is Mark.ARCHIVED or (state["archived_at"] and mark is not Mark.UNARCHIVED),
    }
    sets = {name: now for name, present in moments.items() if present and not state[name]}
    removes = [name for name, present in moments.items() if not present and state[name]]
    order = found["newest_key"]["S"]
    membership = {
        "active_key": not moments["archived_at"],
        "archived_key": moments["archived_at"],
        "unread_key": not moments["read_at"] and not moments["archived_at"],
        "unseen_key": not moments["seen_at"] and not moments["archived_at"],
    }
    for key, member in membership.items():
        if member and key not in found:
            sets[key] = order
        elif not member and key in found:
            removes.append(key)
    return sets, removes


def _index_for(status: str, archived: str) -> tuple[str, Callable[[InboxItem], bool]]:
    """The index to read, and what of it to keep (a filter only where no index holds exactly it)."""
    everything: Callable[[InboxItem], bool] = lambda item: True  # noqa: E731
    if archived == "exclude":
        return {"all": "active", "unread": "unread", "unseen": "unseen"}[status], everything
    index = "newest" if archived == "include" else "archived"
    if status == "unread":
        return index, lambda item: item.read_at is None
    if status == "unseen":
        return index, lambda item: item.seen_at is None
    return index, everything


def _key(recipient_id: str, notification_id: str) -> dict[str, Any]:
    return {"recipient_id": {"S": recipient_id}, "notification_id": {"S": notification_id}}


def _order(created_at: datetime, notification_id: str) -> str:
    return f"{iso(created_at)}#{notification_id}"


def _when(record: dict[str, Any], name: str) -> datetime | None:
    value = record.get(name, {}).get("S")
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _item(record: dict[str, Any]) -> InboxItem:
    created = _when(record, "created_at")
    if created is None:
        raise ValueError("an inbox item without created_at")
    return InboxItem(
        recipient_id=record["recipient_id"]["S"],
        notification_id=record["notification_id"]["S"],
        event_type=record["event_type"]["S"],
        title=record.get("title", {}).get("S"),
        body=record["body"]["S"],
        data=json.loads(record["data"]["S"]),
        created_at=created,
        seen_at=_when(record, "seen_at"),
        read_at=_when(record, "read_at"),
        archived_at=_when(record, "archived_at"),
        delivered=bool(record.get("delivered", {}).get("BOOL")),
    )


def _cursor(last: dict[str, Any], index: str) -> str:
    flat = {name: value["S"] for name, value in last.items()}
    return base64.urlsafe_b64encode(json.dumps({"i": index, "k": flat}).encode()).decode().rstrip("=")


def _cursor_key(cursor: str, recipient_id: str, index: str) -> dict[str, Any]:
    """The start key a cursor holds, refused unless it is this inbox's and this listing's: a cursor
    cannot read another recipient's items."""
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        key = decoded["k"]
        valid = (
            decoded.get("i") == index
            and isinstance(key, dict)
            and key.get("recipient_id") == recipient_id
            and all(isinstance(v, str) for v in key.values())
            and set(key) == {"recipient_id", "notification_id", f"{index}_key"}
        )
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        valid = False
    if not valid:
        raise InvalidRequestError({"after": "not a cursor of this listing"})
    return {name: {"S": value} for name, value in key.items()}
