"""`python -m devstack` (what `make run` runs): the whole service on this machine, until Ctrl-C."""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import time

from .api import INBOX_PAGE_PATH
from .faults import Faults
from .output import write_whole_lines
from .stack import (
    DEFAULT_API_KEY,
    DEFAULT_EMULATOR,
    EMULATORS,
    MAX_API_KEY_LENGTH,
    MIN_API_KEY_LENGTH,
    LocalConfig,
    LocalStack,
    StartupError,
)
from .template import DEFAULT_STACK_NAME, TemplateError, parse_overrides, profile_overrides
from .websocket import DEFAULT_PORT as DEFAULT_WS_PORT

STACK_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,127}")
"""What CloudFormation takes as a stack name."""

STOP_POLL_SECONDS = 0.1
"""How often the main thread looks for a stop signal."""


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="make run ARGS=...",
        description="Run the notification service on 127.0.0.1: an AWS emulator, the resources of "
        "template.yaml, the REST API, the WebSocket API and every SQS event source, with the sandbox "
        "provider.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("LOCAL_API_PORT", "3000")),
        help="the REST API's port (default 3000, or LOCAL_API_PORT)",
    )
    parser.add_argument(
        "--ws-port",
        type=int,
        default=int(os.environ.get("LOCAL_WS_PORT", str(DEFAULT_WS_PORT))),
        help=f"the WebSocket API's port, with its @connections endpoint (default {DEFAULT_WS_PORT}, "
        "or LOCAL_WS_PORT; 0: any free port)",
    )
    parser.add_argument(
        "--emulator-port",
        type=int,
        default=int(os.environ.get("LOCAL_EMULATOR_PORT", "4566")),
        help="port of the emulator the stack starts (default 4566, or LOCAL_EMULATOR_PORT)",
    )
    parser.add_argument(
        "--emulator",
        choices=EMULATORS,
        default=os.environ.get("LOCAL_EMULATOR") or DEFAULT_EMULATOR,
        help="the emulator to start, in a process of its own: MiniStack (the default; make run installs "
        "it) or moto's server, about four times slower under load (or LOCAL_EMULATOR)",
    )
    parser.add_argument(
        "--endpoint",
        default=os.environ.get("LOCAL_ENDPOINT_URL"),
        help="use an emulator already running there (LocalStack: http://localhost:4566) "
        "instead of starting one (or LOCAL_ENDPOINT_URL)",
    )
    parser.add_argument(
        "--profile",
        default=os.environ.get("LOCAL_PROFILE") or None,
        help="start from the parameter overrides of this samconfig.toml environment, such as 'fast' "
        "(short timeouts and backoff for fault scenarios); --parameter-overrides go on top",
    )
    parser.add_argument(
        "--parameter-overrides",
        nargs="+",
        default=None,
        metavar="KEY=VALUE",
        help="template Parameters, as sam deploy takes them",
    )
    parser.add_argument(
        "--chaos",
        default=None,
        metavar="crash=RATE,timeout=RATE,receipt_duplicate=RATE,receipt_reorder=RATE,flush_crash=RATE,"
        "outage=PROVIDER@START-END[+...],seed=N",
        help="inject faults into the consumers: a crash mid-batch, or a hang past the function's "
        "timeout, in that share of invocations; into the sandbox's receipts: that share posted "
        "twice, or out of order; into the due function: that share of digest flushes crashing "
        "after publishing, before marking the window SENT; and into a provider the sandbox plays: "
        "unreachable from START to END seconds after the stack started (see devstack/faults.py)",
    )
    parser.add_argument(
        "--stack-name",
        default=os.environ.get("LOCAL_STACK_NAME") or DEFAULT_STACK_NAME,
        help="the stack's name, which names its resources in the emulator as sam deploy's does "
        f"(default {DEFAULT_STACK_NAME}, or LOCAL_STACK_NAME): stacks of other names can share one emulator",
    )
    parser.add_argument("--no-seed", action="store_true", help="do not add the demo recipients")
    parser.add_argument(
        "--max-environments",
        type=int,
        default=4,
        help="most concurrent execution environments per function (default 4)",
    )
    parser.add_argument(
        "--warm-environments",
        type=int,
        default=1,
        help="execution environments of each function started before the stack is ready (default 1: "
        "the first requests find them warm; 0: each starts on its first invocation, as in Lambda)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    write_whole_lines()
    try:
        overrides = profile_overrides(args.profile) if args.profile else {}
        overrides.update(parse_overrides(args.parameter_overrides))
        faults = Faults.parse(args.chaos) if args.chaos else None
    except (TemplateError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not STACK_NAME.fullmatch(args.stack_name):
        print(
            f"error: --stack-name {args.stack_name!r} is not a stack name: a letter, then up to 127 "
            "letters, digits and hyphens, as CloudFormation takes it",
            file=sys.stderr,
        )
        return 2
    if args.max_environments < 1 or not 0 <= args.warm_environments <= args.max_environments:
        print(
            f"error: --max-environments {args.max_environments} and --warm-environments "
            f"{args.warm_environments}: a function runs in 1 or more environments, of which 0 up to "
            "all may be started before the stack is ready",
            file=sys.stderr,
        )
        return 2
    api_key = os.environ.get("LOCAL_API_KEY") or DEFAULT_API_KEY
    if not MIN_API_KEY_LENGTH <= len(api_key) <= MAX_API_KEY_LENGTH:
        print(
            f"error: LOCAL_API_KEY is {len(api_key)} characters; API Gateway takes API keys of "
            f"{MIN_API_KEY_LENGTH} to {MAX_API_KEY_LENGTH}",
            file=sys.stderr,
        )
        return 2
    config = LocalConfig(
        host=args.host,
        api_port=args.port,
        ws_port=args.ws_port,
        emulator_port=args.emulator_port,
        endpoint=args.endpoint,
        overrides=overrides,
        api_key=api_key,
        seed_file=None if args.no_seed else LocalConfig().seed_file,
        max_environments=args.max_environments,
        warm_environments=args.warm_environments,
        faults=faults,
        emulator=args.emulator,
        stack_name=args.stack_name,
    )
    stack = LocalStack(config)
    # The handlers only note the signal: one that takes a lock (Event.set) deadlocks when a second
    # signal interrupts the first handler inside it (Ctrl-C twice, or `timeout` then `kill`), and the
    # stack then never stops.
    received: list[int] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda signum, _frame: received.append(signum))
    try:
        stack.start()
    except StartupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        stack.stop()
        return 1
    except BaseException:  # whatever it started (the emulator, environments) ends with it
        stack.stop()
        raise
    sources = len(stack.pollers)
    websocket = (
        f"  websocket {stack.websocket_url}\n"
        f"  inbox    {stack.api_url}{INBOX_PAGE_PATH}  (a recipient's in-app inbox, live)\n"
        if stack.websocket_url
        else ""
    )
    print(
        f"notifier local stack ready: API {stack.api_url}  x-api-key: {config.api_key}\n"
        f"  emulator {stack.endpoint}  ({sources} SQS event sources running)\n"
        f"  docs     {stack.api_url}/docs  (OpenAPI: {stack.api_url}/openapi.json)\n"
        f"  outbox   {stack.api_url}/_local/outbox\n"
        f"{websocket}"
        "  Ctrl-C to stop",
        flush=True,
    )
    while not received:
        time.sleep(STOP_POLL_SECONDS)
    print("stopping...", file=sys.stderr, flush=True)
    stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
