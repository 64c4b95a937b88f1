"""The push function: delivers the notifications of the push-critical and push-standard queues."""

from __future__ import annotations

import gc

# No cyclic garbage collection during init and the first invocation: they build long-lived objects
# (modules, models, clients, the vendor's client) and free almost none, so the collector would scan
# them some 200 times for nothing (30-45 ms during init, 2-8 ms more in the first invocation). What
# init built is frozen at the end of this module. When the first invocation ends, what it built is
# frozen too (otherwise the first collection would scan the vendor SDK it imported, 4-11 ms, to find
# some 35 cyclic leftovers, which stay), and collection resumes.
gc.disable()

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from notifier.consumer import ChannelConsumer
from notifier.models import Channel
from notifier.observability import logger, metrics
from notifier.snapstart import register, warm_consumer
from notifier.tracing import AWS, VENDOR_HTTP_REQUESTS, traced

consumer = ChannelConsumer(Channel.PUSH)
register(warm_consumer(Channel.PUSH))  # with SnapStart on: see notifier.snapstart


@traced(patch=(AWS, VENDOR_HTTP_REQUESTS))
@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        return consumer.process(event, context)
    finally:
        if not gc.isenabled():  # the first invocation (see the top of this module)
            gc.freeze()
            gc.enable()


gc.freeze()
