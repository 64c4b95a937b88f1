"""Scheduled notifications waiting for their time: each one's envelope, kept until it is released (or
cancelled), then deleted. The status table holds whether it may still be sent (SCHEDULED); this
table holds what to send, so neither the due queue's messages nor EventBridge Scheduler's schedules
carry a recipient's content (only ids and the time)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from notifier.models.envelope import Envelope
from notifier.stores.attributes import iso

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

KEPT_AFTER_DUE = timedelta(days=3)
"""How long past its time an envelope is kept if nothing releases it (a DLQ being redriven)."""


@dataclass(frozen=True)
class Pending:
    envelope: Envelope
    send_at: datetime


class PendingStore:
    def __init__(self, table: str, client: DynamoDBClient) -> None:
        self.table = table
        self.client = client

    def put(self, envelope: Envelope, send_at: datetime) -> None:
        self.client.put_item(
            TableName=self.table,
            Item={
                "notification_id": {"S": envelope.notification_id},
                "envelope": {"S": envelope.model_dump_json()},
                "send_at": {"S": iso(send_at)},
                "expires_at": {"N": str(int((send_at + KEPT_AFTER_DUE).timestamp()))},
            },
        )

    def get(self, notification_id: str) -> Pending | None:
        item = self.client.get_item(
            TableName=self.table, Key={"notification_id": {"S": notification_id}}, ConsistentRead=True
        ).get("Item")
        if not item:
            return None
        return Pending(
            envelope=Envelope.model_validate_json(item["envelope"]["S"]),
            send_at=datetime.fromisoformat(item["send_at"]["S"].replace("Z", "+00:00")),
        )

    def delete(self, notification_id: str) -> None:
        self.client.delete_item(TableName=self.table, Key={"notification_id": {"S": notification_id}})
