"""Handing a record back to SQS for later: the backoff of a failed record, and quiet hours.

A failed record's visibility timeout is set to its backoff (`schedule_retries`), so SQS hands it out
again only then.


SQS can delay a message by at most 15 minutes, so a longer wait is a chain of delayed copies: each
time the copy comes back the consumer checks the recipient's clock again and, if the window is still
open, sends it on once more. The record that was deferred is then done (deleted), so a wait never
counts against the queue's `maxReceiveCount` and never ends in the dead-letter queue.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from notifier.platform.logs import logger

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

MAX_DELAY_SECONDS = 900  # SQS's limit for DelaySeconds
_BATCH_LIMIT = 10  # entries per ChangeMessageVisibilityBatch call


def queue_url(client: SQSClient, queue_arn: str) -> str:
    """The URL of a queue from its ARN (`arn:aws:sqs:region:account:name`), on the client's endpoint,
    without a GetQueueUrl call (or the permission for it)."""
    parts = queue_arn.split(":")
    if len(parts) != 6 or parts[2] != "sqs":
        raise ValueError(f"not an SQS queue ARN: {queue_arn!r}")
    account, name = parts[4], parts[5]
    return f"{client.meta.endpoint_url.rstrip('/')}/{account}/{name}"


class Requeuer:
    """Puts a record back on its queue for later (a deferred delivery). Most batches never do, so the
    SQS client is asked of `client_factory` on the first use, not when the Requeuer is built."""

    def __init__(self, client_factory: Callable[[], SQSClient]) -> None:
        self._client_factory = client_factory

    @property
    def client(self) -> SQSClient:
        return self._client_factory()

    def send_later(self, queue_arn: str, body: str, until: datetime, *, now: datetime) -> int:
        """Put `body` back on the queue, visible at `until` or in 15 minutes, whichever is sooner.
        Returns the delay used, in seconds."""
        delay = min(MAX_DELAY_SECONDS, max(0, math.ceil((until - now).total_seconds())))
        self.client.send_message(
            QueueUrl=queue_url(self.client, queue_arn), MessageBody=body, DelaySeconds=delay
        )
        return delay


@dataclass(frozen=True)
class Retry:
    """A failed record, and the seconds until SQS may hand it out again."""

    queue_arn: str
    receipt_handle: str
    delay_seconds: int


def schedule_retries(client: SQSClient, retries: Sequence[Retry]) -> int:
    """Set each record's visibility timeout to its delay (ChangeMessageVisibilityBatch, ten at a time).
    A record whose change fails keeps the queue's own visibility timeout: it is retried later than
    planned, never lost. Returns how many were changed."""
    by_queue: dict[str, list[Retry]] = defaultdict(list)
    for retry in retries:
        by_queue[retry.queue_arn].append(retry)
    changed = 0
    for queue_arn, pending in by_queue.items():
        url = queue_url(client, queue_arn)
        for start in range(0, len(pending), _BATCH_LIMIT):
            chunk = pending[start : start + _BATCH_LIMIT]
            try:
                answer = client.change_message_visibility_batch(
                    QueueUrl=url,
                    Entries=[
                        {
                            "Id": str(i),
                            "ReceiptHandle": r.receipt_handle,
                            "VisibilityTimeout": r.delay_seconds,
                        }
                        for i, r in enumerate(chunk)
                    ],
                )
            except (BotoCoreError, ClientError):
                logger.exception("could not set the backoff of failed records; the queue's timeout applies")
                continue
            changed += len(answer.get("Successful", []))
            for failure in answer.get("Failed", []):
                logger.warning(
                    "could not set a failed record's backoff; the queue's timeout applies",
                    extra={"code": failure.get("Code"), "reason": failure.get("Message")},
                )
    return changed
