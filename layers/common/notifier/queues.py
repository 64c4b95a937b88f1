"""Putting a record back on its own queue for later: how a notification waits out quiet hours.

SQS can delay a message by at most 15 minutes, so a longer wait is a chain of delayed copies: each
time the copy comes back the consumer checks the recipient's clock again and, if the window is still
open, sends it on once more. The record that was deferred is then done (deleted), so a wait never
counts against the queue's `maxReceiveCount` and never ends in the dead-letter queue.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

MAX_DELAY_SECONDS = 900  # SQS's limit for DelaySeconds


def queue_url(client: SQSClient, queue_arn: str) -> str:
    """The URL of a queue from its ARN (`arn:aws:sqs:region:account:name`), on the client's endpoint,
    without a GetQueueUrl call (or the permission for it)."""
    parts = queue_arn.split(":")
    if len(parts) != 6 or parts[2] != "sqs":
        raise ValueError(f"not an SQS queue ARN: {queue_arn!r}")
    account, name = parts[4], parts[5]
    return f"{client.meta.endpoint_url.rstrip('/')}/{account}/{name}"


class Requeuer:
    def __init__(self, client: SQSClient) -> None:
        self.client = client

    def send_later(self, queue_arn: str, body: str, until: datetime, *, now: datetime) -> int:
        """Put `body` back on the queue, visible at `until` or in 15 minutes, whichever is sooner.
        Returns the delay used, in seconds."""
        delay = min(MAX_DELAY_SECONDS, max(0, math.ceil((until - now).total_seconds())))
        self.client.send_message(
            QueueUrl=queue_url(self.client, queue_arn), MessageBody=body, DelaySeconds=delay
        )
        return delay
