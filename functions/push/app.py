"""The push function: delivers the notifications of the push-critical and push-standard queues."""

from notifier import coldstart

coldstart.pause()  # until the first invocation ends: see notifier.coldstart

from notifier.delivery.handler import handler
from notifier.models.channels import Channel

lambda_handler = handler(Channel.PUSH)

coldstart.init_done()
