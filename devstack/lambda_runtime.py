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
import queue
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
