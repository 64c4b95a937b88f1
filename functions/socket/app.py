"""The socket function: the inbox WebSocket API's authorizer ($connect, on the `token` query
parameter) and its routes ($connect, $disconnect, and $default for the client's frames)."""

from notifier import coldstart

coldstart.pause()  # until the first invocation ends: see notifier.coldstart

from notifier.inbox.socket import lambda_handler

__all__ = ["lambda_handler"]

coldstart.init_done()
