"""A channel consumer: the batch processor of one channel's function, around `BatchDelivery`."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from . import runtime
from .clients import sqs_client
from .delivery import Attempts, BatchDelivery, Job, LastReceive, NotificationRecord, Outcome
from .errors import TransientDeliveryError
from .models import Channel
from .observability import logger
from .queues import Retry, schedule_retries
from .retries import Backoff
from .settings import get_settings
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
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def process(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        """Deliver the whole batch at once, then let the batch processor report each record's outcome:
        a malformed record fails there with its validation error, a failed delivery with its reason.
        Each failed record is then given its backoff (see `retries`)."""
        settings = get_settings()
        # The lease outlives this invocation by a little, so a record redelivered while it is still
        # running waits rather than sends; a crash's lease expires before SQS hands the record out
        # again (the queue's visibility timeout is at least the function's timeout).
        lease = context.get_remaining_time_in_millis() / 1000 + LEASE_MARGIN_SECONDS
        outcomes = self.deliver(event, Attempts(settings.max_receive_count, lease))

        def outcome_of(record: NotificationRecord) -> Status | None:
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
                    get_settings().delivery_concurrency, thread_name_prefix=f"{self.channel}-record"
                )
            return self._pool


LEASE_MARGIN_SECONDS = 1.0


def _delay(raw: dict[str, Any], outcome: Outcome | None, backoff: Backoff) -> int:
    """Seconds until a failed record is handed out again."""
    if outcome is None or isinstance(outcome, LastReceive):
        # Malformed (no outcome: it never became a job) or out of attempts: retrying later cannot
        # help, so let SQS move it to the dead-letter queue after its remaining receives, at once.
        return 0
    try:
        attempt = int(raw.get("attributes", {}).get("ApproximateReceiveCount", 1))
    except (TypeError, ValueError):
        attempt = 1
    retry_after = outcome.retry_after_seconds if isinstance(outcome, TransientDeliveryError) else None
    return backoff.delay(attempt, retry_after)
