"""Running a function's handler the way Lambda runs it: in execution environments, each a process of
its own (`devstack.worker`) with its own module state (the API resolver, the batch processor), its
own variables and its own Lambda context on its log lines, never shared between two invocations
running at once. Environments are created on demand up to a limit and reused (the first invocation
of each is its cold start), and killed and replaced when an invocation runs past the function's
timeout, as Lambda ends them.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import queue
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from .provision import FunctionSpec
from .template import REPO_ROOT


class InvocationError(RuntimeError):
    """The handler raised, or ran past its timeout: Lambda would report a function error.
    `error_message` is the handler's exception's message (Lambda's `errorMessage`), when it raised."""

    def __init__(self, text: str, *, error_message: str | None = None) -> None:
        super().__init__(text)
        self.error_message = error_message


class _Worker:
    """One execution environment in a process of its own (`devstack.worker`)."""

    def __init__(self, pool: ProcessPool, number: int) -> None:
        spec = pool.spec
        self.number = number
        started = time.monotonic()
        read, write = os.pipe()
        command = [
            sys.executable, "-m", "devstack.worker",
            "--code-uri", spec.code_uri, "--handler", spec.handler, "--name", pool.name, "--arn", pool.arn,
            "--memory", str(spec.memory_size), "--timeout", str(spec.timeout), "--answers-fd", str(write),
            "--environment", str(number),
        ]  # fmt: skip
        environment = {
            **(os.environ if pool.environment is None else pool.environment),
            "PYTHONPATH": os.pathsep.join([*pool.import_path, str(REPO_ROOT)]),
        }
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module, fixed arguments
            command, cwd=REPO_ROOT, stdin=subprocess.PIPE, pass_fds=(write,), env=environment, text=True
        )
        os.close(write)
        self.answers = os.fdopen(read, "r", encoding="utf-8")
        ready = self._answer(pool.start_timeout)
        if ready.get("ready") is not True:
            self.stop()
            raise InvocationError(f"{pool.name} could not start: {ready.get('error', ready)}")
        self.init_ms = (time.monotonic() - started) * 1000
        """How long its cold start took: the process started and the handler imported."""

    def invoke(self, event: dict[str, Any], timeout: float) -> dict[str, Any]:
        stdin = self.process.stdin
        if stdin is None:
            raise InvocationError("the environment has no input")
        try:
            stdin.write(json.dumps(event) + "\n")
            stdin.flush()
        except OSError as exc:
            raise InvocationError(f"the environment ended ({exc})") from exc
        return self._answer(timeout)

    def _answer(self, timeout: float) -> dict[str, Any]:
        readable, _, _ = select.select([self.answers], [], [], timeout)
        if not readable:
            raise TimeoutError
        line = self.answers.readline()
        if not line:
            raise InvocationError(f"the environment ended (exit {self.process.wait()})")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def signal_stop(self) -> None:
        """Close its input: it ends once its invocation in flight, if any, is answered."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            with contextlib.suppress(OSError):
                self.process.stdin.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.signal_stop()
            try:
                self.process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.answers.close()


class ProcessPool:
    """Up to `max_environments` execution environments of one function, each a process of its own, as
    in Lambda: invocations run at once in as many environments, each environment runs one at a time,
    keeps its module state between them, and is replaced after a crash or a timeout (killed, as Lambda
    ends an environment that timed out). Environments are created on demand and reused, last used
    first; `warm` of them are started at once."""

    start_timeout = 60.0

    def __init__(
        self,
        spec: FunctionSpec,
        *,
        stack_name: str,
        region: str,
        account_id: str,
        max_environments: int,
        import_path: list[str],
        environment: dict[str, str] | None = None,
        warm: int = 1,
        log: Callable[[str], None] = lambda message: None,
    ) -> None:
        self.spec = spec
        self.name = f"{stack_name}-{spec.logical_id}"
        self.arn = f"arn:aws:lambda:{region}:{account_id}:function:{self.name}"
        self.max_environments = max(1, max_environments)
        self.import_path = import_path
        self.environment = environment
        """Each environment's variables (this process's when None), PYTHONPATH aside."""
        self._idle: queue.LifoQueue[_Worker] = queue.LifoQueue()
        self._created = 0
        self._all: list[_Worker] = []
        self._numbers = itertools.count()
        self._lock = threading.Lock()
        self.log = log
        self.cold_starts = 0
        """Environments started (each one's first invocation is its cold start), logged as they start."""
        for _ in range(min(warm, self.max_environments)):
            self._idle.put(self._acquire())

    def _acquire(self) -> _Worker:
        """An idle environment; else a new one while fewer than the limit exist; else the next freed."""
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            create = self._created < self.max_environments
            if create:
                self._created += 1
        if create:
            try:
                return self._new_environment()
            except Exception:
                self._forget_one()
                raise
        return self._idle.get()

    def _forget_one(self) -> None:
        """An environment is gone (its start failed, or it was retired): another may be created."""
        with self._lock:
            self._created -= 1

    def _new_environment(self) -> _Worker:
        worker = _Worker(self, next(self._numbers))
        with self._lock:
            self._all.append(worker)
            self.cold_starts += 1
            count = self.cold_starts
        self.log(
            f"{self.spec.logical_id}: cold start of environment {worker.number} "
            f"(init {worker.init_ms:.0f} ms, {count} so far)"
        )
        return worker

    def _retire(self, worker: _Worker) -> None:
        worker.stop()
        with self._lock:
            if worker in self._all:
                self._all.remove(worker)
        self._forget_one()

    def invoke(self, event: dict[str, Any]) -> Any:
        """Call the handler with `event` in an idle environment; raise InvocationError as Lambda would
        fail."""
        worker = self._acquire()
        try:
            answer = worker.invoke(event, self.spec.timeout)
        except TimeoutError:
            self._retire(worker)
            raise InvocationError(f"{self.name} timed out after {self.spec.timeout} s") from None
        except InvocationError:
            self._retire(worker)
            raise
        self._idle.put(worker)
        if "error" in answer:
            raise InvocationError(
                f"{self.name} raised {answer['error']}\n{answer.get('trace', '')}",
                error_message=answer.get("errorMessage"),
            )
        return answer.get("result")

    def signal_stop(self) -> None:
        """Tell every environment to end (`stop` waits for them)."""
        with self._lock:
            workers = list(self._all)
        for worker in workers:
            worker.signal_stop()

    def stop(self) -> None:
        with self._lock:
            workers, self._all = list(self._all), []
        for worker in workers:
            worker.stop()
