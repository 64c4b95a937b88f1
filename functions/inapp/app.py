"""The in-app function: stores the notifications of the inapp-critical and inapp-standard queues in
each recipient's inbox."""

from notifier import coldstart

coldstart.pause()  # until the first invocation ends: see notifier.coldstart

from notifier.delivery.handler import handler
from notifier.models.channels import Channel

lambda_handler = handler(Channel.INAPP)

coldstart.init_done()
