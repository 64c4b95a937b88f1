"""POST-to-outbox latency and throughput of the local stack: at idle, under a burst, and sustained.

Each event is a critical LIKE for the demo recipient `alice`: a push delivery (to the sandbox's
outbox) and an in-app one (to the inbox). Latency is the time from just before the client sends the
POST to the sandbox's `sent_at` for the push (one clock: the same machine). For each count of
`--clients` (4 and 16), the sustained phases keep that many clients posting back to back for
`--sustain` seconds, first one event per POST /event (`p50_ms`, `p95_ms`, `events_per_s`: accepted
events per second over the window; `delivered_events_per_s`: the same events over the time until the
last was delivered; `cpu_ms_per_event`: the CPU each of the stack's processes took, by role, per
event: `bench.processes`), then `--bulk-size` events per POST /events/bulk (`bulk_*`). The first
count's figures have plain names, the others end in `_c<clients>`. Prints a table and merges
`local_e2e` (`local_e2e_<emulator>` for another than the default) into bench/results.json.

    python -m bench.local_latency [--idle 20] [--burst 200] [--clients 4,16] [--sustain 30]
        [--bulk-size 25] [--emulator ministack|moto]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.processes import cpu_by_role
from bench.report import record
from devstack.process import LocalStackProcess
from devstack.stack import DEFAULT_EMULATOR, EMULATORS

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


class _RefusedError(RuntimeError):
    """The stack did not accept a POST (a 502 when the publish function ran past its timeout)."""


def _post(local: LocalStackProcess) -> tuple[str, float]:
    started = time.time()
    status, body = local.request("POST", "/event", EVENT)
    if status != 202:
        raise _RefusedError(f"POST /event answered {status}: {body}")
    return body["event_id"], started


def _post_bulk(local: LocalStackProcess, size: int) -> list[tuple[str, float]]:
    started = time.time()
    status, body = local.request("POST", "/events/bulk", {"events": [EVENT] * size})
    if status != 202:
        raise _RefusedError(f"POST /events/bulk answered {status}: {body}")
    return [(result["event_id"], started) for result in body["results"]]


def _sustain(
    local: LocalStackProcess, seconds: float, clients: int, post: Callable[[], list[tuple[str, float]]]
) -> tuple[dict[str, float], float, int]:
    """Every client posting back to back until `seconds` have passed: (event id -> POST time) of the
    accepted events, the window's length, and the POSTs refused (an overloaded stack's 502s)."""
    started = time.monotonic()
    deadline = started + seconds
    refused: list[str] = []

    def client() -> list[tuple[str, float]]:
        sent = []
        while time.monotonic() < deadline:
            try:
                sent += post()
            except _RefusedError as exc:
                refused.append(str(exc))
        return sent

    with ThreadPoolExecutor(max_workers=clients) as pool:
        sent = dict(pair for pairs in pool.map(lambda _: client(), range(clients)) for pair in pairs)
    return sent, time.monotonic() - started, len(refused)


class _Deliveries:
    """The sandbox's outbox as it grows: when each notification was first sent, and how often (read a
    page at a time: `GET /_local/outbox?start=N`)."""

    def __init__(self, local: LocalStackProcess) -> None:
        self.local = local
        self.read = 0
        self.sent_at: dict[str, float] = {}
        self.counted: Counter[str] = Counter()

    def poll(self) -> None:
        new = self.local.outbox(self.read)
        self.read += len(new)
        for entry in new:
            self.counted[entry["notification_id"]] += 1
            self.sent_at.setdefault(
                entry["notification_id"], datetime.fromisoformat(entry["sent_at"]).timestamp()
            )

    def latencies_ms(self, sent: dict[str, float], timeout: float = 120) -> list[float]:
        """POST-to-sent of every event of `sent` (id -> POST time), once all are delivered."""
        deadline = time.monotonic() + timeout
        while True:
            self.poll()
            missing = [i for i in sent if i not in self.sent_at]
            if not missing:
                return [(self.sent_at[i] - sent[i]) * 1000 for i in sent]
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(missing)} of {len(sent)} events not delivered within {timeout} s")
            time.sleep(0.25)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _cpu_ms_per_event(before: dict[str, float], after: dict[str, float], events: int) -> dict[str, float]:
    """CPU milliseconds per event of each role (`bench.processes`), and their total."""
    taken = {role: after[role] - before.get(role, 0.0) for role in after}
    figures = {role: round(1000 * seconds / events, 2) for role, seconds in sorted(taken.items()) if seconds}
    figures["total"] = round(1000 * sum(taken.values()) / events, 2)
    return figures


def measure(
    idle: int,
    burst: int,
    clients: Sequence[int],
    sustain: float,
    bulk_size: int,
    *,
    emulator: str | None = None,
) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        local = LocalStackProcess(Path(folder) / "local.log", emulator=emulator).start()
        delivered = _Deliveries(local)
        root = local.process.pid if local.process is not None else os.getpid()
        try:
            delivered.latencies_ms(dict([_post(local)]))  # warm: first import of each handler
            idle_ms = []
            for _ in range(idle):
                idle_ms += delivered.latencies_ms(dict([_post(local)]))
            started = time.monotonic()
            with ThreadPoolExecutor(max_workers=clients[0]) as pool:
                sent = dict(pool.map(lambda _: _post(local), range(burst)))
            post_seconds = time.monotonic() - started
            burst_ms = delivered.latencies_ms(sent)
            drain_seconds = time.monotonic() - started
            time.sleep(1)  # anything delivered twice would show up by now
            delivered.poll()
            everything: dict[str, float] = {}
            for count in clients:
                suffix = "" if count == clients[0] else f"_c{count}"
                cpu_before = cpu_by_role(root)
                started = time.monotonic()
                steady, steady_seconds, refused = _sustain(local, sustain, count, lambda: [_post(local)])
                steady_ms = delivered.latencies_ms(steady, timeout=300)
                steady_drained = time.monotonic() - started
                cpu = _cpu_ms_per_event(cpu_before, cpu_by_role(root), len(steady))
                started = time.monotonic()
                bulk, bulk_seconds, bulk_refused = _sustain(
                    local, sustain, count, lambda: _post_bulk(local, bulk_size)
                )
                bulk_ms = delivered.latencies_ms(bulk, timeout=600)
                bulk_drained = time.monotonic() - started
                everything |= steady | bulk
                figures |= {
                    f"p50_ms{suffix}": round(statistics.median(steady_ms), 1),
                    f"p95_ms{suffix}": round(_percentile(steady_ms, 0.95), 1),
                    f"events_per_s{suffix}": round(len(steady) / steady_seconds, 1),
                    f"delivered_events_per_s{suffix}": round(len(steady) / steady_drained, 1),
                    f"sustained_events{suffix}": len(steady),
                    f"refused_posts{suffix}": refused,
                    f"bulk_events_per_s{suffix}": round(len(bulk) / bulk_seconds, 1),
                    f"bulk_delivered_events_per_s{suffix}": round(len(bulk) / bulk_drained, 1),
                    f"bulk_p50_ms{suffix}": round(statistics.median(bulk_ms), 1),
                    f"bulk_p95_ms{suffix}": round(_percentile(bulk_ms, 0.95), 1),
                    f"bulk_refused_posts{suffix}": bulk_refused,
                    f"cpu_ms_per_event{suffix}": cpu,
                }
            time.sleep(1)
            delivered.poll()
        except Exception:
            print(local.log()[-5000:])
            raise
        finally:
            local.stop()
    deliveries = {i: delivered.counted[i] for i in sent}
    counted = {i: delivered.counted[i] for i in everything if delivered.counted[i]}
    return {
        "clients": list(clients),
        "sustained_seconds": sustain,
        "bulk_size": bulk_size,
        **figures,
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
        "burst_lost": sum(1 for count in deliveries.values() if not count),
        "burst_duplicates": sum(count - 1 for count in deliveries.values() if count),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--idle", type=int, default=20)
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument(
        "--clients",
        type=lambda text: [int(count) for count in text.split(",")],
        default=[4, 16],
        help="clients posting at once in the sustained phases, comma-separated (default 4,16)",
    )
    parser.add_argument("--sustain", type=float, default=30, help="seconds of each sustained phase")
    parser.add_argument("--bulk-size", type=int, default=25, help="events per POST /events/bulk")
    parser.add_argument(
        "--emulator", choices=EMULATORS, default=DEFAULT_EMULATOR, help="the local stack's emulator"
    )
    args = parser.parse_args()
    figures = measure(
        args.idle, args.burst, args.clients, args.sustain, args.bulk_size, emulator=args.emulator
    )
    # The default emulator's figures are local_e2e (with budgets); another's local_e2e_<emulator>.
    key = "local_e2e" if args.emulator == DEFAULT_EMULATOR else f"local_e2e_{args.emulator}"
    width = max(map(len, figures))
    for name, value in figures.items():
        print(f"{key}.{name:<{width}}  {value}")
    record({key: figures})


if __name__ == "__main__":
    main()
