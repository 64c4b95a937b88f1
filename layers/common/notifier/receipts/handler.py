"""The webhooks function's handler: the vendors' receipt routes behind the API's edge (size, repeated
headers, media type: JSON from SendGrid, a form from Twilio), and the SES and End User Messaging events
from their queue (`notifier.receipts.fallbacks`). Importing it validates the function's
settings: a missing or malformed variable fails the cold start, naming it."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from notifier import coldstart, runtime
from notifier.api import edge
from notifier.platform.logs import logger
from notifier.platform.metrics import channel_metrics, metrics
from notifier.platform.settings import webhook_settings
from notifier.platform.tracing import AWS, traced
from notifier.receipts import fallbacks, sendgrid, twilio
from notifier.receipts.resolver import app

__all__ = ["app", "lambda_handler"]

webhook_settings()

MEDIA_TYPES = {"/webhooks/twilio": twilio.FORM_MEDIA_TYPE}
"""Each route's media type, where it is not JSON."""
SIGNATURE_HEADERS = (sendgrid.SIGNATURE_HEADER, sendgrid.TIMESTAMP_HEADER, twilio.SIGNATURE_HEADER)


@traced(patch=(AWS,))
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        if "Records" in event:  # SES and End User Messaging events, from their queue
            return fallbacks.handle_records(event, runtime.receipt_deps())
        return edge.serve(
            event,
            lambda: app.resolve(event, context),
            max_request_bytes=webhook_settings().max_request_bytes,
            cors_allow_origin=None,
            media_types=MEDIA_TYPES,
            single_headers=SIGNATURE_HEADERS,
        )
    finally:
        channel_metrics.flush()
        coldstart.first_invocation_done()
