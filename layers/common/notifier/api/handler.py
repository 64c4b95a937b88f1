"""The publish function's handler: the REST API (`notifier.api.resolver`) behind the API's edge
(`notifier.api.edge`: size, media type, repeated headers, encoding, CORS), which refuses a request
before any route sees it. Importing it validates the function's settings: a missing or malformed
variable fails the cold start, naming it.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from notifier import coldstart
from notifier.api import edge
from notifier.api.resolver import app
from notifier.platform.logs import logger
from notifier.platform.metrics import channel_metrics, metrics
from notifier.platform.settings import publish_settings
from notifier.platform.tracing import AWS, traced

__all__ = ["app", "lambda_handler"]

publish_settings()


@traced(patch=(AWS,))
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        settings = publish_settings()
        return edge.serve(
            event,
            lambda: app.resolve(event, context),
            max_request_bytes=settings.max_request_bytes,
            cors_allow_origin=settings.cors_allow_origin,
        )
    finally:
        channel_metrics.flush()  # the push receipts' NotificationsDelivered
        coldstart.first_invocation_done()
