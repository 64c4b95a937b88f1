"""A channel consumer: the batch processor of one channel's function, around `BatchDelivery`."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from . import runtime
from .delivery import BatchDelivery, Job, NotificationRecord, Outcome
from .models import Channel
from .observability import logger
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
        a malformed record fails there with its validation error, a failed delivery with its reason."""
        outcomes = self.deliver(event)

        def outcome_of(record: NotificationRecord) -> Status | None:
            outcome = outcomes[record.messageId]
            if isinstance(outcome, Exception):
                raise outcome
            return outcome

        return dict(process_partial_response(event, outcome_of, self.processor, context))

    def deliver(self, event: dict[str, Any]) -> dict[str, Outcome]:
        jobs = []
        for raw in event.get("Records", []):
            try:
                record = NotificationRecord.model_validate(raw)
            except ValidationError:
                continue  # the batch processor fails it, with the reason, without delivering anything
            jobs.append(Job.of(record, str(raw["body"])))
        deps = runtime.delivery_deps(self.channel)
        return BatchDelivery(self.channel, deps, self._threads()).run(jobs)

    def _threads(self) -> ThreadPoolExecutor:
        """Kept for the life of the execution environment, sized by DELIVERY_CONCURRENCY."""
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    get_settings().delivery_concurrency, thread_name_prefix=f"{self.channel}-record"
                )
            return self._pool
