"""A channel consumer: the batch processor and the per-record handler of one channel's function."""

from __future__ import annotations

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

from . import runtime
from .delivery import NotificationRecord, deliver
from .models import Channel
from .observability import logger
from .status import Status


class ChannelConsumer:
    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        # Every failed record is reported in batchItemFailures, even when all of them fail, so
        # SQS retries exactly those; the logger records each failure with its reason.
        self.processor = BatchProcessor(
            event_type=EventType.SQS,
            model=NotificationRecord,
            raise_on_entire_batch_failure=False,
            logger=logger,  # type: ignore[arg-type]  # a Powertools Logger is a logging.Logger in all but type
        )

    def handle_record(self, record: NotificationRecord) -> Status | None:
        envelope = record.body
        # Thread-local keys: one process may run several invocations at once (the local stack).
        keys = {
            "correlation_id": envelope.correlation_id,
            "notification_id": envelope.notification_id,
            "sqs_message_id": record.messageId,
        }
        logger.thread_safe_append_keys(**keys)
        try:
            return deliver(envelope, self.channel, runtime.delivery_deps(self.channel))
        finally:
            logger.thread_safe_remove_keys(keys)
