"""The due function: releases scheduled notifications when they are due, and hands those further ahead
than an SQS delay to EventBridge Scheduler (notifier.scheduling.due)."""

from notifier import coldstart

coldstart.pause()  # until the first invocation ends: see notifier.coldstart

from notifier.scheduling.handler import lambda_handler

__all__ = ["lambda_handler"]

coldstart.init_done()
