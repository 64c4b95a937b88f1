"""A channel consumer: the batch processor of one channel's function, around `BatchDelivery`.

Every line logged during an invocation names its notifications (see `platform.logs`): the batch's lines
(reading its recipients, scheduling backoffs...) carry `correlation_ids`, the batch's distinct
correlation ids, and `correlation_id` when it has just one; a record's lines, wherever they are
logged (a delivery thread, a provider thread, or the batch processor reporting its failure from the
handler's thread), carry its own `correlation_id`, `notification_id` and `sqs_message_id`, as far as
its body or its message attributes tell them. The keys are this thread's, and put back as they were
when the invocation ends, so none is left for the next one.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from typing import Any

# Powertools' batch utility before pydantic, on purpose: when pydantic is already loaded, the batch
# utility builds its parser models for Kinesis, DynamoDB streams and Kafka (batch/types.py), only as
# type hints, which a consumer never uses: 10 to 25 ms of its cold start. So each consumer's app.py
# imports this module before anything that imports pydantic (tests/unit/test_cold_path.py checks).
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    ExceptionInfo,
    FailureResponse,
    process_partial_response,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from notifier import runtime
from notifier.delivery.backoff import Backoff
from notifier.delivery.batch import Attempts, BatchDelivery, Job, NotificationRecord, Outcome
from notifier.delivery.requeue import Retry, schedule_retries
from notifier.errors import DeadLettered, TransientDeliveryError
from notifier.models.channels import Channel
from notifier.models.statuses import Status
from notifier.platform.clients import sqs_client
from notifier.platform.logs import correlation_keys, log_keys, logger, record_keys
from notifier.platform.metrics import channel_metrics
from notifier.platform.settings import consumer_settings


class ChannelConsumer:
    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        # Every failed record is reported in batchItemFailures, even when all of them fail, so
        # SQS retries exactly those; the logger records each failure with its reason.
        self.processor = _Processor(
            event_type=EventType.SQS,
            model=NotificationRecord,
            raise_on_entire_batch_failure=False,
            logger=logger,  # a Powertools Logger is a logging.Logger in all but type
        )
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def process(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        """Deliver the whole batch at once, then let the batch processor report each record's outcome:
        a malformed record fails there with its validation error, a failed delivery with its reason.
        Each failed record is then given its backoff (see `delivery.backoff`). The channel's metrics are
        written at the end, from this thread."""
        ids = {str(raw.get("messageId") or ""): _ids_of(raw) for raw in _records(event)}
        keys = {
            message_id: record_keys(
                correlation_id=correlation_id,
                notification_id=notification_id,
                sqs_message_id=message_id or None,
                channel=self.channel,
            )
            for message_id, (correlation_id, notification_id) in ids.items()
        }
        batch = correlation_keys(correlation_id for correlation_id, _ in ids.values())
        try:
            with log_keys(**batch, channel=self.channel.value), self.processor.naming(keys):
                return self._process(event, context)
        finally:
            channel_metrics.flush()

    def _process(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        settings = consumer_settings()
        # The lease outlives this invocation by a little, so a record redelivered while it is still
        # running waits rather than sends; a crash's lease expires before SQS hands the record out
        # again (the queue's visibility timeout is at least the function's timeout).
        lease = context.get_remaining_time_in_millis() / 1000 + LEASE_MARGIN_SECONDS
        outcomes = self.deliver(event, Attempts(settings.max_receive_count, lease))

        def outcome_of(record: NotificationRecord) -> Status | None:
            with self.processor.keys_of(record.messageId):
                outcome = outcomes[record.messageId]
                if isinstance(outcome, Exception):
                    raise outcome
                return outcome

        response = process_partial_response(event, outcome_of, self.processor, context)
        failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
        if failed:
            backoff = Backoff(settings.retry_base_seconds, settings.retry_max_seconds)
            retries = [
                Retry(
                    raw["eventSourceARN"],
                    raw["receiptHandle"],
                    _delay(raw, outcomes.get(raw["messageId"]), backoff),
                )
                for raw in event.get("Records", [])
                if raw.get("messageId") in failed
            ]
            schedule_retries(sqs_client(), retries)
        return dict(response)

    def deliver(self, event: dict[str, Any], attempts: Attempts) -> dict[str, Outcome]:
        jobs = []
        for raw in event.get("Records", []):
            try:
                record = NotificationRecord.model_validate(raw)
            except ValidationError:
                continue  # the batch processor fails it, with the reason, without delivering anything
            jobs.append(Job.of(record, str(raw["body"])))
        deps = runtime.delivery_deps(self.channel)
        return BatchDelivery(self.channel, deps, self._threads(), attempts).run(jobs)

    def _threads(self) -> ThreadPoolExecutor:
        """Kept for the life of the execution environment, sized by DELIVERY_CONCURRENCY."""
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    consumer_settings().delivery_concurrency, thread_name_prefix=f"{self.channel}-record"
                )
            return self._pool


LEASE_MARGIN_SECONDS = 1.0


class _Processor(BatchProcessor):
    """Powertools' batch processor, whose lines about a record (its failure, with the reason) carry
    that record's keys: it reports a failure after the record handler has returned, so the keys are
    put around `failure_handler`, Powertools' hook for it, as well as around the handler."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._record_keys: dict[str, dict[str, object]] = {}

    @contextmanager
    def naming(self, keys: dict[str, dict[str, object]]) -> Iterator[None]:
        """Each record's keys, by message id, for one batch."""
        self._record_keys = keys
        try:
            yield
        finally:
            self._record_keys = {}

    def keys_of(self, message_id: str | None) -> AbstractContextManager[None]:
        """The record's keys on this thread's lines within the block."""
        return log_keys(**self._record_keys.get(message_id or "", {}))

    def failure_handler(self, record: Any, exception: ExceptionInfo) -> FailureResponse:
        # A record the model refused arrives as Powertools' SQSRecord (message_id); any other, as
        # the model (messageId).
        message_id = getattr(record, "messageId", None) or getattr(record, "message_id", None)
        with self.keys_of(message_id):
            response: FailureResponse = super().failure_handler(record, exception)
            return response


def _records(event: dict[str, Any]) -> list[dict[str, Any]]:
    records = event.get("Records")
    return [r for r in records if isinstance(r, dict)] if isinstance(records, list) else []


def _ids_of(raw: dict[str, Any]) -> tuple[str | None, str | None]:
    """A record's (correlation id, notification id), read from the record as SQS gave it, so that a
    malformed one has them too: from its body when that is a JSON object, and the correlation id
    else from the message attribute the publisher sets."""
    try:
        body = json.loads(raw.get("body") or "")
    except (TypeError, ValueError):
        body = None
    body = body if isinstance(body, dict) else {}
    attributes = raw.get("messageAttributes")
    attribute = attributes.get("correlation_id") if isinstance(attributes, dict) else None
    correlation_id = body.get("correlation_id") or (
        attribute.get("stringValue") if isinstance(attribute, dict) else None
    )
    notification_id = body.get("notification_id")
    return (
        correlation_id if isinstance(correlation_id, str) and correlation_id else None,
        notification_id if isinstance(notification_id, str) and notification_id else None,
    )


def _delay(raw: dict[str, Any], outcome: Outcome | None, backoff: Backoff) -> int:
    """Seconds until a failed record is handed out again."""
    if outcome is None or isinstance(outcome, DeadLettered):
        # Malformed (no outcome: it never became a job) or out of attempts: retrying later cannot
        # help, so let SQS move it to the dead-letter queue after its remaining receives, at once.
        return 0
    try:
        attempt = int(raw.get("attributes", {}).get("ApproximateReceiveCount", 1))
    except (TypeError, ValueError):
        attempt = 1
    retry_after = outcome.retry_after_seconds if isinstance(outcome, TransientDeliveryError) else None
    return backoff.delay(attempt, retry_after)
