"""The sandbox's outbox as the local stack serves it (`GET /_local/outbox`): one JSON-lines file that
every execution environment appends to (SANDBOX_OUTBOX_PATH, `notifier.providers.sandbox.Outbox`,
each entry one whole line in one write), read here as it grows."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any


class OutboxFile:
    """The entries of the outbox at `path`, in the order they were appended. Each call reads only what
    was appended since the last one; a line still being written (no newline yet) is read next time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._entries: list[dict[str, Any]] = []
        self._offset = 0
        self._lock = threading.Lock()

    def entries(self, start: int = 0) -> list[dict[str, Any]]:
        """Every entry from the `start`th (0: all of them)."""
        with self._lock:
            try:
                with self.path.open("rb") as appended:
                    appended.seek(self._offset)
                    data = appended.read()
            except FileNotFoundError:
                data = b""
            whole = data[: data.rfind(b"\n") + 1]
            self._offset += len(whole)
            self._entries += [json.loads(line) for line in whole.splitlines()]
            return self._entries[start:]
