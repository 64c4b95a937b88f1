"""POST-to-WebSocket-frame latency of the in-app channel in the local stack: at idle, and to a recipient
with 100 open connections.

- Idle: one client holds a WebSocket open for a recipient (a real `websockets` client, with an inbox
  token from the API); `--idle` times, one after another, it POSTs a critical in-app notification to
  `/api/v1/notifications/publish` and waits for its `notification` frame. Latency: from just before
  the POST to the frame read (one clock, this process): `p50_ms`, `p95_ms`.
- Fan-out: `--connections` WebSockets are open for one recipient (the tabs and devices of one user,
  at the far end); one notification is posted, and the time is taken until every connection has read
  its frame: `fanout_ms` (median of `--fanouts` runs) and `fanout_max_ms`. `fanout_missing` counts
  connections that never got it (0 expected).

Everything in the path is the stack's own: API, SNS, SQS, the event source's poll, the in-app
consumer storing the item and posting through boto3 to the local @connections endpoint, and the
WebSocket server. Prints a table and writes `inbox_ws` into bench/results.json.

    python -m bench.inbox_latency [--idle 30] [--connections 100] [--fanouts 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

from bench.report import record
from devstack.process import LocalStackProcess

FRAME_TIMEOUT_SECONDS = 10.0


def _token(local: LocalStackProcess, recipient: str) -> str:
    status, body = local.request("POST", f"/recipients/{recipient}/inbox/token")
    if status != 201:
        raise RuntimeError(f"the token route answered {status}: {body}")
    return str(body["token"])


def _post(local: LocalStackProcess, recipient: str, n: int) -> str:
    body = {"recipientId": recipient, "type": "inapp", "priority": "critical", "messageBody": f"bench {n}"}
    status, answer = local.request("POST", "/api/v1/notifications/publish", body)
    if status != 202:
        raise RuntimeError(f"POST /api/v1/notifications/publish answered {status}: {answer}")
    return str(answer["notificationId"])


def _frame_of(socket: ClientConnection, notification_id: str, deadline: float) -> bool:
    """Read until the notification frame of `notification_id`; False if it did not come in time."""
    while (left := deadline - time.monotonic()) > 0:
        try:
            frame = json.loads(socket.recv(timeout=left))
        except TimeoutError:
            return False
        if frame.get("type") == "notification" and frame["item"]["id"] == notification_id:
            return True
    return False


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure(local: LocalStackProcess, idle: int, connections: int, fanouts: int) -> dict[str, Any]:
    url = local.ws_url
    if url is None:
        raise RuntimeError("the local stack serves no WebSocket API")
    latencies: list[float] = []
    with connect(f"{url}?token={_token(local, 'bench-idle')}", open_timeout=10) as socket:
        _post(local, "bench-idle", -1)  # warm the path (cold starts are bench.cold_start's)
        time.sleep(1.0)
        for n in range(idle):
            started = time.monotonic()
            sent = _post(local, "bench-idle", n)
            if not _frame_of(socket, sent, started + FRAME_TIMEOUT_SECONDS):
                raise RuntimeError(f"no frame for notification {n} within {FRAME_TIMEOUT_SECONDS} s")
            latencies.append((time.monotonic() - started) * 1000)
            time.sleep(0.2)  # idle: nothing else in flight

    runs: list[float] = []
    missing = 0
    with ExitStack() as opened:
        token = _token(local, "bench-crowd")
        sockets = [
            opened.enter_context(connect(f"{url}?token={token}", open_timeout=10)) for _ in range(connections)
        ]
        _post(local, "bench-crowd", -1)  # warm, and drain
        time.sleep(1.0)
        for socket in sockets:
            _drain(socket)
        for n in range(fanouts):
            started = time.monotonic()
            sent = _post(local, "bench-crowd", n)
            deadline = started + FRAME_TIMEOUT_SECONDS
            missing += sum(not _frame_of(socket, sent, deadline) for socket in sockets)
            runs.append((time.monotonic() - started) * 1000)
            time.sleep(0.5)
            for socket in sockets:
                _drain(socket)
    return {
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(_percentile(latencies, 0.95), 1),
        "samples": len(latencies),
        "fanout_connections": connections,
        "fanout_ms": round(statistics.median(runs), 1),
        "fanout_max_ms": round(max(runs), 1),
        "fanout_missing": missing,
    }


def _drain(socket: ClientConnection) -> None:
    """Read whatever frames are waiting (counts after a notification, say)."""
    while True:
        try:
            socket.recv(timeout=0.01)
        except TimeoutError:
            return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--idle", type=int, default=30, help="notifications timed one at a time")
    parser.add_argument("--connections", type=int, default=100, help="open WebSockets of one recipient")
    parser.add_argument("--fanouts", type=int, default=3, help="notifications to that recipient")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        local = LocalStackProcess(Path(directory) / "local.log").start()
        try:
            figures = measure(local, args.idle, args.connections, args.fanouts)
        finally:
            local.stop()
    print(f"{'in-app, POST to WebSocket frame':34} p50 {figures['p50_ms']} ms, p95 {figures['p95_ms']} ms")
    print(
        f"{'to ' + str(args.connections) + ' open connections':34} median {figures['fanout_ms']} ms, "
        f"max {figures['fanout_max_ms']} ms, missing {figures['fanout_missing']}"
    )
    record({"inbox_ws": figures})


if __name__ == "__main__":
    main()
