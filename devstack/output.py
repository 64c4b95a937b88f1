"""The local stack's stdout and stderr, written a whole line at a time.

In Lambda each execution environment has its own output. Here every function's threads share this
process's, and Powertools writes a log line and an EMF metrics blob in separate writes (print()
writes the text, then the newline), so lines of concurrent invocations could run into each other
and no longer parse as JSON. Each thread's text is held until it ends a line, and lines are written
under one lock for both streams (which `make run` and the tests send to the same file).
"""

from __future__ import annotations

import io
import logging
import sys
import threading
from typing import TextIO


class _WholeLines(io.TextIOBase):
    def __init__(self, stream: TextIO, lock: threading.Lock) -> None:
        self._stream = stream
        self._lock = lock
        self._pending = threading.local()

    def write(self, text: str) -> int:
        pending: str = getattr(self._pending, "text", "") + text
        complete, newline, rest = pending.rpartition("\n")
        self._pending.text = rest
        if newline:
            with self._lock:
                self._stream.write(complete + newline)
                self._stream.flush()
        return len(text)

    def flush(self) -> None:
        """Writes this thread's unfinished line too: flush() means the caller wants it seen now."""
        pending: str = getattr(self._pending, "text", "")
        self._pending.text = ""
        with self._lock:
            self._stream.write(pending)
            self._stream.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self._stream.isatty()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._stream.encoding


def write_whole_lines() -> None:
    """Replace stdout and stderr, and re-point the stream handlers already made on them."""
    lock = threading.Lock()
    replaced: dict[int, _WholeLines] = {
        id(sys.stdout): _WholeLines(sys.stdout, lock),
        id(sys.stderr): _WholeLines(sys.stderr, lock),
    }
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    for logger in loggers:
        for handler in getattr(logger, "handlers", []):
            if isinstance(handler, logging.StreamHandler) and id(handler.stream) in replaced:
                handler.setStream(replaced[id(handler.stream)])
    sys.stdout = replaced[id(sys.stdout)]
    sys.stderr = replaced[id(sys.stderr)]
