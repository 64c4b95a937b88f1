"""The whole service in the local stack, called over HTTP as a user calls it."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from moto.server import ThreadedMotoServer

from devstack.emulator import MINISTACK
from devstack.lambda_events import load_event
from devstack.process import LocalStackProcess, free_port
from devstack.template import REPO_ROOT, Stack, load_template
from notifier.models.channels import Channel, Priority
from tests.e2e.conftest import emulator, messages_in_queues, stack_on, wait_for, wait_for_value

SEED_NOTIFICATION = json.loads(load_event("api_publish_notification.json")["body"])
SEED_EVENT = json.loads(load_event("api_publish_event.json")["body"])


@pytest.fixture(scope="module")
def local(tmp_path_factory, shared_emulator) -> Iterator[LocalStackProcess]:
    """The stack `make run` starts: one environment of each function warm before it says ready
    (conftest's stacks start each on its first invocation)."""
    stack = stack_on(shared_emulator, tmp_path_factory.mktemp("local"), warm_environments=None)
    yield stack
    stack.stop()


def delivered(local: LocalStackProcess, notification_id: str) -> list[dict[str, Any]]:
    return [e for e in local.outbox() if e["notification_id"] == notification_id]


def channel_statuses(local: LocalStackProcess, notification_id: str) -> dict[str, str]:
    status, body = local.request("GET", f"/event/{notification_id}")
    assert status == 200
    return {channel: s["status"] for channel, s in body["channels"].items()}


def test_both_seed_payloads_reach_the_outbox_and_end_sent(local):
    status_n, notification = local.request("POST", "/api/v1/notifications/publish", SEED_NOTIFICATION)
    status_e, event = local.request("POST", "/event", SEED_EVENT)

    assert (status_n, status_e) == (202, 202)
    notification_id, event_id = notification["notificationId"], event["event_id"]
    [email] = wait_for(lambda: delivered(local, notification_id), timeout=15)
    pushes = wait_for(lambda: delivered(local, event_id), timeout=15)
    assert (email["channel"], email["address"], email["content"]["text"]) == (
        "email",
        "user-123@example.com",
        "Order shipped",
    )
    # user_12345 has two devices; a LIKE goes to push, on both.
    assert sorted(p["address"] for p in pushes) == [
        "sandbox-token-user_12345-ios",
        "sandbox-token-user_12345-web",
    ]
    # The sandbox's signed receipt makes the e-mail DELIVERED; push has no vendor receipt, and the
    # LIKE's inbox item is SENT once stored.
    wait_for_value(lambda: channel_statuses(local, notification_id), {"email": "DELIVERED"})
    wait_for_value(lambda: channel_statuses(local, event_id), {"push": "SENT", "inapp": "SENT"})


@pytest.mark.parametrize("path", ["/event", "/api/v1/notifications/publish"])
@pytest.mark.parametrize("key", [None, "wrong-key"])
def test_without_the_api_key_the_answer_is_403(local, path, key):
    status, body = local.request("POST", path, SEED_EVENT, key=key)

    assert status == 403  # API Gateway's INVALID_API_KEY answer, in the API's error shape (template.yaml)
    assert body["error"] == "forbidden"
    assert body["fields"] == [{"field": "x-api-key", "reason": "missing, or not a key of this API"}]
    assert body["retryable"] is False


def test_a_route_the_template_does_not_declare_is_403_as_api_gateway_answers(local):
    assert local.request("GET", "/events")[0] == 403
    assert local.request("PATCH", "/event/some-id")[0] == 403


def test_bad_json_is_a_400_and_nothing_is_published(local):
    before = len(local.outbox())
    wait_for_value(lambda: messages_in_queues(local), 0)

    status, body = local.request("POST", "/event", raw=b'{"user_id": "user_12345", "event_type": ')

    assert status == 400
    assert body["error"] == "invalid_json"
    time.sleep(0.5)
    assert messages_in_queues(local) == 0
    assert len(local.outbox()) == before


def test_the_outbox_names_notification_channel_address_and_content(local):
    _, event = local.request("POST", "/event", {**SEED_EVENT, "user_id": "alice"})

    [entry] = wait_for(lambda: delivered(local, event["event_id"]))

    assert {"notification_id", "channel", "address", "content"} <= set(entry)
    assert entry["content"]["title"] == "New like"


@pytest.fixture(scope="module")
def fast_retries(tmp_path_factory, shared_emulator):
    stack = stack_on(
        shared_emulator, tmp_path_factory.mktemp("fast"), profile="fast", overrides=["MaxReceiveCount=3"]
    )
    yield stack
    stack.stop()


def test_a_record_failing_every_time_is_dead_lettered_after_max_receives_and_its_batch_delivered_once(
    fast_retries,
):
    local = fast_retries
    flaky = {"recipientId": "flaky-demo", "type": "email", "messageBody": "never arrives"}
    good = [{"recipientId": "alice", "type": "email", "messageBody": f"hello {i}"} for i in range(3)]

    answers = [local.request("POST", "/api/v1/notifications/publish", body) for body in [flaky, *good]]

    flaky_id, *good_ids = [body["notificationId"] for _, body in answers]
    sqs = emulator(local, "sqs")
    dlq = sqs.get_queue_url(QueueName=local.physical_name("EmailStandardDLQ"))["QueueUrl"]

    def dead_lettered():
        found = sqs.receive_message(QueueUrl=dlq, MessageSystemAttributeNames=["All"], VisibilityTimeout=0)
        return found.get("Messages")

    [message] = wait_for(dead_lettered, timeout=30)
    assert json.loads(message["Body"])["notification_id"] == flaky_id
    _, body = local.request("GET", f"/event/{flaky_id}")
    email = body["channels"]["email"]
    # Two delivery attempts; the third receive marked it and let it go to the DLQ.
    assert (email["status"], email["attempts"]) == ("DEAD_LETTERED", 2)
    assert "temporarily unavailable" in email["last_error"]
    deliveries = Counter(e["notification_id"] for e in local.outbox())
    assert {i: deliveries[i] for i in good_ids} == dict.fromkeys(good_ids, 1)
    assert deliveries[flaky_id] == 0


def test_a_redriven_notification_ends_sent_once(fast_retries):
    local = fast_retries
    recipient = {"contacts": {"email": "throttle@simulator.sandbox"}}  # the sandbox always throttles it
    local.request("PUT", "/recipients/redrive-demo", recipient)
    _, answer = local.request(
        "POST",
        "/api/v1/notifications/publish",
        {"recipientId": "redrive-demo", "type": "email", "messageBody": "x"},
    )
    notification_id = answer["notificationId"]

    def email_status():
        _, body = local.request("GET", f"/event/{notification_id}")
        return body["channels"]["email"]["status"]

    wait_for_value(email_status, "DEAD_LETTERED", timeout=40)
    # The cause is fixed: the recipient has a working address now. Then the operator redrives.
    local.request("PUT", "/recipients/redrive-demo", {"contacts": {"email": "redriven@example.com"}})
    redrive = subprocess.run(
        [
            sys.executable,
            "-m",
            "ops.redrive",
            "email-standard",
            "--endpoint",
            local.endpoint,
            "--stack",
            local.stack_name,
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert redrive.returncode == 0, redrive.stderr
    wait_for_value(email_status, "DELIVERED", timeout=30)
    deliveries = [e for e in local.outbox() if e["notification_id"] == notification_id]
    assert [e["address"] for e in deliveries] == ["redriven@example.com"]


def test_a_taken_port_is_a_clear_error_not_a_traceback():
    with __import__("socket").socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        run = subprocess.run(
            [sys.executable, "-m", "devstack", "--port", str(port), "--emulator-port", str(free_port())],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    assert run.returncode == 1
    assert f"127.0.0.1:{port} is already in use" in run.stderr
    assert "Traceback" not in run.stderr


def test_a_stop_signal_sent_again_and_again_still_stops_it(tmp_path):
    """Ctrl-C pressed twice, or `timeout` then `kill`: each signal lands while the last is handled."""
    local = LocalStackProcess(tmp_path / "local.log").start()
    assert local.process is not None
    try:
        for _ in range(20):
            local.process.send_signal(signal.SIGTERM)
            local.process.send_signal(signal.SIGINT)
        assert local.process.wait(timeout=20) == 0
    finally:
        local.stop()
    assert "stopping..." in local.log()


def test_the_readmes_curl_for_event_is_delivered_within_two_seconds(local):
    readme = (REPO_ROOT / "README.md").read_text()
    [command] = re.findall(r"curl -sS -X POST http://127\.0\.0\.1:3000/event \\\n(.*?)'\)", readme, re.DOTALL)
    headers = dict(re.findall(r'-H "([^:]+): ([^"]+)"', command))
    body = json.loads(command.split("-d '", 1)[1])
    assert headers == {"x-api-key": "local-development-key", "Content-Type": "application/json"}

    started = time.monotonic()
    status, answer = local.request("POST", "/event", body, key=headers["x-api-key"])

    assert status == 202
    wait_for(lambda: delivered(local, answer["event_id"]), timeout=2, every=0.02)
    assert time.monotonic() - started < 2


def test_an_emulator_that_is_already_running_is_used_instead_of_starting_one(tmp_path):
    emulator_server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    emulator_server.start()
    host, port = emulator_server.get_host_and_port()
    try:
        local = LocalStackProcess(
            tmp_path / "local.log", endpoint=f"http://{host}:{port}", warm_environments=0
        ).start()
        try:
            _, event = local.request("POST", "/event", SEED_EVENT)
            wait_for(lambda: delivered(local, event["event_id"]))
            queues = emulator(local, "sqs").list_queues()["QueueUrls"]
            # each channel x priority and its DLQ; the due queue, its DLQ, and the scheduler's DLQ; the
            # fallback providers' receipts and their DLQ
            assert len(queues) == 2 * len(Channel) * len(Priority) + 3 + 2
            assert f"emulator {local.endpoint}" in local.log()
        finally:
            local.stop()
    finally:
        emulator_server.stop()


@pytest.mark.skipif(not MINISTACK.exists(), reason=f"MiniStack is not installed at {MINISTACK}")
def test_with_ministack_as_its_emulator_the_local_stack_delivers_and_stops_it(tmp_path):
    local = LocalStackProcess(tmp_path / "local.log", emulator="ministack", warm_environments=0).start()
    try:
        _, event = local.request("POST", "/event", SEED_EVENT)
        wait_for(lambda: delivered(local, event["event_id"]))
        queues = emulator(local, "sqs").list_queues()["QueueUrls"]
        assert len(queues) == 2 * len(Channel) * len(Priority) + 3 + 2
        health = emulator(local, "sqs").meta.endpoint_url + "/_ministack/health"
    finally:
        local.stop()
    with pytest.raises(urllib.error.URLError, match="refused"):  # stopped with the local stack
        urllib.request.urlopen(health, timeout=2)  # noqa: S310 - loopback


def test_a_recipient_put_over_http_gets_events_in_their_language_and_not_on_channels_they_left(local):
    recipient = {
        "contacts": {
            "email": "ana@example.com",
            "push_tokens": [{"token": "sandbox-token-ana-android", "platform": "android"}],
        },
        "locale": "es-ES",
        "timezone": "Europe/Madrid",
        "preferences": {"opt_out": {"channels": ["email"]}},
    }
    assert local.request("PUT", "/recipients/ana", recipient)[0] == 201

    _, event = local.request("POST", "/event", {**SEED_EVENT, "user_id": "ana", "event_type": "COMMENT"})

    [push] = wait_for(lambda: delivered(local, event["event_id"]))
    assert push["address"] == "sandbox-token-ana-android"
    assert push["content"]["title"] == "Nuevo comentario"
    expected = {"push": "SENT", "email": "SUPPRESSED", "inapp": "SENT"}
    wait_for_value(lambda: channel_statuses(local, event["event_id"]), expected)
    assert local.request("DELETE", "/recipients/ana")[0] == 204
    assert local.request("GET", "/recipients/ana")[0] == 404


def test_two_stacks_of_other_names_share_one_emulator_and_each_sees_only_its_own(
    local, shared_emulator, tmp_path
):
    other = stack_on(shared_emulator, tmp_path)
    try:
        _, mine = local.request("POST", "/event", {**SEED_EVENT, "user_id": "alice"})
        _, theirs = other.request("POST", "/event", {**SEED_EVENT, "user_id": "alice"})

        wait_for(lambda: delivered(local, mine["event_id"]))
        wait_for(lambda: delivered(other, theirs["event_id"]))
        assert not delivered(local, theirs["event_id"])
        assert not delivered(other, mine["event_id"])
        assert other.request("GET", f"/event/{mine['event_id']}")[0] == 404
        assert local.request("GET", f"/event/{theirs['event_id']}")[0] == 404
    finally:
        other.stop()


def _cold_starts(log: str) -> list[str]:
    """The functions whose environments started, in the order the log says."""
    return re.findall(r"(\w+): cold start of environment \d+", log)


def test_make_run_has_each_function_warm_when_ready_and_a_lazy_stack_starts_only_what_it_uses(
    local, shared_emulator, tmp_path
):
    functions = set(Stack(load_template()).resources_of_type("AWS::Serverless::Function"))
    ready_at = local.log().index("local stack ready")
    assert sorted(_cold_starts(local.log()[:ready_at])) == sorted(functions)

    lazy = stack_on(shared_emulator, tmp_path, warm_environments=0)
    try:
        assert _cold_starts(lazy.log()) == []
        _, event = lazy.request("POST", "/event", {**SEED_EVENT, "user_id": "alice"})
        wait_for(lambda: delivered(lazy, event["event_id"]))
        started = set(_cold_starts(lazy.log()))
        assert {"PublishFunction"} < started < functions
        assert "SocketFunction" not in started  # nobody opened a WebSocket
    finally:
        lazy.stop()


def test_warm_environments_beyond_the_limit_is_a_clear_error():
    run = subprocess.run(
        [sys.executable, "-m", "devstack", "--max-environments", "2", "--warm-environments", "3"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO_ROOT,
        check=False,
    )

    assert run.returncode == 2
    assert "--max-environments 2 and --warm-environments 3" in run.stderr
    assert "Traceback" not in run.stderr
