"""The one Logger and the one Metrics of every function.

Service name, namespace and log level come from the standard Powertools environment variables set in
the template's Globals (POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE, POWERTOOLS_LOG_LEVEL).

Every line the Logger writes is masked (`MaskingFormatter`): no e-mail address, phone number or push
token leaves it whole, wherever it was in the record: the message, an `extra` key, an appended key,
a nested dict or list, an exception's text or traceback (see `masking`). That includes the lines of
the Powertools batch processor, which is given this Logger.
"""

from __future__ import annotations

import logging
import warnings
from typing import IO, TYPE_CHECKING, Any, cast

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from .masking import might_need_scrubbing, scrub

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
metrics = Metrics()

# The batch processor's own debug line about a failed record ("Record processing exception: ...")
# holds the exception's text and goes through its module's logger, not ours.
logging.getLogger("aws_lambda_powertools.utilities.batch.base").addFilter(ScrubFilter())

# An invocation that only answered an error or a status read has no metric to publish; that is
# expected, and Powertools' warning about it would only add noise to every such log stream.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)
