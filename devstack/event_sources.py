"""SQS event sources, run the way Lambda's event source mapping runs them.

For each source: gather a batch (up to `BatchSize`, waiting up to `MaximumBatchingWindowInSeconds`
once the first record is in), invoke the function with Lambda-shaped records, then act on the answer
as Lambda does: with `ReportBatchItemFailures`, delete every record not listed and leave the listed
ones to reappear after their visibility timeout; a raised error, a timeout, or an answer naming a
message id that was not in the batch fails the whole batch (nothing deleted). At most
`ScalingConfig.MaximumConcurrency` invocations of one source run at once. Redrive to the DLQ after
`maxReceiveCount` receives is the queue's own (the emulator's) behaviour, as in SQS.

Each queue without a batching window is polled by POLLERS long polls at once, as Lambda polls a queue
with several pollers (with a window, by one, which gathers the window's batch whole). Their
polls start at set moments of the clock, LOOK_STEP_SECONDS / POLLERS apart within each step: MiniStack
looks at a queue every 100 ms within a long poll, so a lone poller added up to 100 ms to a message
sent while it waited, and pollers left to themselves fall into step with one another. Measured in
docs/performance.md: at idle, POST to delivery 45 ms (p50) where it was 62; under load, larger
batches, so less CPU per event and more events per second.

Each receive waits up to LONG_POLL_SECONDS (20, as Lambda's pollers and SQS's longest wait): an idle
queue costs a request every 20 s per poller, not every second. The local stack's stop does not wait
for a receive still waiting; what one receives after the stop goes back to the queue at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from .lambda_events import sqs_record
from .lambda_runtime import InvocationError, ProcessPool
from .provision import SqsEventSource

_MAX_RECEIVE = 10  # SQS's ReceiveMessage limit; larger batches are gathered over several calls
_MAX_ENTRIES = 10  # SQS's limit on the entries of one DeleteMessageBatch or ChangeMessageVisibilityBatch
LONG_POLL_SECONDS = 20
"""How long a receive waits for a first message (WaitTimeSeconds), as Lambda's pollers wait. An idle
local stack took 0.078 of a core with 1 s polls (its pollers 0.042, MiniStack 0.036), 0.033 with these."""
POLLERS = 2
"""Long polls of one queue at once, as Lambda's event source mapping polls a queue with several."""
LOOK_STEP_SECONDS = 0.1
"""How often MiniStack's long poll looks at the queue: a message sent while one waits is seen up to
this late. The pollers start their polls LOOK_STEP_SECONDS / POLLERS apart on the clock (`_in_step`),
so that one of them looks every 50 ms."""


@dataclass
class SourceStats:
    batches: int = 0
    records: int = 0
    deleted: int = 0
    failed_records: int = 0
    failed_batches: int = 0


class SqsPoller:
    def __init__(
        self,
        source: SqsEventSource,
        function: ProcessPool,
        sqs: Any,
        *,
        region: str,
        log: Callable[[str], None] = lambda message: None,
        pollers: int = POLLERS,
        long_poll_seconds: int = LONG_POLL_SECONDS,
    ) -> None:
        self.source = source
        self.long_poll_seconds = long_poll_seconds
        self.function = function
        self.sqs = sqs
        self.region = region
        self.log = log
        self.stats = SourceStats()
        self.concurrency = source.maximum_concurrency or 1000
        self._slots = threading.BoundedSemaphore(self.concurrency)
        self._stop = threading.Event()
        self._executor = ThreadPoolExecutor(
            max_workers=self.concurrency, thread_name_prefix=f"{source.function}-{source.name}"
        )
        # A batching window gathers a batch over seconds: one poller, so that its records are not split
        # between two (the window, not the 100 ms look, is then what a record waits for).
        count = 1 if source.batching_window_seconds else min(pollers, self.concurrency)
        self._in_turn = count > 1
        """Whether each poll waits for its moment of the step (`_in_step`): only pollers sharing a queue."""
        self._threads = [
            threading.Thread(
                target=self._run,
                args=(n * LOOK_STEP_SECONDS / count,),
                name=f"poll-{source.queue_logical_id}-{n}",
                daemon=True,
            )
            for n in range(count)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def signal_stop(self) -> None:
        """Stop receiving; batches already handed to the function finish."""
        self._stop.set()

    def stop(self, *, wait_for_receives: bool = True) -> None:
        """Stop receiving and wait for the batches handed to the function. A receive still waiting (up
        to `long_poll_seconds`) is waited for too, or with wait_for_receives=False left to end on its
        own: what it receives then goes back to the queue at once, never to the function."""
        self.signal_stop()
        if wait_for_receives:
            for thread in self._threads:
                thread.join(timeout=self.long_poll_seconds + 5)
        self._executor.shutdown(wait=True, cancel_futures=True)

    @property
    def receiving(self) -> bool:
        """Whether a poller is still at work (a receive left waiting by a stop, say)."""
        return any(thread.is_alive() for thread in self._threads)

    def _run(self, offset: float = 0.0) -> None:
        """Gather batches and hand each to the function until stopped, each poll started `offset`
        seconds into a step of the clock (`_in_step`)."""
        while not self._stop.is_set():
            if not self._slots.acquire(timeout=0.5):
                continue
            try:
                if self._in_turn:
                    self._in_step(offset)
                batch = self._gather()
            except Exception as exc:  # the emulator went away, or a network hiccup: wait and retry
                self._slots.release()
                if not self._stop.is_set():
                    self.log(f"{self.source.queue_logical_id}: receive failed: {exc}")
                    self._stop.wait(1)
                continue
            if not batch:
                self._slots.release()
                continue
            if not self._submitted(batch):
                self._slots.release()
                self._hand_back(batch)

    def _submitted(self, batch: list[dict[str, Any]]) -> bool:
        """Hand `batch` to the function, unless the poller stopped while receiving it (the function's
        environments may be gone)."""
        if self._stop.is_set():
            return False
        try:
            self._executor.submit(self._invoke_and_release, batch)
        except RuntimeError:  # the executor shut down in between
            return False
        return True

    def _hand_back(self, batch: list[dict[str, Any]]) -> None:
        """Make `batch`'s messages visible again at once, for whoever receives next."""
        for entries in _entries(batch):
            try:
                self.sqs.change_message_visibility_batch(
                    QueueUrl=self.source.queue_url,
                    Entries=[{**entry, "VisibilityTimeout": 0} for entry in entries],
                )
            except Exception as exc:  # the emulator went with the stack: they reappear after their timeout
                self.log(f"{self.source.queue_logical_id}: could not hand back {len(entries)} records: {exc}")

    def _in_step(self, offset: float) -> None:
        """Wait until the clock is `offset` seconds into a step of LOOK_STEP_SECONDS."""
        self._stop.wait((offset - time.time()) % LOOK_STEP_SECONDS)

    def _gather(self) -> list[dict[str, Any]]:
        """One batch: wait for a first record, then gather more until full or the window closes."""
        batch: list[dict[str, Any]] = []
        window = self.source.batching_window_seconds
        deadline: float | None = None
        while len(batch) < self.source.batch_size and not self._stop.is_set():
            wait = self.long_poll_seconds
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                wait = int(min(self.long_poll_seconds, remaining))
            answer = self.sqs.receive_message(
                QueueUrl=self.source.queue_url,
                MaxNumberOfMessages=min(_MAX_RECEIVE, self.source.batch_size - len(batch)),
                WaitTimeSeconds=wait,
                MessageAttributeNames=["All"],
                MessageSystemAttributeNames=["All"],
            )
            messages = answer.get("Messages", [])
            batch += [sqs_record(m, queue_arn=self.source.queue_arn, region=self.region) for m in messages]
            if not batch:
                return batch
            if deadline is None:
                deadline = time.monotonic() + window
            if not window:
                break
            if not messages and wait == 0:
                time.sleep(0.05)
        return batch

    def _invoke_and_release(self, batch: list[dict[str, Any]]) -> None:
        try:
            self._invoke(batch)
        except Exception as exc:  # never let one batch kill the poller
            self.log(f"{self.source.queue_logical_id}: {exc}")
        finally:
            self._slots.release()

    def _invoke(self, batch: list[dict[str, Any]]) -> None:
        self.stats.batches += 1
        self.stats.records += len(batch)
        try:
            answer = self.function.invoke({"Records": batch})
        except InvocationError as exc:
            self._fail_batch(batch, str(exc))
            return
        failed = self._failed_ids(answer, batch)
        if failed is None:
            return
        self.stats.failed_records += len(failed)
        self._delete([r for r in batch if r["messageId"] not in failed])

    def _failed_ids(self, answer: Any, batch: list[dict[str, Any]]) -> set[str] | None:
        """The ids the function reported failed, or None when the answer fails the whole batch."""
        if not self.source.report_batch_item_failures:
            return set()
        if answer is None or (isinstance(answer, dict) and not answer.get("batchItemFailures")):
            return set()
        ids = {r["messageId"] for r in batch}
        try:
            failed = {item["itemIdentifier"] for item in answer["batchItemFailures"]}
        except (KeyError, TypeError):
            self._fail_batch(batch, f"malformed partial batch response {answer!r}")
            return None
        if not failed <= ids or "" in failed:
            self._fail_batch(
                batch, f"partial batch response names unknown message ids {sorted(failed - ids)}"
            )
            return None
        return failed

    def _fail_batch(self, batch: list[dict[str, Any]], reason: str) -> None:
        self.stats.failed_batches += 1
        self.stats.failed_records += len(batch)
        self.log(f"{self.source.queue_logical_id}: batch of {len(batch)} failed: {reason}")

    def _delete(self, records: list[dict[str, Any]]) -> None:
        for entries in _entries(records):
            self.sqs.delete_message_batch(QueueUrl=self.source.queue_url, Entries=entries)
            self.stats.deleted += len(entries)


def _entries(records: list[dict[str, Any]]) -> Iterator[list[dict[str, str]]]:
    """`records` as the entries of SQS's batch calls (their receipt handles), at most 10 a call."""
    for start in range(0, len(records), _MAX_ENTRIES):
        chunk = records[start : start + _MAX_ENTRIES]
        yield [{"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(chunk)]
