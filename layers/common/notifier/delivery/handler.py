"""The consumer functions' handler, made once for each channel: `handler(Channel.EMAIL)`.

The decorator stack (tracing with the channel's vendor HTTP library patched, the Logger's Lambda
context, metrics with the cold-start metric) and the cold-start routine (`notifier.coldstart`) live
here, so each function's `app.py` only names its channel.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from aws_lambda_powertools.utilities.typing import LambdaContext

from notifier import coldstart
from notifier.delivery.consumer import ChannelConsumer
from notifier.models.channels import Channel
from notifier.platform.logs import logger
from notifier.platform.metrics import metrics
from notifier.platform.settings import consumer_settings
from notifier.platform.tracing import AWS, VENDOR_HTTP_REQUESTS, VENDOR_HTTP_URLLIB, traced

Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]

VENDOR_HTTP: dict[Channel, tuple[str, ...]] = {
    Channel.EMAIL: (VENDOR_HTTP_URLLIB,),  # SendGrid's SDK (python_http_client) is urllib
    Channel.SMS: (VENDOR_HTTP_REQUESTS,),  # twilio
    Channel.PUSH: (VENDOR_HTTP_REQUESTS,),  # firebase-admin, google-auth
    Channel.INAPP: (),  # no vendor: the inbox is a DynamoDB table, traced with botocore
}


def handler(channel: Channel) -> Handler:
    """The Lambda handler of `channel`'s function. Its settings are validated now, at cold start: a
    missing or malformed variable fails the init, naming it."""
    consumer_settings()
    consumer = ChannelConsumer(channel)
    coldstart.register(coldstart.warm_consumer(channel))  # with SnapStart on

    @traced(patch=(AWS, *VENDOR_HTTP[channel]))
    @logger.inject_lambda_context
    @metrics.log_metrics(capture_cold_start_metric=True)
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        try:
            return consumer.process(event, context)
        finally:
            coldstart.first_invocation_done()

    lambda_handler.channel = channel  # what it delivers, for whoever runs it (the local stack)
    return cast(Handler, lambda_handler)
