"""Load test of the notifier's REST API with Locust: what a client mix gets in requests/s and latency.

Each simulated user, with 0.1 to 1 s between requests, mostly POSTs events, and also publishes
single messages, sends bulk requests and reads back the status of what it published:

| weight | request | body |
|---|---|---|
| 10 | POST /event | a social event (mostly LIKE: one push) for a demo recipient |
| 3 | POST /api/v1/notifications/publish | one message on e-mail, SMS or push |
| 1 | POST /events/bulk | NOTIFIER_BULK_SIZE events (default 10) |
| 3 | GET /event/{id} | the status of one of this user's earlier notifications |

Every POST carries a fresh `Idempotency-Key` (as a careful client does), every request `x-api-key`.
A POST counts as a failure unless answered 202 (a bulk answered 207 has failed events), a GET
unless 200. The recipients are the local stack's demo recipients (devstack/seed_recipients.json); on
a deployed stack, PUT them first or set NOTIFIER_RECIPIENTS.

Environment: NOTIFIER_URL (default http://127.0.0.1:3000, the local stack; a deployed stack's ApiUrl
output, with its stage), NOTIFIER_API_KEY (default local-development-key), NOTIFIER_RECIPIENTS
(comma-separated, default user-123,user_12345,alice), NOTIFIER_BULK_SIZE (1 to 100, default 10).

    .tools/locust/bin/locust -f bench/locustfile.py --headless -u 10 -r 5 -t 60s --csv /tmp/locust
    .tools/locust/bin/locust -f bench/locustfile.py     # the web UI on http://localhost:8089

(Locust runs from its own venv, .tools/locust, made from the load group of uv.lock.)
"""

# Locust is not installed in the dev venv that type-checks this file: its names are then Any.
# mypy: disallow-subclassing-any=False, disallow-untyped-decorators=False

from __future__ import annotations

import os
import random
import uuid
from collections import deque
from datetime import UTC, datetime
from typing import Any

from locust import HttpUser, between, task  # type: ignore[import-not-found, unused-ignore]

URL = os.environ.get("NOTIFIER_URL", "http://127.0.0.1:3000").rstrip("/")
API_KEY = os.environ.get("NOTIFIER_API_KEY", "local-development-key")
RECIPIENTS = [
    r.strip()
    for r in os.environ.get("NOTIFIER_RECIPIENTS", "user-123,user_12345,alice").split(",")
    if r.strip()
]
BULK_SIZE = max(1, min(100, int(os.environ.get("NOTIFIER_BULK_SIZE", "10"))))

# Event types by weight: mostly LIKE (push and the in-app inbox), as a social app's traffic is; the
# others fan out to e-mail and SMS too (layers/common/notifier/api/routing_rules.json).
EVENT_TYPES = ["LIKE"] * 6 + ["COMMENT", "SHARE", "FOLLOW", "MENTION", "MESSAGE", "POST"]
CHANNELS = ["push", "push", "email", "sms", "inapp"]


def _event() -> dict[str, Any]:
    return {
        "user_id": random.choice(RECIPIENTS),  # noqa: S311 - a load mix, not a secret
        "event_type": random.choice(EVENT_TYPES),  # noqa: S311
        "payload": {
            "parent_id": f"post_{random.randint(1, 100_000)}",  # noqa: S311
            "parent_type": "post",
            "timestamp": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "actor_name": "Locust",
        },
    }


class NotifierUser(HttpUser):
    host = URL
    wait_time = between(0.1, 1.0)

    def on_start(self) -> None:
        self.client.headers.update({"x-api-key": API_KEY, "Content-Type": "application/json"})
        self.published: deque[str] = deque(maxlen=100)

    def _post(self, path: str, body: dict[str, Any], id_field: str | None) -> None:
        headers = {"Idempotency-Key": str(uuid.uuid4())}
        with self.client.post(path, json=body, headers=headers, name=path, catch_response=True) as answer:
            if answer.status_code != 202:
                answer.failure(f"{answer.status_code}: {answer.text[:200]}")
                return
            document = answer.json()
            if id_field:
                self.published.append(document[id_field])
            else:  # bulk
                self.published.extend(r["event_id"] for r in document["results"] if "event_id" in r)

    @task(10)
    def post_event(self) -> None:
        self._post("/event", _event(), "event_id")

    @task(3)
    def publish_notification(self) -> None:
        channel = random.choice(CHANNELS)  # noqa: S311
        body: dict[str, Any] = {
            "recipientId": random.choice(RECIPIENTS),  # noqa: S311
            "type": channel,
            "messageBody": "Your order has shipped",
        }
        if channel == "email":
            body["subject"] = "Order update"
        elif channel == "inapp":
            body["title"] = "Order update"
            body["data"] = {"order_id": str(random.randint(1, 100_000))}  # noqa: S311
        self._post("/api/v1/notifications/publish", body, "notificationId")

    @task(1)
    def post_bulk(self) -> None:
        self._post("/events/bulk", {"events": [_event() for _ in range(BULK_SIZE)]}, None)

    @task(3)
    def get_status(self) -> None:
        if not self.published:
            return
        event_id = random.choice(self.published)  # noqa: S311
        with self.client.get(f"/event/{event_id}", name="/event/{id}", catch_response=True) as answer:
            if answer.status_code != 200:
                answer.failure(f"{answer.status_code}: {answer.text[:200]}")
