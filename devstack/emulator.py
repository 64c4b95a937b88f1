"""The local stack's own emulator: moto's server, in this process, with DynamoDB's atomic writes.

DynamoDB applies each request to an item atomically: a conditional UpdateItem checks its condition
and makes its change in one step, and two writes to one item never interleave. The status store
relies on that (see `notifier.stores.status`): the publish function's ACCEPTED, written after the message
is on SNS, races a fast consumer's first write to the same row, and whichever lands second must
not undo the other. moto's DynamoDB checks a condition on the stored item, then changes that item
in place (or, for an item that does not exist yet, stores a new one), and its server answers
requests on many threads: two writes racing there could lose one. Measured with the status store
itself, ACCEPTED and SUPPRESSED written at once to one new row left it ACCEPTED, for good, in 29 of
400 races. So here the emulator answers one DynamoDB request at a time; tests/functional/
test_emulator.py races them again.

An emulator given with `--endpoint` (LocalStack, or a moto server already running) is not touched.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from moto.dynamodb.responses import DynamoHandler
from moto.server import ThreadedMotoServer

_DYNAMODB = threading.Lock()


def _one_at_a_time(call_action: Callable[[DynamoHandler], Any]) -> Callable[[DynamoHandler], Any]:
    def call_action_alone(handler: DynamoHandler) -> Any:
        with _DYNAMODB:
            return call_action(handler)

    call_action_alone.one_at_a_time = True  # type: ignore[attr-defined]
    return call_action_alone


def serialize_dynamodb_requests() -> None:
    """Make every DynamoDB request to moto, in this process, run alone. Calling it again changes
    nothing."""
    if not getattr(DynamoHandler.call_action, "one_at_a_time", False):
        DynamoHandler.call_action = _one_at_a_time(DynamoHandler.call_action)  # type: ignore[method-assign]


def start_emulator(host: str, port: int) -> ThreadedMotoServer:
    """moto's server on `host`:`port` (0: a free port), running in this process."""
    serialize_dynamodb_requests()
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    return server
