"""The publish function's CPU per published event, and its SNS calls per event, warm.

The real handler (functions/publish/app.py, with the function's environment from template.yaml) is
imported in this process and called with API Gateway events; SNS and DynamoDB answer in-process
(bench/_stubs.py replaces botocore's last step before the socket: no network, no moto), so what is
measured is the function's own CPU: API Gateway event parsing and routing, request validation,
routing rules, the envelope, botocore's serialization, signing and parsing of each call, the
ACCEPTED status write, logs and metrics (written to /dev/null while measured).

- `single`: POST /event (events/api_publish_event.json), no Idempotency-Key (the default);
- `single_idempotent`: the same with an Idempotency-Key, a new key each time (the first request of
  each key: the in-progress record, then the answer, written to DynamoDB);
- `bulk`: POST /events/bulk with 100 events (events/api_publish_events_bulk.json's envelope).

After `--warmup` invocations, `--invocations` are timed with `time.process_time()` (every thread of
the process: PublishBatch calls run on a small pool); the figure is CPU ms per event. SNS calls are
the stubbed Publish and PublishBatch calls, per event. Budgets: CPU <= 2 ms per event; bulk <= 0.1
SNS calls per event.

Prints a table and merges `publish_cpu_ms_per_event` and `sns_calls_per_event` ({"single", "bulk",
"single_idempotent"}) into bench/results.json.

    PYTHONPATH=layers/common .venv/bin/python -m bench.publish_cost [--invocations 500]
"""

from __future__ import annotations

import argparse
import copy
import importlib
import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from bench import _stubs
from bench.cold_start import EVENTS, LAMBDA_ENV, _stack, function_environment
from bench.report import record

CPU_BUDGET_MS = 2.0
SNS_CALLS_BUDGET = 0.1
BULK_EVENTS = 100
EVENT_TYPES = ("LIKE", "COMMENT", "SHARE", "FOLLOW", "MENTION", "MESSAGE", "POST", "UNFOLLOW")


def _without_key(event: dict[str, Any]) -> dict[str, Any]:
    event = copy.deepcopy(event)
    for headers in (event.get("headers") or {}, event.get("multiValueHeaders") or {}):
        for name in [n for n in headers if n.lower() == "idempotency-key"]:
            del headers[name]
    return event


def _with_key(event: dict[str, Any], key: str) -> dict[str, Any]:
    event = dict(event, headers={**event["headers"], "Idempotency-Key": key})
    event["multiValueHeaders"] = {**event["multiValueHeaders"], "Idempotency-Key": [key]}
    return event


def single_event() -> dict[str, Any]:
    return _without_key(json.loads((EVENTS / "api_publish_event.json").read_text()))


def bulk_event(count: int = BULK_EVENTS) -> dict[str, Any]:
    event = _without_key(json.loads((EVENTS / "api_publish_events_bulk.json").read_text()))
    one = json.loads(single_event()["body"])
    events = [
        {**one, "user_id": f"user-{i:03d}", "event_type": EVENT_TYPES[i % len(EVENT_TYPES)]}
        for i in range(count)
    ]
    event["body"] = json.dumps({"events": events})
    return event


@contextmanager
def _stdout_to_devnull() -> Iterator[None]:
    """The handler's log lines and metrics, written as in Lambda, but to /dev/null."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 1)
        try:
            yield
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)


def measure(
    handler: Callable[[dict[str, Any], Any], dict[str, Any]],
    make_event: Callable[[], dict[str, Any]],
    events_per_call: int,
    invocations: int,
    warmup: int,
) -> tuple[float, float]:
    """(CPU ms per event, SNS calls per event) over `invocations` warm invocations."""
    context = _stubs.LambdaContext(function_name="notifier-PublishFunction", memory_limit_in_mb=512)
    with _stdout_to_devnull():
        for _ in range(warmup):
            handler(make_event(), context)
        events = [make_event() for _ in range(invocations)]
        _stubs.calls.clear()
        started = time.process_time()
        for event in events:
            answer = handler(event, context)
            if answer["statusCode"] != 202:
                raise RuntimeError(f"not published: {answer}")
        cpu = time.process_time() - started
    sns = _stubs.calls["sns.Publish"] + _stubs.calls["sns.PublishBatch"]
    published = invocations * events_per_call
    return cpu * 1000 / published, sns / published


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invocations", type=int, default=500, help="single-event invocations timed")
    parser.add_argument("--bulk-invocations", type=int, default=50, help="bulk invocations timed")
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--no-write", action="store_true", help="print only; leave results.json alone")
    args = parser.parse_args()

    os.environ.update(LAMBDA_ENV, AWS_LAMBDA_FUNCTION_NAME="notifier-PublishFunction")
    os.environ.update(function_environment("publish", _stack()))
    os.environ.pop("AWS_ENDPOINT_URL", None)
    _stubs.install()
    handler = importlib.import_module("functions.publish.app").lambda_handler
    single, bulk = single_event(), bulk_event()
    idempotent = json.loads((EVENTS / "api_publish_event_idempotent.json").read_text())

    cases: dict[str, tuple[Callable[[], dict[str, Any]], int, int]] = {
        "single": (lambda: single, 1, args.invocations),
        "single_idempotent": (lambda: _with_key(idempotent, str(uuid.uuid4())), 1, args.invocations),
        "bulk": (lambda: bulk, BULK_EVENTS, args.bulk_invocations),
    }
    cpu: dict[str, float] = {}
    sns: dict[str, float] = {}
    print("publish function, warm: CPU ms per event, SNS calls per event")
    print(f"  {'case':18} {'invocations':>11} {'CPU ms/event':>13} {'SNS calls/event':>16}  budget")
    for name, (make_event, per_call, invocations) in cases.items():
        cpu_ms, calls = measure(handler, make_event, per_call, invocations, args.warmup)
        cpu[name], sns[name] = round(cpu_ms, 3), round(calls, 3)
        verdicts = [f"CPU {'PASS' if cpu_ms <= CPU_BUDGET_MS else 'FAIL'} (<= {CPU_BUDGET_MS} ms)"]
        if name == "single_idempotent":  # the budget is the default request's; a key adds two writes
            verdicts = ["none (for reference: an Idempotency-Key adds two DynamoDB writes)"]
        if name == "bulk":
            verdicts.append(f"SNS {'PASS' if calls <= SNS_CALLS_BUDGET else 'FAIL'} (<= {SNS_CALLS_BUDGET})")
        print(f"  {name:18} {invocations:11} {cpu_ms:13.3f} {calls:16.3f}  {', '.join(verdicts)}")
    if args.no_write:
        return
    record({"publish_cpu_ms_per_event": cpu, "sns_calls_per_event": sns}, merge=True)


if __name__ == "__main__":
    main()
