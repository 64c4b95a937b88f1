"""One execution environment of a function, in a process of its own, as Lambda runs one.

    python -m devstack.worker --code-uri functions/publish --handler app.lambda_handler \
        --name notifier-PublishFunction --arn arn:... --memory 512 --timeout 10 --answers-fd 3

It imports the handler once (its cold start), then handles one invocation at a time: an event as a
line of JSON on stdin, its result (or the error it raised) as a line of JSON on the file descriptor
`--answers-fd`, so that what the function prints (its logs) goes to stdout as in Lambda. Its
environment variables and import path are the parent's (`devstack.lambda_runtime.ProcessPool`). It
ends when its stdin closes.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .faults import CHAOS_VARIABLE, STARTED_VARIABLE, Faults
from .lambda_events import LambdaContext
from .template import REPO_ROOT

READY = {"ready": True}


class HandlerNotFoundError(ImportError):
    """No module at the handler's path."""


def load_handler(code_uri: str, handler: str, name: str) -> Callable[..., Any]:
    """The handler of `code_uri` (`module.function`), its module imported as `name`."""
    module_name, function = handler.rsplit(".", 1)
    path = Path(REPO_ROOT / code_uri / f"{module_name.replace('.', '/')}.py")
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise HandlerNotFoundError(f"cannot load handler {handler} from {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, function)  # type: ignore[no-any-return]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.worker", description=__doc__.split("\n\n")[0])
    parser.add_argument("--code-uri", required=True)
    parser.add_argument("--handler", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--arn", required=True)
    parser.add_argument("--memory", type=int, default=128)
    parser.add_argument("--timeout", type=float, default=3)
    parser.add_argument("--answers-fd", type=int, required=True)
    parser.add_argument("--environment", type=int, default=0, help="its number among its function's")
    args = parser.parse_args(argv)
    with os.fdopen(args.answers_fd, "w", encoding="utf-8") as answers:
        try:
            handler = load_handler(args.code_uri, args.handler, f"_worker_{args.name}")
            injected = _inject_faults(handler, args.timeout, args.environment)
        except Exception as exc:  # an init error, as Lambda reports one
            answers.write(json.dumps({"error": f"init: {type(exc).__name__}: {exc}"}) + "\n")
            return 1
        answers.write(json.dumps(READY) + "\n")
        answers.flush()
        for line in sys.stdin:
            context = LambdaContext(
                function_name=args.name,
                memory_limit_in_mb=args.memory,
                invoked_function_arn=args.arn,
                timeout_seconds=args.timeout,
            )
            try:
                answer = {"result": handler(json.loads(line), context)}
            except Exception as exc:
                answer = {
                    "error": f"{type(exc).__name__}: {exc}",
                    "errorMessage": str(exc),
                    "trace": traceback.format_exc(),
                }
            sys.stdout.flush()
            answers.write(json.dumps(answer, default=str) + "\n")
            answers.flush()
    for provider in injected:
        provider.close()
    return 0


def _inject_faults(handler: object, timeout: float, environment: int) -> list[Any]:
    """The faults of the local stack's --chaos, applied to this environment when it is given them
    (`devstack.injection`); the providers they built, to close at the end."""
    chaos = os.environ.get(CHAOS_VARIABLE)
    if not chaos:
        return []
    from .injection import into_this_environment  # noqa: PLC0415 - needs the layer, only with --chaos

    return into_this_environment(
        Faults.parse(chaos),
        handler,
        started=float(os.environ[STARTED_VARIABLE]),
        timeout_seconds=timeout,
        environment=environment,
    )


if __name__ == "__main__":
    sys.exit(main())
