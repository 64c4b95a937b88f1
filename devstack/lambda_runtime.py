"""Running a function's handler in-process, the way Lambda runs it.

Each *execution environment* is a fresh import of the function's handler module, so module state (the
API resolver, the batch processor) is never shared between two invocations running at once, as in
Lambda. Environments are created on demand up to a limit and reused (the first invocation of each is
its cold start). An invocation that runs past the function's timeout is reported as timed out, as
Lambda reports it, even though its thread cannot be stopped.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import queue
import select
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from .lambda_events import LambdaContext
from .provision import FunctionSpec
from .template import REPO_ROOT


class InvocationError(RuntimeError):
    """The handler raised, or ran past its timeout: Lambda would report a function error."""


_counter = itertools.count()


class FunctionPool:
    """Up to `max_environments` execution environments of one function."""

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

    def _handler_path(self) -> tuple[Path, str]:
        module, function = self.spec.handler.rsplit(".", 1)
        return REPO_ROOT / self.spec.code_uri / f"{module.replace('.', '/')}.py", function

    def _new_environment(self) -> Any:
        path, function = self._handler_path()
        name = f"_local_{self.spec.logical_id}_{next(_counter)}"
        module_spec = importlib.util.spec_from_file_location(name, path)
        if module_spec is None or module_spec.loader is None:
            raise InvocationError(f"cannot load handler {self.spec.handler} from {path}")
        module: ModuleType = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        return getattr(module, function)

    def _acquire(self) -> Any:
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
                with self._lock:
                    self._created -= 1
                raise
        return self._idle.get()

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


class ProcessPool:
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
        self.spec = spec
        self.name = f"{stack_name}-{spec.logical_id}"
        self.arn = f"arn:aws:lambda:{region}:{account_id}:function:{self.name}"
        self.max_environments = max(1, max_environments)
        self.import_path = import_path
        self._idle: queue.LifoQueue[_Worker] = queue.LifoQueue()
        self._all: list[_Worker] = []
        self._created = 0
        self._lock = threading.Lock()
        self.cold_starts = 0
        for _ in range(min(warm, self.max_environments)):
            self._idle.put(self._new())

    def _new(self) -> _Worker:
        with self._lock:
            self._created += 1
            self.cold_starts += 1
        try:
            worker = _Worker(self)
        except Exception:
            with self._lock:
                self._created -= 1
            raise
        with self._lock:
            self._all.append(worker)
        return worker

    def _acquire(self) -> _Worker:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            create = self._created < self.max_environments
        return self._new() if create else self._idle.get()

    def _retire(self, worker: _Worker) -> None:
        worker.stop()
        with self._lock:
            self._created -= 1
            if worker in self._all:
                self._all.remove(worker)

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
