"""Who is connected to the inbox's WebSocket API: one item per connection, keyed by its id, with the
recipient its token named; found by recipient through the `recipient` index.

A connection lives at most `MAX_CONNECTION` (API Gateway closes it then), so its item expires then
too. `$disconnect` is best effort ("API Gateway will try its best to deliver the $disconnect event"),
and DynamoDB deletes expired items within days rather than at once, so readers skip items past their
time, and a post answered 410 Gone removes its item (`notifier.inbox.live`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from notifier.stores.batches import query_pages

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

MAX_CONNECTION = timedelta(hours=2)
"""API Gateway's limit on a WebSocket connection's duration."""


class ConnectionStore:
    def __init__(
        self,
        table: str,
        client: DynamoDBClient,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.table = table
        self.client = client
        self.clock = clock

    def add(self, connection_id: str, recipient_id: str) -> None:
        now = self.clock()
        self.client.put_item(
            TableName=self.table,
            Item={
                "connection_id": {"S": connection_id},
                "recipient_id": {"S": recipient_id},
                "connected_at": {"S": now.isoformat(timespec="milliseconds")},
                "expires_at": {"N": str(int((now + MAX_CONNECTION).timestamp()))},
            },
        )

    def recipient_of(self, connection_id: str) -> str | None:
        """The recipient of a live connection; None when it is unknown, closed or past its time."""
        item = self.client.get_item(
            TableName=self.table, Key={"connection_id": {"S": connection_id}}, ConsistentRead=True
        ).get("Item")
        if not item or self._expired(item):
            return None
        return str(item["recipient_id"]["S"])

    def of_recipient(self, recipient_id: str) -> list[str]:
        """The ids of the recipient's live connections."""
        request = {
            "TableName": self.table,
            "IndexName": "recipient",
            "KeyConditionExpression": "recipient_id = :r",
            "ExpressionAttributeValues": {":r": {"S": recipient_id}},
        }
        return [
            item["connection_id"]["S"]
            for answer in query_pages(self.client, request)
            for item in answer.get("Items", [])
            if not self._expired(item)
        ]

    def remove(self, connection_id: str) -> None:
        self.client.delete_item(TableName=self.table, Key={"connection_id": {"S": connection_id}})

    def _expired(self, item: dict[str, Any]) -> bool:
        expires = item.get("expires_at", {}).get("N")
        return expires is not None and int(expires) <= self.clock().timestamp()
