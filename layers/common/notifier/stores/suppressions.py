"""The suppression list: addresses this service no longer sends to, and why.

An address goes on it when a vendor says it is dead (a hard bounce, an unknown handset), or that its
owner reported a message as spam, unsubscribed or replied STOP. A consumer reads the addresses of its
whole batch at once (one BatchGetItem) and sends to none of those on the list: the notification is
SUPPRESSED with the reason, and no vendor is called. An operator reviews the list and lifts an entry
through the API (`GET /suppressions`, `DELETE /suppressions/{address}`).

Keyed by the address as `normalized` writes it: e-mail addresses in lower case (mailbox providers do
not tell case apart, and SendGrid reports them as it saw them), phone numbers in E.164 as they are.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from notifier.models.channels import Channel
from notifier.models.responses import Suppression, SuppressionPage
from notifier.stores.attributes import iso
from notifier.stores.batches import batch_get

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_SCAN_PAGE = 200


def normalized(address: str) -> str:
    address = address.strip()
    return address.lower() if "@" in address else address


def channel_of(address: str) -> Channel:
    return Channel.EMAIL if "@" in address else Channel.SMS


class SuppressionStore:
    def __init__(self, table: str, client: DynamoDBClient) -> None:
        self.table = table
        self.client = client

    def add(self, address: str, *, reason: str, source: str, notification_id: str | None) -> bool:
        """Put `address` on the list, unless it is there already (the first reason is kept). True when
        it was not there."""
        key = normalized(address)
        item = {
            "address": {"S": key},
            "channel": {"S": channel_of(key).value},
            "reason": {"S": reason[:500]},
            "source": {"S": source[:100]},
            "created_at": {"S": iso(datetime.now(UTC))},
        }
        if notification_id:
            item["notification_id"] = {"S": notification_id}
        try:
            self.client.put_item(
                TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(address)"
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def get(self, address: str) -> Suppression | None:
        item = self.client.get_item(
            TableName=self.table, Key={"address": {"S": normalized(address)}}, ConsistentRead=True
        ).get("Item")
        return _suppression(item) if item else None

    def find_many(self, addresses: Iterable[str]) -> dict[str, Suppression]:
        """Those of `addresses` on the list, by their normalized form."""
        keys = [{"address": {"S": a}} for a in dict.fromkeys(normalized(a) for a in addresses)]
        return {s.address: s for s in map(_suppression, batch_get(self.client, self.table, keys))}

    def remove(self, address: str) -> bool:
        """Lift a suppression. True when there was one."""
        answer = self.client.delete_item(
            TableName=self.table, Key={"address": {"S": normalized(address)}}, ReturnValues="ALL_OLD"
        )
        return bool(answer.get("Attributes"))

    def page(self, *, limit: int, after: str | None, channel: Channel | None) -> SuppressionPage:
        """Up to `limit` entries (of `channel`), after the address `after` (the previous page's `next`:
        any string is a place in the table, so no cursor is refused)."""
        start = after
        items: list[Suppression] = []
        while True:
            request: dict[str, Any] = {"TableName": self.table, "Limit": _SCAN_PAGE}
            if start:
                request["ExclusiveStartKey"] = {"address": {"S": start}}
            if channel is not None:
                request["FilterExpression"] = "channel = :channel"
                request["ExpressionAttributeValues"] = {":channel": {"S": channel.value}}
            answer = self.client.scan(**request)
            for item in answer.get("Items", []):
                items.append(_suppression(item))
                if len(items) == limit:
                    return SuppressionPage(items=items, next=items[-1].address)
            last = answer.get("LastEvaluatedKey")
            if not last:
                return SuppressionPage(items=items, next=None)
            start = last["address"]["S"]


def _suppression(item: dict[str, Any]) -> Suppression:
    return Suppression(
        address=item["address"]["S"],
        channel=item["channel"]["S"],
        reason=item["reason"]["S"],
        source=item["source"]["S"],
        notification_id=item.get("notification_id", {}).get("S"),
        created_at=item["created_at"]["S"],
    )
