"""What the WebSocket tests share, the local stack's (tests/e2e) and a deployed stack's (tests/deployed)."""

from __future__ import annotations

import json
import time
from typing import Any

from websockets.sync.client import ClientConnection


def receive(socket: ClientConnection, kind: str, timeout: float) -> dict[str, Any]:
    """The next frame of this type; frames of other types (such as counts after a notification)
    skipped. TimeoutError when none comes within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        frame = json.loads(socket.recv(timeout=max(0.01, deadline - time.monotonic())))
        if frame["type"] == kind:
            return dict(frame)
