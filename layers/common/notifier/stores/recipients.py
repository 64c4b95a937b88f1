"""The recipient store: one DynamoDB item per recipient, its document as JSON."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from notifier.errors import RecipientConflictError, RecipientReadError
from notifier.models.recipients import Recipient
from notifier.stores.batches import UnprocessedError, batch_get

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class RecipientStore:
    """Table keyed by `recipient_id`; the rest of the recipient is one JSON document."""

    REMOVE_ATTEMPTS = 5
    """Read-modify-write rounds before giving up on a recipient that keeps changing."""

    def __init__(self, table: str, client: DynamoDBClient) -> None:
        self.table = table
        self.client = client

    def get(self, recipient_id: str) -> Recipient | None:
        found = self._read(recipient_id, consistent=False)
        return Recipient.model_validate_json(found) if found is not None else None

    def get_many(self, recipient_ids: Iterable[str]) -> dict[str, Recipient]:
        """The recipients that exist among `recipient_ids`, in as few BatchGetItem calls as DynamoDB
        allows (100 keys each): a consumer reads a whole batch's recipients at once."""
        wanted = list(dict.fromkeys(recipient_ids))
        try:
            items = batch_get(self.client, self.table, [self._key(i) for i in wanted])
        except UnprocessedError as exc:
            raise RecipientReadError(str(exc)) from None
        found = [Recipient.model_validate_json(item["document"]["S"]) for item in items]
        return {recipient.recipient_id: recipient for recipient in found}

    def put(self, recipient: Recipient) -> bool:
        """Store `recipient`, replacing any previous one. True when it did not exist before."""
        answer = self.client.put_item(TableName=self.table, Item=self.item(recipient), ReturnValues="ALL_OLD")
        return not answer.get("Attributes")

    def delete(self, recipient_id: str) -> bool:
        """Forget a recipient. True when there was one to forget."""
        answer = self.client.delete_item(
            TableName=self.table, Key=self._key(recipient_id), ReturnValues="ALL_OLD"
        )
        return bool(answer.get("Attributes"))

    def remove_push_token(self, recipient_id: str, token: str) -> bool:
        """Drop one push token, after the vendor said the device is gone. True when it was removed.

        The document is read, changed and written back only if it is still the one read, so a
        concurrent change (the user adding a device) is kept, not overwritten; a lost race reads
        again. A recipient deleted meanwhile fails the condition too and is then found missing, so
        it is never brought back.
        """
        for _ in range(self.REMOVE_ATTEMPTS):
            stored = self._read(recipient_id, consistent=True)
            if stored is None:
                return False
            recipient = Recipient.model_validate_json(stored)
            kept = [t for t in recipient.contacts.push_tokens if t.token != token]
            if len(kept) == len(recipient.contacts.push_tokens):
                return False
            changed = recipient.model_copy(
                update={
                    "contacts": recipient.contacts.model_copy(update={"push_tokens": kept}),
                    "updated_at": datetime.now(UTC),
                }
            )
            try:
                self.client.put_item(
                    TableName=self.table,
                    Item=self.item(changed),
                    ConditionExpression="#document = :read",
                    ExpressionAttributeNames={"#document": "document"},
                    ExpressionAttributeValues={":read": {"S": stored}},
                )
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
                continue
            return True
        raise RecipientConflictError(
            f"recipient {recipient_id!r} changed {self.REMOVE_ATTEMPTS} times while removing a push token"
        )

    @staticmethod
    def item(recipient: Recipient) -> dict[str, Any]:
        """The DynamoDB item of `recipient` (the local stack seeds the table with these)."""
        return {
            "recipient_id": {"S": recipient.recipient_id},
            "document": {"S": recipient.model_dump_json()},
        }

    def _read(self, recipient_id: str, *, consistent: bool) -> str | None:
        """The stored JSON document, verbatim: the optimistic write compares against this text."""
        item = self.client.get_item(
            TableName=self.table, Key=self._key(recipient_id), ConsistentRead=consistent
        ).get("Item")
        return item["document"]["S"] if item else None

    @staticmethod
    def _key(recipient_id: str) -> dict[str, Any]:
        return {"recipient_id": {"S": recipient_id}}
