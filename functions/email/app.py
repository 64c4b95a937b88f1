"""The email function: delivers the notifications of the email-critical and email-standard queues."""

from __future__ import annotations

from notifier import collector

collector.pause()  # until the first invocation ends: see notifier.collector

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from notifier.consumer import ChannelConsumer
from notifier.models import Channel
from notifier.observability import logger, metrics
from notifier.snapstart import register, warm_consumer
from notifier.tracing import AWS, VENDOR_HTTP_URLLIB, traced

consumer = ChannelConsumer(Channel.EMAIL)
register(warm_consumer(Channel.EMAIL))  # with SnapStart on: see notifier.snapstart


@traced(patch=(AWS, VENDOR_HTTP_URLLIB))
@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        return consumer.process(event, context)
    finally:
        collector.first_invocation_done()


collector.init_done()
