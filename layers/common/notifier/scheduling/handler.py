"""The due function's handler: each record of the due queue through `DueMessages.handle`, a failed
record reported alone (partial batch response) so SQS delivers it again, and its neighbours not."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from notifier import coldstart, runtime
from notifier.errors import RetryLater
from notifier.platform.logs import logger
from notifier.platform.metrics import metrics
from notifier.platform.settings import due_settings
from notifier.platform.tracing import AWS, traced

__all__ = ["lambda_handler"]

due_settings()


@traced(patch=(AWS,))
@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        failures = []
        due = runtime.due_messages()
        for record in event.get("Records", []):
            try:
                done = due.handle(record["body"])
            except RetryLater as later:  # not a failure: SQS brings it again after its visibility timeout
                logger.info(
                    "due message waits", extra={"message_id": record.get("messageId"), "why": str(later)}
                )
                failures.append({"itemIdentifier": record["messageId"]})
            except ValueError as refused:  # not a due message: it fails alone, to its DLQ
                logger.error(
                    "not a due message", extra={"message_id": record.get("messageId"), "error": str(refused)}
                )
                failures.append({"itemIdentifier": record["messageId"]})
            except Exception:
                logger.exception("due message failed", extra={"message_id": record.get("messageId")})
                failures.append({"itemIdentifier": record["messageId"]})
            else:
                logger.info(
                    "due message handled", extra={"message_id": record.get("messageId"), "done": done}
                )
        return {"batchItemFailures": failures}
    finally:
        coldstart.first_invocation_done()
