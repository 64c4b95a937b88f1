"""The local stack's emulators, each in a process of its own: MiniStack (the default,
`MiniStackProcess`), or moto's server with DynamoDB's atomic writes (`EmulatorProcess`).

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

moto's server runs in a process of its own (`EmulatorProcess`, `python -m devstack.emulator`): its
work then has a core and an interpreter lock of its own instead of sharing the functions'. The
process ends with its parent: it exits when its stdin closes.

An emulator given with `--endpoint` (LocalStack, MiniStack, or a moto server already running) is not
touched.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from moto.dynamodb.responses import DynamoHandler
from moto.server import ThreadedMotoServer

from .template import REPO_ROOT

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


_LISTENING = re.compile(r"^emulator listening on (\S+):(\d+)$")


class EmulatorProcess:
    """`start_emulator` in a child process: `python -m devstack.emulator`."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> EmulatorProcess:
        """Starts it, and waits for the line that says where it listens (or for its end)."""
        command = [sys.executable, "-m", "devstack.emulator", "--host", self.host, "--port", str(self.port)]
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module, fixed arguments
            command, cwd=REPO_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.process = process
        line = process.stdout.readline().strip() if process.stdout else ""
        found = _LISTENING.match(line)
        if found is None:
            self.stop()
            raise RuntimeError(
                f"the emulator did not start ({line or 'it said nothing'}; exit {process.poll()})"
            )
        self.host, self.port = found.group(1), int(found.group(2))
        return self

    def get_host_and_port(self) -> tuple[str, int]:
        return self.host, self.port

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        if self.process.stdin is not None:
            self.process.stdin.close()  # it exits when its stdin closes
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


_DIE_WITH_PARENT = (
    "import ctypes, os, signal, sys\n"
    "ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG, kept across exec\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "    sys.exit('its parent had already ended')\n"
    "os.execv(sys.argv[2], sys.argv[2:])\n"
)
"""Starts MiniStack so that it is sent SIGTERM when the thread that started it ends, with its process
however that ends (killed, or failed at start): MiniStack, unlike moto's server here, does not watch
its stdin (Linux's PR_SET_PDEATHSIG). Start it from a thread that lives as long as it must."""

MINISTACK = REPO_ROOT / ".tools" / "ministack" / "bin" / "ministack"
"""Where `make` installs MiniStack (requirements/ministack.txt), for make deploy-local and for this."""


class MiniStackProcess:
    """MiniStack (MIT, `requirements/ministack.txt`) as the local stack's emulator, in a process of its
    own: on `host` only, with no MQTT listener, its state in a temporary folder removed at the end, and
    the local stack's account id. Its DynamoDB applies each write to an item atomically
    (tests/functional/test_emulator.py races it too, when it is installed)."""

    def __init__(self, host: str, port: int, *, account_id: str, executable: Path = MINISTACK) -> None:
        self.host = host
        self.port = port
        self.account_id = account_id
        self.executable = executable
        self.process: subprocess.Popen[bytes] | None = None
        self._state: tempfile.TemporaryDirectory[str] | None = None

    def start(self, timeout: float = 60) -> MiniStackProcess:
        if not self.executable.exists():
            raise RuntimeError(
                f"MiniStack is not installed at {self.executable}: make run installs it (or choose moto's "
                "server: --emulator moto)"
            )
        if self.port == 0:  # MiniStack takes no port 0: a free one, chosen here
            with socket.socket() as probe:
                probe.bind((self.host, 0))
                self.port = probe.getsockname()[1]
        self._state = tempfile.TemporaryDirectory(prefix="ministack-")
        environment = {
            **os.environ,
            "BIND_HOST": self.host,
            "GATEWAY_PORT": str(self.port),
            "MINISTACK_HOST": self.host,
            "MINISTACK_ACCOUNT_ID": self.account_id,
            "IOT_MTLS_ENABLED": "0",
            "PERSIST_STATE": "0",
            "TMPDIR": self._state.name,
            "STATE_DIR": self._state.name,
        }
        launcher = [str(self.executable.with_name("python")), "-c", _DIE_WITH_PARENT, str(os.getpid())]
        self.process = subprocess.Popen(  # noqa: S603 - the installed MiniStack, fixed arguments
            [*launcher, str(self.executable)], cwd=self._state.name, env=environment,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"MiniStack exited with {self.process.returncode} at start")
            try:
                with urllib.request.urlopen(f"http://{self.host}:{self.port}/_ministack/health", timeout=1):
                    return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"MiniStack did not answer on {self.host}:{self.port} within {timeout:.0f} s")

    def get_host_and_port(self) -> tuple[str, int]:
        return self.host, self.port

    stop_grace_seconds = 1.0
    """How long `stop` lets MiniStack end on SIGTERM before killing it. Idle, it ends in 0.2 s; but
    it first waits for every receive still waiting (a long poll of up to 20 s, such as the local stack's
    pollers leave when they stop), and it keeps nothing to save: its state is `_state`, removed here."""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=self.stop_grace_seconds)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._state is not None:
            self._state.cleanup()
            self._state = None


def main(argv: Sequence[str] | None = None, stdin: IO[str] = sys.stdin) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.emulator", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: a free port")
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # a line per request otherwise
    server = start_emulator(args.host, args.port)
    host, port = server.get_host_and_port()
    print(f"emulator listening on {host}:{port}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C reaches the whole process group
        stdin.read()  # until the parent closes it, or dies
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
