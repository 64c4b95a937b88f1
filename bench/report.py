"""The table of every measurement in bench/results.json, each beside its budget.

`make bench` runs every measuring module, each merging its keys into bench/results.json, and then
this one. A budget is PASS or FAIL in the table (and the exit status is 1 when one fails); figures
without a budget are printed for reference. A figure that is missing says which module writes it.

    python -m bench.report
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).with_name("results.json")
CHANNELS = ("email", "sms", "push", "inapp")
"""The consumers, each with its cold start's budget and its artifact."""
VENDOR_CHANNELS = ("email", "sms", "push")
"""The consumers that wait on a vendor, which bench.batch_latency measures (in-app has none: it stores
in DynamoDB and posts to open WebSockets)."""


def load() -> dict[str, Any]:
    """What the measuring modules have written so far ({} before the first)."""
    return json.loads(RESULTS.read_text()) if RESULTS.exists() else {}


def record(figures: dict[str, Any], *, merge: bool = False) -> None:
    """Write `figures` into bench/results.json, keeping every other module's keys: each key of
    `figures` replaces the one there or, with `merge`, its dict is merged into the one there (a run
    of some functions only keeps the others' figures)."""
    results = load()
    for key, value in figures.items():
        results[key] = {**results.get(key, {}), **value} if merge else value
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {RESULTS}")


@dataclass(frozen=True)
class Row:
    key: str
    unit: str
    source: str
    budget: str = ""
    check: Callable[[float, dict[str, Any]], bool] | None = None


def _get(results: dict[str, Any], key: str) -> Any:
    value: Any = results
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _times_floor(factor: float) -> Callable[[float, dict[str, Any]], bool]:
    def check(value: float, results: dict[str, Any]) -> bool:
        floor = _get(results, "cold_ms.floor")
        return floor is not None and value <= factor * floor

    return check


def _at_most(limit: float) -> Callable[[float, dict[str, Any]], bool]:
    return lambda value, _: value <= limit


def _at_least(limit: float) -> Callable[[float, dict[str, Any]], bool]:
    return lambda value, _: value >= limit


DIGEST_BURSTS = (1, 5, 20)
"""bench.digest_cost's bursts (events of a digest key within its window)."""
DIGEST_FIGURES = (("usd_per_million", "USD"), ("sent_per_million", "sent"), ("usd_per_million_sent", "USD"))
WEBHOOK_BUDGET_SECONDS = 3.0  # bench.webhook_ingest writes it beside its figure

ROWS = [
    Row("cold_ms.floor", "ms", "bench.cold_start"),
    Row("cold_ms.publish", "ms", "bench.cold_start", "<= 1.5 x floor", _times_floor(1.5)),
    *(Row(f"cold_ms.{c}", "ms", "bench.cold_start", "<= 2.0 x floor", _times_floor(2.0)) for c in CHANNELS),
    Row("cold_ms.socket", "ms", "bench.cold_start", "<= 1.5 x floor", _times_floor(1.5)),
    *(Row(f"cold_naive_ms.{f}", "ms", "bench.cold_start") for f in ("publish", *CHANNELS, "socket")),
    Row("publish_cpu_ms_per_event.single", "ms", "bench.publish_cost", "<= 2 ms", _at_most(2.0)),
    Row("publish_cpu_ms_per_event.bulk", "ms", "bench.publish_cost", "<= 2 ms", _at_most(2.0)),
    Row("sns_calls_per_event.single", "calls", "bench.publish_cost"),
    Row("sns_calls_per_event.bulk", "calls", "bench.publish_cost", "<= 0.1", _at_most(0.1)),
    *(
        Row(f"batch10_100ms_seconds.{c}", "s", "bench.batch_latency", "<= 0.15 s", _at_most(0.15))
        for c in VENDOR_CHANNELS
    ),
    *(Row(f"batch10_100ms_moto_seconds.{c}", "s", "bench.batch_latency") for c in VENDOR_CHANNELS),
    *(
        Row(f"artifact_mb.{name}", "MB", "bench.artifacts")
        for name in ("publish", *CHANNELS, "socket", "common_layer")
    ),
    Row("local_e2e.p50_ms", "ms", "bench.local_latency"),
    Row("local_e2e.p95_ms", "ms", "bench.local_latency", "<= 300 ms", _at_most(300)),
    Row("local_e2e.events_per_s", "events/s", "bench.local_latency", ">= 100/s", _at_least(100)),
    Row("local_e2e.cpu_ms_per_event.total", "ms", "bench.local_latency"),
    Row("local_e2e.bulk_events_per_s", "events/s", "bench.local_latency"),
    Row("local_e2e.sustained_lost", "events", "bench.local_latency", "0", _at_most(0)),
    Row("local_e2e.p95_ms_c16", "ms", "bench.local_latency"),
    Row("local_e2e.events_per_s_c16", "events/s", "bench.local_latency"),
    Row("local_e2e.bulk_events_per_s_c16", "events/s", "bench.local_latency"),
    Row("local_e2e_moto.p95_ms", "ms", "bench.local_latency --emulator moto"),
    Row("local_e2e_moto.events_per_s", "events/s", "bench.local_latency --emulator moto"),
    Row("local_e2e_moto.bulk_events_per_s", "events/s", "bench.local_latency --emulator moto"),
    Row("inbox_ws.p50_ms", "ms", "bench.inbox_latency", "<= 100 ms", _at_most(100)),
    Row("inbox_ws.p95_ms", "ms", "bench.inbox_latency"),
    Row("inbox_ws.fanout_ms", "ms", "bench.inbox_latency", "<= 1000 ms", _at_most(1000)),
    Row("inbox_ws.fanout_max_ms", "ms", "bench.inbox_latency"),
    Row("inbox_ws.fanout_missing", "frames", "bench.inbox_latency", "0", _at_most(0)),
    Row("webhook_ingest.seconds", "s", "bench.webhook_ingest", "<= 3 s", _at_most(WEBHOOK_BUDGET_SECONDS)),
    Row("webhook_ingest.lost", "events", "bench.webhook_ingest", "0", _at_most(0)),
    Row("webhook_ingest.suppressed_missing", "addresses", "bench.webhook_ingest", "0", _at_most(0)),
    Row("webhook_ingest.moto_seconds", "s", "bench.webhook_ingest"),
    Row("webhook_ingest.batch_kb", "KB", "bench.webhook_ingest"),
    Row("webhook_ingest.events", "events", "bench.webhook_ingest"),
    Row("cost_usd_per_million", "USD", "bench.cost"),
    # Digests, for a LIKE-heavy mix (bench.digest_cost, run by bench.cost): per million events off and
    # on with the headline burst, notifications sent, and the cost per million sent; then each burst.
    *(
        Row(f"cost_digests.{side}.{figure}", unit, "bench.cost")
        for side in ("off", "on")
        for figure, unit in DIGEST_FIGURES
    ),
    *(
        Row(f"cost_digests.n{n}.on.{figure}", unit, "bench.cost")
        for n in DIGEST_BURSTS
        for figure, unit in DIGEST_FIGURES[:2]
    ),
]


def _artifact_checks(results: dict[str, Any]) -> list[tuple[str, bool]]:
    """(what, passed) for each of bench.artifacts' checks: {name: {"result": "PASS"|"FAIL", ...}}."""
    checks = results.get("artifact_checks") or {}
    return [(str(name), check.get("result") == "PASS") for name, check in checks.items()]


def report(results: dict[str, Any]) -> tuple[list[str], int]:
    """The table's lines, and how many budgets failed (a missing budgeted figure counts as failed)."""
    lines = [f"{'figure':40} {'value':>12}  {'budget':16} result", "-" * 80]
    failed = 0
    for row in ROWS:
        value = _get(results, row.key)
        if value is None:
            lines.append(f"{row.key:40} {'missing':>12}  {row.budget:16} run {row.source}")
            failed += row.check is not None
            continue
        verdict = ""
        if row.check is not None:
            ok = row.check(float(value), results)
            verdict = "PASS" if ok else "FAIL"
            failed += not ok
        shown = f"{value:.4g}" if isinstance(value, float) else str(value)
        lines.append(f"{row.key:40} {shown + ' ' + row.unit:>12}  {row.budget:16} {verdict}")
    for name, ok in _artifact_checks(results):
        lines.append(f"{'artifact: ' + name:67.67} {'PASS' if ok else 'FAIL'}")
        failed += not ok
    return lines, failed


def main() -> int:
    lines, failed = report(load())
    print("\n".join(lines))
    print(f"\n{failed} budget(s) failed" if failed else "\nevery budget passes")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
