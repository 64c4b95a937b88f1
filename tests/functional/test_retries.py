"""Retries through SQS: backoff in the visibility timeout, one send per (notification, channel) across
redeliveries and concurrent copies, DEAD_LETTERED on the last receive, malformed records to the DLQ."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from devstack.lambda_events import record_of, sqs_event
from notifier import runtime, vendors
from notifier.errors import TransientDeliveryError
from notifier.models.channels import Channel
from notifier.platform.clients import sqs_client
from notifier.providers import Delivery, OnResult, Outbox, Result, SandboxProvider
from tests.factories import email_envelope
from tests.functional.conftest import receive_all

QUEUE = "EmailStandardQueue"
DLQ = "EmailStandardDLQ"
THROTTLED = "throttle@simulator.sandbox"  # the sandbox fails this address transiently, every time


def envelope_body(address: str = "someone@example.com", *, schema_version: int = 1) -> str:
    document = json.loads(email_envelope(address).model_dump_json())
    document["schema_version"] = schema_version
    return json.dumps(document)


def notification_id(body: str) -> str:
    return str(json.loads(body)["notification_id"])


def channel_status(body: str) -> Any:
    found = runtime.status_store().get(notification_id(body))
    assert found is not None
    return found.channels[Channel.EMAIL]


@pytest.fixture
def retry_settings(deployment, monkeypatch) -> Callable[..., None]:
    def apply(**variables: Any) -> None:
        for name, value in variables.items():
            monkeypatch.setenv(name, str(value))
        runtime.reset()  # settings and clients are read once per execution environment

    return apply


def send(deployment, *bodies: str, queue: str = QUEUE) -> None:
    url = deployment.queue_url(queue)
    for body in bodies:
        boto3.client("sqs").send_message(QueueUrl=url, MessageBody=body)


def visible(deployment, queue: str = QUEUE) -> int:
    return len(receive_all(deployment, queue))


def test_a_transient_failure_hides_the_record_for_its_backoff(deployment, consumers, retry_settings):
    retry_settings(RETRY_BASE_SECONDS=600, RETRY_MAX_SECONDS=600)
    send(deployment, envelope_body(THROTTLED))
    records = receive_all(deployment, QUEUE)
    # Make them visible again at once, as if the queue's own timeout were zero: only the backoff hides them.
    boto3.client("sqs").change_message_visibility(
        QueueUrl=deployment.queue_url(QUEUE), ReceiptHandle=records[0]["receiptHandle"], VisibilityTimeout=0
    )

    answer = consumers["email"](sqs_event(records))

    assert len(answer["batchItemFailures"]) == 1
    assert visible(deployment) == 0


def test_with_no_backoff_a_failed_record_is_handed_out_again_at_once(deployment, consumers, retry_settings):
    retry_settings(RETRY_BASE_SECONDS=0, RETRY_MAX_SECONDS=0)
    send(deployment, envelope_body(THROTTLED))

    consumers["email"](sqs_event(receive_all(deployment, QUEUE)))

    assert visible(deployment) == 1


def test_the_backoff_grows_with_the_receive_count_and_is_capped(deployment, consumers, retry_settings):
    retry_settings(RETRY_BASE_SECONDS=10, RETRY_MAX_SECONDS=45)
    seen: list[int] = []
    sqs_client().meta.events.register(
        "provide-client-params.sqs.ChangeMessageVisibilityBatch",
        lambda params, **_: seen.extend(e["VisibilityTimeout"] for e in params["Entries"]),
    )
    arn = deployment.stack.attrs[(QUEUE, "Arn")]
    ceilings = {1: 10, 2: 20, 3: 40, 4: 45, 5: 45}

    for count, ceiling in ceilings.items():
        seen.clear()
        for _ in range(20):
            record = record_of(envelope_body(THROTTLED), queue_arn=arn, receive_count=count)
            consumers["email"](sqs_event([record]))
        assert len(seen) == 20
        assert max(seen) <= ceiling, count
        assert max(seen) > ceiling / 2, count  # 20 uniform draws: all below half has odds of 1 in a million


class SlowRetryAfter(SandboxProvider):
    name = "slow-vendor"

    def send(self, delivery: Delivery) -> str:
        raise TransientDeliveryError("429: slow down", retry_after_seconds=120)


def test_a_vendors_retry_after_sets_the_backoff(deployment, consumers, retry_settings):
    retry_settings(RETRY_BASE_SECONDS=1, RETRY_MAX_SECONDS=600)
    vendors.use_provider(Channel.EMAIL, SlowRetryAfter(Channel.EMAIL, Outbox()))
    seen: list[int] = []
    sqs_client().meta.events.register(
        "provide-client-params.sqs.ChangeMessageVisibilityBatch",
        lambda params, **_: seen.extend(e["VisibilityTimeout"] for e in params["Entries"]),
    )
    record = record_of(envelope_body(), queue_arn=deployment.stack.attrs[(QUEUE, "Arn")])

    consumers["email"](sqs_event([record]))

    assert seen == [120]


def test_the_last_receive_marks_dead_lettered_keeps_the_last_error_and_sends_nothing(
    deployment, consumers, retry_settings
):
    retry_settings(MAX_RECEIVE_COUNT=3, RETRY_BASE_SECONDS=0, RETRY_MAX_SECONDS=0)
    arn = deployment.stack.attrs[(QUEUE, "Arn")]
    body = envelope_body(THROTTLED)
    for count in (1, 2):
        consumers["email"](sqs_event([record_of(body, queue_arn=arn, receive_count=count)]))
    assert channel_status(body).status == "QUEUED"

    answer = consumers["email"](sqs_event([record_of(body, queue_arn=arn, receive_count=3)]))

    assert len(answer["batchItemFailures"]) == 1  # failing it now moves it to the DLQ
    status = channel_status(body)
    assert (status.status, status.attempts) == ("DEAD_LETTERED", 2)
    assert "temporarily unavailable" in status.last_error
    assert len(runtime.outbox()) == 0


def test_a_notification_that_never_finished_an_attempt_is_dead_lettered_with_that_reason(
    deployment, consumers, retry_settings
):
    retry_settings(MAX_RECEIVE_COUNT=4)
    body = envelope_body()

    consumers["email"](
        sqs_event([record_of(body, queue_arn=deployment.stack.attrs[(QUEUE, "Arn")], receive_count=4)])
    )

    status = channel_status(body)
    assert status.status == "DEAD_LETTERED"
    assert "no delivery attempt finished in 3 receives" in status.last_error


def test_a_record_that_keeps_failing_reaches_the_dlq_marked_dead_lettered_and_the_rest_are_sent_once(
    deployment, consumers, retry_settings
):
    retry_settings(RETRY_BASE_SECONDS=0, RETRY_MAX_SECONDS=0)  # MaxReceiveCount: the template's 6
    failing = envelope_body(THROTTLED)
    good = [envelope_body(f"user{i}@example.com") for i in range(3)]
    send(deployment, failing, *good)

    for _ in range(10):  # SQS moves the record on the receive after its sixth
        records = receive_all(deployment, QUEUE)
        if not records:
            break
        consumers["email"](sqs_event(records))

    [dead] = receive_all(deployment, DLQ)
    assert dead["body"] == failing
    assert channel_status(failing).status == "DEAD_LETTERED"
    assert channel_status(failing).attempts == 5
    assert sorted(e.notification_id for e in runtime.outbox()) == sorted(notification_id(b) for b in good)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("not json at all", id="not-json"),
        pytest.param('{"schema_version": 1, "notification_id": "x"}', id="missing-fields"),
        pytest.param(envelope_body(schema_version=2), id="unknown-schema-version"),
    ],
)
def test_a_malformed_record_fails_alone_with_its_reason_logged_and_reaches_the_dlq(
    deployment, consumers, retry_settings, caplog, body
):
    retry_settings(RETRY_BASE_SECONDS=600, RETRY_MAX_SECONDS=600)  # MaxReceiveCount: the template's 6
    good = envelope_body()
    send(deployment, body, good)

    first = consumers["email"](sqs_event(receive_all(deployment, QUEUE)))
    for _ in range(10):  # a malformed record is not backed off: it comes straight back until the DLQ
        records = receive_all(deployment, QUEUE)
        if not records:
            break
        consumers["email"](sqs_event(records))

    assert len(first["batchItemFailures"]) == 1
    assert [e.notification_id for e in runtime.outbox()] == [notification_id(good)]
    assert [r["body"] for r in receive_all(deployment, DLQ)] == [body]
    [reason, *_] = [
        str(r.exc_info[1])
        for r in caplog.records
        if r.exc_info and "Record processing exception" in r.message
    ]
    assert "for NotificationRecord\nbody" in reason  # pydantic names the field and what is wrong


class Gate(SandboxProvider):
    """The sandbox, but each send waits until the test opens the gate."""

    name = "gated"

    def __init__(self, outbox: Outbox) -> None:
        super().__init__(Channel.EMAIL, outbox)
        self.entered = threading.Event()
        self.opened = threading.Event()

    def send(self, delivery: Delivery) -> str:
        self.entered.set()
        assert self.opened.wait(10)
        return super().send(delivery)


def test_a_second_copy_while_the_first_is_sending_waits_for_the_lease_instead_of_sending(
    deployment, consumers, retry_settings
):
    retry_settings(RETRY_BASE_SECONDS=0, RETRY_MAX_SECONDS=600)
    gate = Gate(runtime.outbox())
    vendors.use_provider(Channel.EMAIL, gate)
    seen: list[int] = []
    sqs_client().meta.events.register(
        "provide-client-params.sqs.ChangeMessageVisibilityBatch",
        lambda params, **_: seen.extend(e["VisibilityTimeout"] for e in params["Entries"]),
    )
    arn = deployment.stack.attrs[(QUEUE, "Arn")]
    body = envelope_body()
    first = threading.Thread(target=consumers["email"], args=(sqs_event([record_of(body, queue_arn=arn)]),))
    first.start()
    assert gate.entered.wait(10)

    copy_answer = consumers["email"](sqs_event([record_of(body, queue_arn=arn)]))
    gate.opened.set()
    first.join(10)
    late_answer = consumers["email"](sqs_event([record_of(body, queue_arn=arn)]))

    assert len(copy_answer["batchItemFailures"]) == 1  # retried once the lease is over...
    assert 15 <= seen[0] <= 22  # ...which is the first invocation's remaining time (20 s) + 1 s
    assert late_answer == {"batchItemFailures": []}  # ...and then it finds the send recorded
    assert [e.notification_id for e in runtime.outbox()] == [notification_id(body)]
    assert channel_status(body).status == "SENT"


class CrashAfterFirst(SandboxProvider):
    """Sends the first message of a batch, then the execution environment 'dies'."""

    name = "crashing"

    def _send_many(self, deliveries: Sequence[Delivery], on_result: OnResult) -> list[Result]:
        on_result(0, self._result_of(deliveries[0]))
        raise RuntimeError("simulated crash of the execution environment")


def test_sends_recorded_before_a_crash_are_not_sent_again_on_redelivery(
    deployment, consumers, retry_settings
):
    retry_settings(RETRY_BASE_SECONDS=0, RETRY_MAX_SECONDS=0)
    vendors.use_provider(Channel.EMAIL, CrashAfterFirst(Channel.EMAIL, runtime.outbox()))
    arn = deployment.stack.attrs[(QUEUE, "Arn")]
    bodies = [envelope_body(f"user{i}@example.com") for i in range(2)]
    batch = sqs_event([record_of(b, queue_arn=arn) for b in bodies])
    with pytest.raises(RuntimeError, match="simulated crash"):
        consumers["email"](batch)
    vendors.use_provider(Channel.EMAIL, SandboxProvider(Channel.EMAIL, runtime.outbox()))

    again = sqs_event([record_of(b, queue_arn=arn, receive_count=2) for b in bodies])
    with pytest.MonkeyPatch.context() as patch:
        # The crashed attempt's lease would expire with its invocation; here, at once.
        patch.setattr("notifier.stores.status._now", lambda: datetime.now(UTC).replace(year=2100))
        answer = consumers["email"](again)

    assert answer == {"batchItemFailures": []}
    sent = sorted(e.notification_id for e in runtime.outbox())
    assert sent == sorted(notification_id(b) for b in bodies)  # each once: the first was not sent again
