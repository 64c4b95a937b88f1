"""What the fuzzer of tests/e2e/test_fuzz_openapi.py is told beyond the contract (loaded by schemathesis
from SCHEMATHESIS_HOOKS).

A scheduled send's time (`sendAt`, `send_at`) must be ahead of now and at most MaxScheduleDays (30)
ahead: a constraint relative to the clock, which no JSON Schema can state. Every RFC 3339 time is
schema-valid, so generated bodies would hold times in the past and years ahead, which the API rightly
answers 400 naming the field. Such bodies are left out; every other body, and every other field of
the bodies kept, is fuzzed as before. tests/functional/test_scheduled_sends.py checks those refusals.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import schemathesis

HORIZON = timedelta(days=30)


def _times(body: Any) -> list[Any]:
    if isinstance(body, dict):
        events = body.get("events")
        nested = (
            [t for e in events if isinstance(e, dict) for t in _times(e)] if isinstance(events, list) else []
        )
        return [body[k] for k in ("sendAt", "send_at") if k in body] + nested
    return []


def _within(value: Any) -> bool:
    if not isinstance(value, str):
        return True  # not a time at all: a negative case, kept
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return True  # not RFC 3339: a negative case, kept
    if moment.tzinfo is None:
        return True
    now = datetime.now(UTC)
    return now + timedelta(minutes=1) < moment < now + HORIZON - timedelta(minutes=1)


@schemathesis.hook
def filter_body(context: Any, body: Any) -> bool:
    return all(_within(value) for value in _times(body))
