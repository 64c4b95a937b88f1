"""Start the local stack in a child process on free loopback ports, and stop it (tests, benchmarks)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from .template import DEFAULT_STACK_NAME, REPO_ROOT, physical_name

_WEBSOCKET_LINE = re.compile(r"^  websocket (ws://\S+)$", re.MULTILINE)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LocalStackProcess:
    """`python -m devstack` in a child process; its output goes to `log_path`."""

    def __init__(
        self,
        log_path: Path,
        *,
        overrides: list[str] | None = None,
        profile: str | None = None,
        chaos: str | None = None,
        api_key: str = "local-development-key",
        endpoint: str | None = None,
        emulator: str | None = None,
        stack_name: str = DEFAULT_STACK_NAME,
        warm_environments: int | None = None,
    ) -> None:
        self.log_path = log_path
        self.stack_name = stack_name
        """Names the stack's resources in the emulator (`<stack_name>-<logical id>`): stacks of other
        names can share one emulator (`endpoint`)."""
        self.emulator = emulator
        self.api_port = free_port()
        self.ws_port = free_port()
        self.emulator_port = free_port()
        self.api_key = api_key
        self.overrides = overrides or []
        self.profile = profile
        self.chaos = chaos
        self.warm_environments = warm_environments
        """`--warm-environments`: each function's environments started before ready (the stack's
        default, 1, when None)."""
        self.process: subprocess.Popen[bytes] | None = None
        self.url = f"http://127.0.0.1:{self.api_port}"
        self.ws_url: str | None = None
        """The WebSocket API's URL (ws://127.0.0.1:<ws_port>/<stage>), read from the ready banner;
        None before start, or when the template has no WebSocket API."""
        self.external_endpoint = endpoint
        self.endpoint = endpoint or f"http://127.0.0.1:{self.emulator_port}"

    def start(self, timeout: float = 60) -> LocalStackProcess:
        command = [
            sys.executable,
            "-m",
            "devstack",
            "--port",
            str(self.api_port),
            "--ws-port",
            str(self.ws_port),
        ]
        if self.external_endpoint:
            command += ["--endpoint", self.external_endpoint]
        else:
            command += ["--emulator-port", str(self.emulator_port)]
            if self.emulator:
                command += ["--emulator", self.emulator]
        if self.profile:
            command += ["--profile", self.profile]
        command += ["--stack-name", self.stack_name]
        if self.chaos:
            command += ["--chaos", self.chaos]
        if self.warm_environments is not None:
            command += ["--warm-environments", str(self.warm_environments)]
        if self.overrides:
            command += ["--parameter-overrides", *self.overrides]
        environment = {**os.environ, "LOCAL_API_KEY": self.api_key, "PYTHONUNBUFFERED": "1"}
        environment.pop("AWS_ENDPOINT_URL", None)
        environment.pop("LOCAL_PROFILE", None)
        environment.pop("LOCAL_EMULATOR", None)
        environment.pop("LOCAL_STACK_NAME", None)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module, fixed arguments
                command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, env=environment
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the local stack exited with {self.process.returncode}:\n{self.log()}")
            output = self.log()
            if "local stack ready" in output and "Ctrl-C to stop" in output:
                found = _WEBSOCKET_LINE.search(output)
                self.ws_url = found.group(1) if found else None
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the local stack did not start within {timeout} s:\n{self.log()}")

    def physical_name(self, logical_id: str) -> str:
        """The name the stack gave a resource of the template in the emulator (a queue, a table...)."""
        return physical_name(self.stack_name, logical_id)

    @property
    def management_url(self) -> str | None:
        """The WebSocket API's @connections endpoint, as boto3's `endpoint_url` takes it."""
        return None if self.ws_url is None else "http" + self.ws_url.removeprefix("ws")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        key: str | None = "",
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        """(status, JSON body). `key`: "" sends this stack's API key, None sends none, else that key."""
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        headers = {"Content-Type": "application/json", **(headers or {})}
        if key is not None:
            headers["x-api-key"] = key or self.api_key
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)  # noqa: S310 - loopback
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - loopback
                return answer.status, json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def outbox(self, start: int = 0) -> list[dict[str, Any]]:
        """What the sandbox delivered, from the `start`th entry."""
        status, entries = self.request("GET", f"/_local/outbox?start={start}", key=None)
        if status != 200:
            raise RuntimeError(f"GET /_local/outbox answered {status}")
        return list(entries)
