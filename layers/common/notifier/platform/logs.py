"""The one Logger of every function, and the log keys that tie a line to its notification.

Service name, namespace and log level come from the standard Powertools environment variables set in
the template's Globals (POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE, POWERTOOLS_LOG_LEVEL).

Every line the Logger writes is masked (`MaskingFormatter`): no e-mail address, phone number or push
token leaves it whole, wherever it was in the record: the message, an `extra` key, an appended key,
a nested dict or list, an exception's text or traceback (see `masking`). That includes the lines of
the Powertools batch processor, which is given this Logger.

**Log keys.** `log_keys(...)` puts keys on every line the Logger writes from this thread for the
length of a block, over whatever keys the thread had, and puts those back when the block ends. A key
given as None is left off the lines (Powertools drops None), which also hides a key of the same name
appended globally. Powertools writes the Logger's global keys (`append_keys`, `set_correlation_id`),
then this thread's (`thread_safe_append_keys`), then a line's `extra`: a later one wins, so a record's
own correlation id, set in its thread while it is handled, wins over any batch-wide or global one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Any, cast

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from notifier.models.channels import Channel
from notifier.platform.masking import might_need_scrubbing, scrub

if TYPE_CHECKING:
    from aws_lambda_powertools.logging.types import LogRecord


class MaskingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON formatter, with every string of the finished record scrubbed (`masking.scrub`).

    `serialize` receives the whole record as Powertools built it: message, keys, `exception`,
    `exception_notes` and `stack_trace`. The record is serialized as usual; only when the JSON
    might hold something to mask is the record scrubbed piece by piece and serialized again (the JSON
    itself is not rewritten: its escapes would hide where a piece begins, and a mask could split one).
    """

    def serialize(self, log: LogRecord) -> str:
        line = super().serialize(log)
        if not might_need_scrubbing(line):
            return line
        return super().serialize(cast("LogRecord", self._scrubbed(log)))

    def _scrubbed(self, value: Any) -> Any:
        """`value` with every string in it scrubbed. Anything JSON cannot hold becomes what the
        serializer would make of it (`json_default`, `str` by default), scrubbed."""
        if isinstance(value, str):
            return scrub(value)
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, dict):
            return {
                (scrub(key) if isinstance(key, str) else key): self._scrubbed(item)
                for key, item in value.items()
            }
        if isinstance(value, list | tuple):
            return [self._scrubbed(item) for item in value]
        converted = self.json_default(value)
        if isinstance(converted, str | dict | list | tuple | int | float) or converted is None:
            return self._scrubbed(converted)
        return scrub(str(converted))


class ScrubFilter(logging.Filter):
    """Masks the message of records logged through a plain `logging` logger that is not ours."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        scrubbed = scrub(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, ()
        return True


def make_logger(*, service: str | None = None, stream: IO[str] | None = None) -> Logger:
    """A Logger that masks what it writes; otherwise Powertools' own (JSON, service and level from the
    environment). `service` and `stream` are for tests."""
    return Logger(service=service, stream=stream, logger_formatter=MaskingFormatter())


logger = make_logger()

# The batch processor's own debug line about a failed record ("Record processing exception: ...")
# holds the exception's text and goes through its module's logger, not ours.
logging.getLogger("aws_lambda_powertools.utilities.batch.base").addFilter(ScrubFilter())


# --------------------------------------------------------------------------------------------
# Log keys
# --------------------------------------------------------------------------------------------


@contextmanager
def log_keys(**keys: object) -> Iterator[None]:
    """`keys` on every line this thread logs within the block (None: left off); the thread's keys as
    they were afterwards, even when the block raises."""
    before = dict(logger.thread_safe_get_current_keys())
    logger.thread_safe_append_keys(**keys)
    try:
        yield
    finally:
        logger.thread_safe_clear_keys()
        if before:
            logger.thread_safe_append_keys(**before)


def correlation_keys(correlation_ids: Iterable[str | None]) -> dict[str, object]:
    """The keys of a line about several notifications: `correlation_ids`, their distinct ids, and
    `correlation_id` when there is exactly one (else None, which also hides a global one)."""
    distinct = sorted({c for c in correlation_ids if c})
    return {"correlation_ids": distinct, "correlation_id": distinct[0] if len(distinct) == 1 else None}


def record_keys(
    *,
    correlation_id: str | None,
    notification_id: str | None,
    sqs_message_id: str | None = None,
    channel: Channel | None = None,
) -> dict[str, object]:
    """The keys of a line about one notification. With its correlation id known, a batch's
    `correlation_ids` are left off its lines; without it, they stay, so the line still has one."""
    keys: dict[str, object] = {
        "correlation_id": correlation_id,
        "notification_id": notification_id,
        "sqs_message_id": sqs_message_id,
    }
    if channel is not None:
        keys["channel"] = Channel(channel).value
    if correlation_id:
        keys["correlation_ids"] = None
    return keys
