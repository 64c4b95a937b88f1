"""DynamoDB's batch calls, in as few calls as DynamoDB allows, with what it leaves unprocessed retried
after a backoff (as DynamoDB advises) and an error when it still leaves some; and a query read page by
page to its end."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from time import sleep
from typing import TYPE_CHECKING, Any

from notifier.errors import NotifierError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BATCH_GET_LIMIT = 100
BATCH_WRITE_LIMIT = 25
ATTEMPTS = 5


class UnprocessedError(NotifierError):
    """DynamoDB did not process every key or item of a batch call, even after backing off."""


def batch_get(client: DynamoDBClient, table: str, keys: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every item of `table` found among `keys`."""
    found: list[dict[str, Any]] = []
    for start in range(0, len(keys), BATCH_GET_LIMIT):
        request: dict[str, Any] = {table: {"Keys": list(keys[start : start + BATCH_GET_LIMIT])}}
        for attempt in range(ATTEMPTS):
            answer = client.batch_get_item(RequestItems=request)
            found += answer.get("Responses", {}).get(table, [])
            request = answer.get("UnprocessedKeys") or {}
            if not request:
                break
            sleep(0.05 * 2**attempt)
        else:
            raise UnprocessedError(f"DynamoDB left {len(request[table]['Keys'])} keys of {table} unread")
    return found


def batch_put(client: DynamoDBClient, table: str, items: Sequence[dict[str, Any]]) -> None:
    """Put every item of `items` into `table`."""
    for start in range(0, len(items), BATCH_WRITE_LIMIT):
        request: dict[str, Any] = {
            table: [{"PutRequest": {"Item": item}} for item in items[start : start + BATCH_WRITE_LIMIT]]
        }
        for attempt in range(ATTEMPTS):
            answer = client.batch_write_item(RequestItems=request)
            request = answer.get("UnprocessedItems") or {}
            if not request:
                break
            sleep(0.05 * 2**attempt)
        else:
            raise UnprocessedError(f"DynamoDB left {len(request[table])} items of {table} unwritten")


def query_pages(client: DynamoDBClient, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Each answer of the Query `request`, following LastEvaluatedKey until there is none."""
    request = dict(request)
    while True:
        answer = client.query(**request)
        yield dict(answer)
        start = answer.get("LastEvaluatedKey")
        if not start:
            return
        request["ExclusiveStartKey"] = start
