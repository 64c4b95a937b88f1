"""POST-to-outbox latency of the local stack: at idle, under a burst, and sustained for a minute.

Each event is a critical LIKE for the demo recipient `alice` (one push delivery). Latency is the time
from just before the client sends the POST to the sandbox's `sent_at` for that notification (one
clock: the same machine). The sustained phases keep `--clients` clients posting back to back for
`--sustain` seconds, first one event per POST /event (`p50_ms`, `p95_ms`, `events_per_s`: accepted
events per second over the window; `delivered_events_per_s`: the same events over the time until the
last was delivered), then `--bulk-size` events per POST /events/bulk (`bulk_*`). Prints a table and
merges `local_e2e` into bench/results.json.

    python -m bench.local_latency [--idle 20] [--burst 200] [--clients 4] [--sustain 60] [--bulk-size 25]
        [--emulator moto|ministack]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

from bench.report import record
from devstack.process import LocalStackProcess

EVENT = {
    "user_id": "alice",
    "event_type": "LIKE",
    "payload": {
        "parent_id": "post_1",
        "parent_type": "post",
        "timestamp": "2026-11-21T10:00:00Z",
        "priority": "critical",
    },
}


def _post(local: LocalStackProcess) -> tuple[str, float]:
    started = time.time()
    status, body = local.request("POST", "/event", EVENT)
    if status != 202:
        raise RuntimeError(f"POST /event answered {status}: {body}")
    return body["event_id"], started


def _post_bulk(local: LocalStackProcess, size: int) -> list[tuple[str, float]]:
    started = time.time()
    status, body = local.request("POST", "/events/bulk", {"events": [EVENT] * size})
    if status != 202:
        raise RuntimeError(f"POST /events/bulk answered {status}: {body}")
    return [(result["event_id"], started) for result in body["results"]]


def _sustain(
    local: LocalStackProcess, seconds: float, clients: int, post: Callable[[], list[tuple[str, float]]]
) -> tuple[dict[str, float], float]:
    """Every client posting back to back until `seconds` have passed: (event id -> POST time), and
    the window's length."""
    started = time.monotonic()
    deadline = started + seconds

    def client() -> list[tuple[str, float]]:
        sent = []
        while time.monotonic() < deadline:
            sent += post()
        return sent

    with ThreadPoolExecutor(max_workers=clients) as pool:
        sent = dict(pair for pairs in pool.map(lambda _: client(), range(clients)) for pair in pairs)
    return sent, time.monotonic() - started


def _latencies_ms(local: LocalStackProcess, sent: dict[str, float], timeout: float = 120) -> list[float]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        delivered = {
            e["notification_id"]: e["sent_at"] for e in local.outbox() if e["notification_id"] in sent
        }
        if len(delivered) == len(sent):
            return [(datetime.fromisoformat(delivered[i]).timestamp() - sent[i]) * 1000 for i in sent]
        time.sleep(0.05)
    raise RuntimeError(f"{len(sent) - len(delivered)} of {len(sent)} events not delivered within {timeout} s")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(
    idle: int, burst: int, clients: int, sustain: float, bulk_size: int, *, emulator: str | None = None
) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        local = LocalStackProcess(Path(folder) / "local.log", emulator=emulator).start()
        try:
            _latencies_ms(local, dict([_post(local)]))  # warm: first import of each handler
            idle_ms = []
            for _ in range(idle):
                idle_ms += _latencies_ms(local, dict([_post(local)]))
            started = time.monotonic()
            with ThreadPoolExecutor(max_workers=clients) as pool:
                sent = dict(pool.map(lambda _: _post(local), range(burst)))
            post_seconds = time.monotonic() - started
            burst_ms = _latencies_ms(local, sent)
            drain_seconds = time.monotonic() - started
            time.sleep(1)  # anything delivered twice would show up by now
            deliveries = Counter(e["notification_id"] for e in local.outbox() if e["notification_id"] in sent)
            started = time.monotonic()
            steady, steady_seconds = _sustain(local, sustain, clients, lambda: [_post(local)])
            steady_ms = _latencies_ms(local, steady, timeout=300)
            steady_drained = time.monotonic() - started
            started = time.monotonic()
            bulk, bulk_seconds = _sustain(local, sustain, clients, lambda: _post_bulk(local, bulk_size))
            bulk_ms = _latencies_ms(local, bulk, timeout=600)
            bulk_drained = time.monotonic() - started
            time.sleep(1)
            everything = {**steady, **bulk}
            outbox = local.outbox()
            counted = Counter(e["notification_id"] for e in outbox if e["notification_id"] in everything)
        except Exception:
            print(local.log()[-5000:])
            raise
        finally:
            local.stop()
    return {
        "p50_ms": round(statistics.median(steady_ms), 1),
        "p95_ms": round(_percentile(steady_ms, 0.95), 1),
        "events_per_s": round(len(steady) / steady_seconds, 1),
        "delivered_events_per_s": round(len(steady) / steady_drained, 1),
        "sustained_seconds": round(steady_seconds, 1),
        "sustained_events": len(steady),
        "bulk_size": bulk_size,
        "bulk_events_per_s": round(len(bulk) / bulk_seconds, 1),
        "bulk_delivered_events_per_s": round(len(bulk) / bulk_drained, 1),
        "bulk_p50_ms": round(statistics.median(bulk_ms), 1),
        "bulk_p95_ms": round(_percentile(bulk_ms, 0.95), 1),
        "sustained_lost": len(everything) - len(counted),
        "sustained_duplicates": sum(count - 1 for count in counted.values()),
        "idle_p50_ms": round(statistics.median(idle_ms), 1),
        "idle_p95_ms": round(_percentile(idle_ms, 0.95), 1),
        "burst_events": burst,
        "burst_post_events_per_s": round(burst / post_seconds, 1),
        "burst_p50_ms": round(statistics.median(burst_ms), 1),
        "burst_p95_ms": round(_percentile(burst_ms, 0.95), 1),
        "burst_max_ms": round(max(burst_ms), 1),
        "burst_all_delivered_seconds": round(drain_seconds, 2),
        "burst_lost": len(sent) - len(deliveries),
        "burst_duplicates": sum(count - 1 for count in deliveries.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--idle", type=int, default=20)
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--sustain", type=float, default=60, help="seconds of each sustained phase")
    parser.add_argument("--bulk-size", type=int, default=25, help="events per POST /events/bulk")
    parser.add_argument(
        "--emulator", choices=["moto", "ministack"], default="moto", help="the local stack's emulator"
    )
    args = parser.parse_args()
    figures = measure(
        args.idle, args.burst, args.clients, args.sustain, args.bulk_size, emulator=args.emulator
    )
    # moto's figures are local_e2e (the default emulator's, with budgets); MiniStack's local_e2e_ministack.
    key = "local_e2e" if args.emulator == "moto" else f"local_e2e_{args.emulator}"
    width = max(map(len, figures))
    for name, value in figures.items():
        print(f"{key}.{name:<{width}}  {value}")
    record({key: figures})


if __name__ == "__main__":
    main()
