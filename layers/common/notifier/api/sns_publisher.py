"""The Publisher: envelopes to SNS, one message each, alone or packed into PublishBatch calls within
SNS's limits, each recorded ACCEPTED once SNS has taken it. `publishing` decides what to publish and
when; the scheduling functions publish what is due through the same Publisher.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from notifier.errors import PublishError
from notifier.models.envelope import Envelope
from notifier.platform.logs import logger
from notifier.stores.status import StatusStore

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sns.type_defs import MessageAttributeValueTypeDef, PublishBatchRequestEntryTypeDef

SNS_MAX_BATCH_ENTRIES = 10
SNS_MAX_PAYLOAD_BYTES = 262_144
"""SNS's limit for one message, and for all the messages of one PublishBatch call (with attributes)."""
BATCH_CALLS_AT_ONCE = 4
"""PublishBatch calls in flight at once for one bulk request."""


def message_attributes(envelope: Envelope) -> dict[str, MessageAttributeValueTypeDef]:
    """The attributes the subscriptions' filter policies select on."""
    return {
        "channel": {
            "DataType": "String.Array",
            "StringValue": json.dumps([c.value for c in envelope.channels]),
        },
        "priority": {"DataType": "String", "StringValue": envelope.priority.value},
        "event_type": {"DataType": "String", "StringValue": str(envelope.event_type)},
        "correlation_id": {"DataType": "String", "StringValue": envelope.correlation_id},
    }


@dataclass(frozen=True)
class Published:
    sns_message_id: str


@dataclass(frozen=True)
class NotPublished:
    reason: str
    retryable: bool


@dataclass(frozen=True)
class SnsMessage:
    """One envelope as SNS receives it, whether published alone or in a batch."""

    index: int
    envelope: Envelope
    body: str
    attributes: dict[str, MessageAttributeValueTypeDef]

    @classmethod
    def of(cls, envelope: Envelope, index: int = 0) -> SnsMessage:
        return cls(index, envelope, envelope.model_dump_json(), message_attributes(envelope))

    @property
    def size(self) -> int:
        """Bytes as SNS counts them against its limit: the body and each attribute's name, type and value."""
        return len(self.body.encode()) + sum(
            len(name.encode()) + len(value["DataType"].encode()) + len(value.get("StringValue", "").encode())
            for name, value in self.attributes.items()
        )

    def batch_entry(self) -> PublishBatchRequestEntryTypeDef:
        return {"Id": str(self.index), "Message": self.body, "MessageAttributes": self.attributes}


class Publisher:
    def __init__(self, topic_arn: str, status: StatusStore, client: SNSClient) -> None:
        self.topic_arn = topic_arn
        self.status = status
        self.client = client

    def publish_envelope(self, envelope: Envelope) -> None:
        """`publish` for an envelope made elsewhere (a scheduled one, released when due)."""
        self.publish(SnsMessage.of(envelope))

    def publish(self, message: SnsMessage) -> None:
        """Publish once to SNS, then record ACCEPTED. Raises PublishError if SNS refused it."""
        envelope = message.envelope
        try:
            sns_message_id = self.client.publish(
                TopicArn=self.topic_arn, Message=message.body, MessageAttributes=message.attributes
            )["MessageId"]
        except (BotoCoreError, ClientError) as exc:
            logger.exception("SNS publish failed", extra={"notification_id": envelope.notification_id})
            raise PublishError("the notification could not be queued; try again") from exc
        self._accepted(envelope, sns_message_id)

    def publish_batch(self, messages: Sequence[SnsMessage]) -> list[Published | NotPublished]:
        """Publish each message exactly as `publish` would, with PublishBatch (at most 10 messages and
        256 KiB a call, a few calls at once), and record ACCEPTED for each SNS took. One outcome per
        message, in order; a call that fails fails its own messages only. Messages need distinct
        indexes (their batch entry ids)."""
        outcomes: dict[int, Published | NotPublished] = {}
        batches = _batches(messages)
        if len(batches) == 1:
            outcomes.update(self._publish_call(batches[0]))
        elif batches:
            with ThreadPoolExecutor(
                max_workers=min(BATCH_CALLS_AT_ONCE, len(batches)), thread_name_prefix="publish-batch"
            ) as pool:
                for answered in pool.map(self._publish_call, batches):
                    outcomes.update(answered)
        return [outcomes[message.index] for message in messages]

    def _publish_call(self, batch: Sequence[SnsMessage]) -> dict[int, Published | NotPublished]:
        """One PublishBatch call; ACCEPTED for each message SNS reports Successful."""
        try:
            answer = self.client.publish_batch(
                TopicArn=self.topic_arn, PublishBatchRequestEntries=[m.batch_entry() for m in batch]
            )
        except (BotoCoreError, ClientError) as exc:
            logger.exception(
                "SNS PublishBatch failed",
                extra={"notification_ids": [m.envelope.notification_id for m in batch]},
            )
            code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None
            reason = f"not queued: the SNS call failed ({code or type(exc).__name__}); try again"
            return {m.index: NotPublished(reason, retryable=True) for m in batch}
        taken = {entry["Id"]: entry["MessageId"] for entry in answer.get("Successful", [])}
        refused = {entry["Id"]: entry for entry in answer.get("Failed", [])}
        outcomes: dict[int, Published | NotPublished] = {}
        for message in batch:
            entry_id = str(message.index)
            if entry_id in taken:
                self._accepted(message.envelope, taken[entry_id])
                outcomes[message.index] = Published(taken[entry_id])
            elif entry_id in refused:
                failure = refused[entry_id]
                retryable = not failure["SenderFault"]
                detail = failure.get("Message")
                reason = f"not queued: SNS refused it ({failure['Code']}{f': {detail}' if detail else ''})"
                logger.warning(
                    "SNS refused a message of a batch",
                    extra={"notification_id": message.envelope.notification_id, "code": failure["Code"]},
                )
                outcomes[message.index] = NotPublished(
                    f"{reason}; try again" if retryable else reason, retryable=retryable
                )
            else:
                # Never seen: SNS answers every entry. Not claimed as published, so not ACCEPTED.
                logger.error(
                    "SNS did not report on a message of a batch",
                    extra={"notification_id": message.envelope.notification_id},
                )
                outcomes[message.index] = NotPublished(
                    "not queued: SNS did not report on it; try again", retryable=True
                )
        return outcomes

    def _accepted(self, envelope: Envelope, sns_message_id: str) -> None:
        logger.info(
            "notification published",
            extra={
                "notification_id": envelope.notification_id,
                "sns_message_id": sns_message_id,
                "channels": [c.value for c in envelope.channels],
                "priority": envelope.priority.value,
            },
        )
        try:
            self.status.accept(envelope)
        except (BotoCoreError, ClientError):
            # The message is on its way and the consumer writes the status it reaches; answering an
            # error here would make the client publish it a second time.
            logger.exception("could not record ACCEPTED", extra={"notification_id": envelope.notification_id})


def _batches(messages: Sequence[SnsMessage]) -> list[list[SnsMessage]]:
    """Consecutive messages packed into PublishBatch calls within SNS's count and size limits."""
    batches: list[list[SnsMessage]] = []
    size = 0
    for message in messages:
        if (
            not batches
            or len(batches[-1]) == SNS_MAX_BATCH_ENTRIES
            or size + message.size > SNS_MAX_PAYLOAD_BYTES
        ):
            batches.append([])
            size = 0
        batches[-1].append(message)
        size += message.size
    return batches
