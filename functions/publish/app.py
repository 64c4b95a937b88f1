"""The publish function: the REST API in front of the SNS topic, and the recipients it delivers to."""

from notifier import coldstart

coldstart.pause()  # until the first invocation ends: see notifier.coldstart

from notifier.api.handler import app, lambda_handler

__all__ = ["app", "lambda_handler"]

coldstart.register(coldstart.warm_publisher)  # with SnapStart on
coldstart.init_done()
