"""Running a function's handler in-process, the way Lambda runs it.

Each *execution environment* is a fresh import of the function's handler module, so module state (the
API resolver, the batch processor) is never shared between two invocations running at once, as in
Lambda. Environments are created on demand up to a limit and reused (the first invocation of each is
its cold start). An invocation that runs past the function's timeout is reported as timed out, as
Lambda reports it, even though its thread cannot be stopped.
"""

from __future__ import annotations

import itertools
import json
import os
import queue
import select
import subprocess
import sys
import threading
import time
from typing import Any

from .lambda_events import LambdaContext
from .provision import FunctionSpec
from .template import REPO_ROOT
from .worker import HandlerNotFoundError, load_handler


class InvocationError(RuntimeError):
    """The handler raised, or ran past its timeout: Lambda would report a function error."""


_counter = itertools.count()


class _Pool:
    """Up to `max_environments` execution environments of one function, created on demand and reused
    (last used first); what an environment is, the subclass makes (`_new_environment`)."""

    def __init__(
        self, spec: FunctionSpec, *, stack_name: str, region: str, account_id: str, max_environments: int
    ) -> None:
        self.spec = spec
        self.name = f"{stack_name}-{spec.logical_id}"
        self.arn = f"arn:aws:lambda:{region}:{account_id}:function:{self.name}"
        self.max_environments = max(1, max_environments)
        self._idle: queue.LifoQueue[Any] = queue.LifoQueue()
        self._created = 0
        self._lock = threading.Lock()

    def _new_environment(self) -> Any:
        raise NotImplementedError

    def _acquire(self) -> Any:
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


class FunctionPool(_Pool):
    """Environments in this process: each a fresh import of the handler's module."""

    def _new_environment(self) -> Any:
        name = f"_local_{self.spec.logical_id}_{next(_counter)}"
        try:
            return load_handler(self.spec.code_uri, self.spec.handler, name)
        except HandlerNotFoundError as exc:
            raise InvocationError(str(exc)) from None

    def invoke(self, event: dict[str, Any]) -> Any:
        """Call the handler with `event` and a context; raise InvocationError as Lambda would fail."""
        handler = self._acquire()
        context = LambdaContext(
            function_name=self.name,
            memory_limit_in_mb=self.spec.memory_size,
            invoked_function_arn=self.arn,
            timeout_seconds=self.spec.timeout,
        )
        started = time.monotonic()
        try:
            result = handler(event, context)
        except Exception as exc:
            if time.monotonic() - started > self.spec.timeout:
                raise InvocationError(f"{self.name} timed out after {self.spec.timeout} s") from exc
            raise InvocationError(f"{self.name} raised {type(exc).__name__}: {exc}") from exc
        finally:
            self._idle.put(handler)
        if time.monotonic() - started > self.spec.timeout:
            raise InvocationError(f"{self.name} timed out after {self.spec.timeout} s")
        return result


class _Worker:
    """One execution environment in a process of its own (`devstack.worker`)."""

    def __init__(self, pool: ProcessPool) -> None:
        spec = pool.spec
        read, write = os.pipe()
        command = [
            sys.executable, "-m", "devstack.worker",
            "--code-uri", spec.code_uri, "--handler", spec.handler, "--name", pool.name, "--arn", pool.arn,
            "--memory", str(spec.memory_size), "--timeout", str(spec.timeout), "--answers-fd", str(write),
        ]  # fmt: skip
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join([*pool.import_path, str(REPO_ROOT)])}
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module, fixed arguments
            command, cwd=REPO_ROOT, stdin=subprocess.PIPE, pass_fds=(write,), env=environment, text=True
        )
        os.close(write)
        self.answers = os.fdopen(read, "r", encoding="utf-8")
        ready = self._answer(pool.start_timeout)
        if ready.get("ready") is not True:
            self.stop()
            raise InvocationError(f"{pool.name} could not start: {ready.get('error', ready)}")

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

    def stop(self) -> None:
        if self.process.poll() is None:
            if self.process.stdin is not None:
                self.process.stdin.close()
            try:
                self.process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.answers.close()


class ProcessPool(_Pool):
    """Up to `max_environments` execution environments of one function, each a process of its own, as
    in Lambda: invocations run at once in as many environments, each environment runs one at a time,
    keeps its module state between them, and is replaced after a crash or a timeout (killed, as Lambda
    ends an environment that timed out). `warm` environments are started at once."""

    isolated = True
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
        warm: int = 1,
    ) -> None:
        super().__init__(
            spec,
            stack_name=stack_name,
            region=region,
            account_id=account_id,
            max_environments=max_environments,
        )
        self.import_path = import_path
        self._all: list[_Worker] = []
        for _ in range(min(warm, self.max_environments)):
            self._idle.put(self._acquire())

    def _new_environment(self) -> _Worker:
        worker = _Worker(self)
        with self._lock:
            self._all.append(worker)
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
            raise InvocationError(f"{self.name} raised {answer['error']}\n{answer.get('trace', '')}")
        return answer.get("result")

    def stop(self) -> None:
        with self._lock:
            workers, self._all = list(self._all), []
        for worker in workers:
            worker.stop()
