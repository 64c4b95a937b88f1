"""What the fuzzer of tests/e2e/test_fuzz_openapi.py is told beyond the contract (loaded by schemathesis
from SCHEMATHESIS_HOOKS).

Two times are bound to the clock, which no JSON Schema can state; the contract says so in words:

- a scheduled send's time (`sendAt`, `send_at`) must be ahead of now and at most MaxScheduleDays (30)
  ahead;
- when a push receipt's event happened on the device (`occurred_at`) must not be in the future.

Every RFC 3339 time is schema-valid, so generated bodies would hold times on the wrong side of now,
which the API rightly answers 400 naming the field. Such bodies are left out (with a minute's margin
either side of now, for the time a request takes); every other body, and every other field of the
bodies kept, is fuzzed as before. tests/functional/test_scheduled_sends.py and
tests/functional/test_receipts.py check those refusals.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import schemathesis

HORIZON = timedelta(days=30)
MARGIN = timedelta(minutes=1)


def _send_times(body: Any) -> list[Any]:
    if isinstance(body, dict):
        events = body.get("events")
        nested = (
            [t for e in events if isinstance(e, dict) for t in _send_times(e)]
            if isinstance(events, list)
            else []
        )
        return [body[k] for k in ("sendAt", "send_at") if k in body] + nested
    return []


def _occurred_times(body: Any) -> list[Any]:
    return [body["occurred_at"]] if isinstance(body, dict) and "occurred_at" in body else []


def _moment(value: Any) -> datetime | None:
    """The time `value` names, or None when it is not an RFC 3339 time with an offset (a negative case,
    which is kept)."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _ahead(value: Any) -> bool:
    moment = _moment(value)
    now = datetime.now(UTC)
    return moment is None or now + MARGIN < moment < now + HORIZON - MARGIN


def _past(value: Any) -> bool:
    moment = _moment(value)
    return moment is None or moment < datetime.now(UTC) - MARGIN


@schemathesis.hook
def filter_body(context: Any, body: Any) -> bool:
    return all(_ahead(value) for value in _send_times(body)) and all(
        _past(value) for value in _occurred_times(body)
    )
