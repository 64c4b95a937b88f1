"""What the local stack's logs say about real-looking recipients: no address, phone number or push token
in the clear, and every consumer line about a notification names the API request it came from."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

from devstack.process import LocalStackProcess
from tests.e2e.conftest import stack_on, wait_for

EMAIL = "maria.garcia@example.com"
PHONE = "+447700900123"
FCM_TOKEN = (
    "eM2xR7kQTa-9b3LhQ1vY0Z:APA91bHqL8nXwz3YV6cJpT0sK5uD2fR9gE1hB7mN4aQ8vW3xZ6yC0iO5pL2kJ9tU"
    "1rS4eD7fG0hA3jK6lZ9xC2vB5nM8qW1eR4tY7uI0oP3aS6dF9gH2jK5lZ8xC1vB4nM7qW0eR3tY6uI9oP2a"
)
APNS_TOKEN = "9f2c4e6a8b0d1f3e5a7c9b1d3f5e7a9c2b4d6f8e0a1c3e5b7d9f2a4c6e8b0d1f3e"
BOUNCING = "bounce@simulator.sandbox"  # the sandbox answers it as a vendor rejects an address
UNREACHABLE = "+15005550001"  # and this number
CLEAR = [EMAIL, PHONE, FCM_TOKEN, APNS_TOKEN, BOUNCING, UNREACHABLE]
CONSUMERS = ("EmailFunction", "SmsFunction", "PushFunction")


@pytest.fixture(scope="module")
def run(tmp_path_factory, shared_emulator) -> dict[str, Any]:
    """One recipient with every kind of address, events on every channel, and deliveries the vendor
    rejects; then the stack is stopped and its whole log read."""
    local = stack_on(shared_emulator, tmp_path_factory.mktemp("logs"))
    try:
        recipient = {
            "contacts": {
                "email": EMAIL,
                "phone": PHONE,
                "push_tokens": [
                    {"token": FCM_TOKEN, "platform": "android"},
                    {"token": APNS_TOKEN, "platform": "ios"},
                ],
            }
        }
        status, _ = local.request("PUT", "/recipients/pii-check", recipient)
        assert status == 201
        requests = {}  # notification or event id -> the API request id that published it
        for event_type in ("MENTION", "MESSAGE"):  # push + email, push + sms
            body = {
                "user_id": "pii-check",
                "event_type": event_type,
                "payload": {
                    "parent_id": "post_1",
                    "parent_type": "post",
                    "timestamp": "2026-11-21T10:00:00Z",
                },
            }
            answer, request_id = _post(local, "/event", body)
            requests[answer["event_id"]] = request_id
        for kind, address in (("email", BOUNCING), ("sms", UNREACHABLE)):
            body = {"recipientId": "pii-inline", "type": kind, "messageBody": "hi", "to": address}
            answer, request_id = _post(local, "/api/v1/notifications/publish", body)
            requests[answer["notificationId"]] = request_id

        def settled() -> dict[str, Any] | None:
            found = {i: local.request("GET", f"/event/{i}")[1] for i in requests}
            done = all(
                channel["status"] in ("SENT", "DELIVERED", "BOUNCED", "FAILED")
                for status in found.values()
                for channel in status["channels"].values()
            )
            return found if done else None

        statuses = wait_for(settled, timeout=30)
    finally:
        local.stop()
    lines = [line for line in local.log().splitlines() if line.startswith("{")]
    return {
        "log": local.log(),
        "records": [json.loads(line) for line in lines],
        "requests": requests,
        "statuses": statuses,
    }


def _post(local: LocalStackProcess, path: str, body: dict[str, Any]) -> tuple[dict[str, Any], str]:
    request = urllib.request.Request(  # noqa: S310 - loopback
        local.url + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "x-api-key": local.api_key},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - loopback
        assert answer.status == 202
        return json.loads(answer.read()), answer.headers["x-amzn-RequestId"]


def test_the_log_holds_no_address_phone_number_or_push_token_in_the_clear(run):
    for value in CLEAR:
        assert value not in run["log"], value
    # They were there to leak: the rejected deliveries' vendor answers were logged, masked.
    masked_lines = [r for r in run["records"] if "***" in json.dumps(r)]
    assert masked_lines


def test_the_statuses_hold_the_vendors_reasons_masked(run):
    failed = [
        channel["last_error"]
        for status in run["statuses"].values()
        for channel in status["channels"].values()
        if channel["status"] == "FAILED"
    ]
    assert len(failed) == 2
    for reason in failed:
        assert reason
        assert not any(value in reason for value in CLEAR), reason
        assert "***" in reason


def test_every_consumer_line_about_a_notification_carries_its_correlation_id(run):
    about: dict[str, list[dict[str, Any]]] = {}
    for record in run["records"]:
        ids = {record.get("notification_id"), record.get("event_id")} & set(run["requests"])
        if record.get("channel") and ids:  # a consumer's line about one of our notifications
            [notification] = ids
            about.setdefault(notification, []).append(record)
    assert set(about) == set(run["requests"])  # every notification was logged by its consumers
    for notification, records in about.items():
        for record in records:
            assert record.get("correlation_id") == run["requests"][notification], record
