"""The sms function: delivers the notifications of the sms-critical and sms-standard queues."""

from notifier import coldstart

coldstart.pause()  # until the first invocation ends: see notifier.coldstart

from notifier.delivery.handler import handler
from notifier.models.channels import Channel

lambda_handler = handler(Channel.SMS)

coldstart.init_done()
