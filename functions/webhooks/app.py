"""The webhooks function: delivery receipts from SendGrid and Twilio, verified by their signatures."""

from notifier import coldstart

coldstart.pause()  # until the first invocation ends: see notifier.coldstart

from notifier.receipts.handler import app, lambda_handler

__all__ = ["app", "lambda_handler"]

coldstart.init_done()
