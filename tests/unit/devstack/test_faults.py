"""The local stack's fault injection (`--chaos`: the consumers' crashes and timeouts, the due
function's flush crashes) and how `make chaos` reads their traces."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from devstack import injection
from devstack.chaos import flush_crashes, notification, unheard_sends
from devstack.faults import Faults
from devstack.faulty_digests import (
    FLUSH_CRASH_TRACE,
    FaultyDigestStore,
    SimulatedFlushCrashError,
    inject_flush_crashes,
)
from devstack.faulty_provider import FaultyProvider, SimulatedCrashError
from devstack.template import TemplateError, profile_overrides
from notifier import runtime, vendors
from notifier.models.channels import Channel, Priority
from notifier.models.envelope import Envelope, SmsMessage
from notifier.models.requests import PublishRequest
from notifier.providers import Delivery, Outbox, SandboxProvider
from notifier.scheduling.digests import Digests
from notifier.stores.digests import DigestStore, Window, WindowState, digest_id, digest_key


def test_faults_are_read_from_the_command_line_form():
    assert Faults.parse("crash=0.05,timeout=0.02,seed=7") == Faults(0.05, 0.02, 7)
    assert Faults.parse("timeout=0.5") == Faults(0.0, 0.5, None)


@pytest.mark.parametrize("text", ["crash", "boom=0.1", "crash=lots", "crash=0.7,timeout=0.7", "crash=-1"])
def test_a_bad_fault_description_is_refused_with_the_reason(text):
    with pytest.raises(ValueError, match="--chaos"):
        Faults.parse(text)


def sms(i: int) -> Delivery:
    return Delivery(f"n-{i}", f"+1415555{i:04d}", SmsMessage(text="hi"), Priority.STANDARD)


def test_a_crash_records_the_sends_before_it_and_names_the_one_it_cut_off(capsys):
    outbox = Outbox()
    faulty = FaultyProvider(
        SandboxProvider(Channel.SMS, outbox), Faults(crash_rate=1, seed=3), timeout_seconds=0
    )
    heard: list[int] = []

    with pytest.raises(SimulatedCrashError) as crash:
        faulty.send_batch([sms(i) for i in range(10)], lambda index, result: heard.append(index))

    sent = [e.notification_id for e in outbox]
    cut_off = sent[-1]
    assert sorted(heard) == list(range(len(sent) - 1))  # every send but the last was reported
    assert f"after {len(sent)} of 10 sends" in str(crash.value)
    assert unheard_sends(capsys.readouterr().err) == Counter({(cut_off, "sms"): 1})


def test_without_faults_the_batch_is_the_inner_providers():
    outbox = Outbox()
    faulty = FaultyProvider(SandboxProvider(Channel.SMS, outbox), Faults(), timeout_seconds=0)

    results = faulty.send_batch([sms(i) for i in range(5)])

    assert len(outbox) == 5
    assert all(isinstance(r, str) for r in results)


def test_traces_interleaved_with_other_output_are_still_found():
    log = (
        '{"level":"INFO"}[chaos] injected timeout: push abc-1 sent, not recorded\n'
        "[chaos] injected crash: email def-2 sent, not recorded"
        "[chaos] injected crash: email def-2 sent, not recorded\n"
    )

    assert unheard_sends(log) == Counter({("abc-1", "push"): 1, ("def-2", "email"): 2})


def test_chaos_notifications_cover_every_channel_and_priority_with_inline_addresses_but_inapp():
    drawn = [notification(i) for i in range(16)]

    assert {(n["type"], n["priority"]) for n in drawn} == {
        (c, p) for c in ("email", "sms", "push", "inapp") for p in ("critical", "standard")
    }
    assert all(n["to"] for n in drawn if n["type"] != "inapp")
    assert not [n for n in drawn if n["type"] == "inapp" and "to" in n]  # the API refuses one


def test_every_chaos_notification_is_a_valid_publish_request():
    for index in range(120):
        PublishRequest.model_validate(notification(index))


def test_the_fast_profile_bounds_the_time_to_the_dead_letter_queue():
    fast = profile_overrides("fast")
    attempts = int(fast["MaxReceiveCount"]) - 1
    worst = attempts * (int(fast["RetryMaxSeconds"]) + int(fast["ConsumerTimeoutSeconds"]))
    worst += int(fast["ConsumerTimeoutSeconds"])

    assert worst <= 60
    assert int(fast["QueueVisibilityTimeoutSeconds"]) >= int(fast["ConsumerTimeoutSeconds"])


def test_an_unknown_profile_names_the_ones_there_are():
    with pytest.raises(TemplateError, match="there are: default, emulator, fast"):
        profile_overrides("no-such-profile")


# ---------------------------------------------------------------------------------------- flush_crash


def test_flush_crashes_are_read_from_the_command_line_form():
    assert Faults.parse("flush_crash=0.15,seed=24") == Faults(seed=24, flush_crash_rate=0.15)
    assert Faults.parse("crash=0.5,timeout=0.5,flush_crash=1").flush_crash_rate == 1.0  # its own budget
    assert Faults.parse("crash=0.1").flush_crash_rate == 0.0


@pytest.mark.parametrize("text", ["flush_crash", "flush_crash=2", "flush_crash=-0.1", "flush_crash=often"])
def test_a_bad_flush_crash_rate_is_refused(text):
    with pytest.raises(ValueError, match="--chaos"):
        Faults.parse(text)


class RecordingDynamoDB:
    """Answers a flush's claim with `window` (frozen for this caller) and records every update."""

    def __init__(self, window: dict[str, Any]) -> None:
        self.window = window
        self.updates: list[str] = []

    def update_item(self, **request: Any) -> dict[str, Any]:
        self.updates.append(request["UpdateExpression"])
        if "lease_until = :lease" in request["UpdateExpression"]:  # the claim
            return {"Attributes": {**self.window, "state": {"S": "FLUSHING"}}}
        return {}


def window_item(count: int) -> dict[str, Any]:
    about = {
        "recipient_id": "ana",
        "event_type": "LIKE",
        "priority": "standard",
        "channels": ["push", "inapp"],
        "correlation_id": "c-1",
        "payload": {"parent_id": "post_1"},
    }
    return {
        "pk": {"S": digest_key(["ana", "LIKE", "post_1"])},
        "sk": {"S": "W#w-1"},
        "state": {"S": "OPEN"},
        "closes_at": {"N": f"{(datetime.now(UTC) - timedelta(seconds=1)).timestamp():.3f}"},
        "event_count": {"N": str(count)},
        "event_ids": {"L": [{"S": f"e-{i}"} for i in range(count)]},
        "actors": {"L": [{"S": f"Fan {i}"} for i in range(count)]},
        "about": {"S": json.dumps(about)},
    }


class RecordingPublisher:
    def __init__(self) -> None:
        self.published: list[Envelope] = []

    def publish_envelope(self, envelope: Envelope) -> None:
        self.published.append(envelope)


def flushing(count: int, rate: float) -> tuple[Digests, RecordingDynamoDB, RecordingPublisher]:
    dynamodb = RecordingDynamoDB(window_item(count))
    publisher = RecordingPublisher()
    digests = Digests(
        DigestStore("digests", dynamodb),  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]  # a flush records no status itself
        lambda: publisher,  # type: ignore[arg-type, return-value]
        sqs=lambda: None,  # type: ignore[arg-type, return-value]
        due_queue_url="due",
        max_events=8,
    )
    inject_flush_crashes(digests, Faults(flush_crash_rate=rate, seed=1))
    return digests, dynamodb, publisher


def test_a_flush_crash_comes_after_the_digest_is_published_and_before_its_window_is_sent(capsys):
    digests, dynamodb, publisher = flushing(3, rate=1)
    key = digest_key(["ana", "LIKE", "post_1"])

    with pytest.raises(SimulatedFlushCrashError):
        digests.flush(key, "w-1", datetime.now(UTC))

    [digest] = publisher.published
    assert digest.notification_id == digest_id(key, "w-1")
    assert len(dynamodb.updates) == 1  # the claim, and no `finish`: the window stays FLUSHING
    assert FLUSH_CRASH_TRACE.format(digest_id=digest.notification_id) in capsys.readouterr().err
    assert isinstance(digests.store, FaultyDigestStore)
    assert digests.store.crashes == 1


def test_a_flush_without_a_crash_and_a_window_with_nothing_to_send_finish_as_ever():
    digests, dynamodb, publisher = flushing(3, rate=0)
    assert digests.flush(digest_key(["ana", "LIKE", "post_1"]), "w-1", datetime.now(UTC)) == "sent"
    assert len(publisher.published) == 1
    assert len(dynamodb.updates) == 2

    empty, dynamodb, publisher = flushing(0, rate=1)  # only SENT is ever cut off
    assert empty.flush(digest_key(["ana", "LIKE", "post_1"]), "w-1", datetime.now(UTC)) == "empty"
    assert (publisher.published, len(dynamodb.updates)) == ([], 2)


def test_flush_crashes_are_drawn_from_the_seed_in_the_order_flushes_finish():
    def drawn(seed: int) -> list[bool]:
        inner = DigestStore("digests", RecordingDynamoDB({}))  # type: ignore[arg-type]
        store = FaultyDigestStore(inner, Faults(seed=seed, flush_crash_rate=0.3))
        crashed = []
        for _ in range(20):
            try:
                store.finish(Window.of(window_item(1)), WindowState.SENT)
            except SimulatedFlushCrashError:
                crashed.append(True)
            else:
                crashed.append(False)
        return crashed

    assert drawn(5) == drawn(5)
    assert any(drawn(5))
    assert not all(drawn(5))


@pytest.fixture
def fresh_runtime() -> Iterator[None]:
    runtime.reset()
    yield
    runtime.reset()


def test_the_local_stack_injects_flush_crashes_into_the_due_functions_digests_only(fresh_runtime):
    injection.into_digests(Faults(flush_crash_rate=0.5))

    assert isinstance(runtime.due_digests().store, FaultyDigestStore)
    assert runtime.due_digests().store.table == "notifier-tests-digests"
    assert not isinstance(runtime.digests().store, FaultyDigestStore)  # the publish function's


def test_an_environment_applies_the_faults_to_its_own_channel_only(fresh_runtime):
    from notifier.delivery.handler import handler  # noqa: PLC0415 - validates the consumer settings

    faults = Faults.parse("crash=0.5,seed=3")

    built = injection.into_this_environment(faults, handler(Channel.SMS), started=0, timeout_seconds=3)
    try:
        [faulty] = built
        assert vendors.provider(Channel.SMS) is faulty
        assert isinstance(faulty, FaultyProvider)
        assert faulty.faults.seed == 3
        assert not isinstance(vendors.provider(Channel.EMAIL), FaultyProvider)
    finally:
        for provider in built:
            provider.close()


def test_a_consumer_applies_its_faults_without_the_due_functions_variables(fresh_runtime, monkeypatch):
    from notifier.delivery.handler import handler  # noqa: PLC0415 - validates the consumer settings

    monkeypatch.delenv("PENDING_TABLE", raising=False)  # as in the e-mail function's environment
    runtime.reset()
    faults = Faults.parse("crash=0.5,flush_crash=0.5,seed=1")

    [faulty] = injection.into_this_environment(faults, handler(Channel.EMAIL), started=0, timeout_seconds=3)

    assert isinstance(faulty, FaultyProvider)
    faulty.close()


def test_each_environment_draws_from_a_seed_of_its_own(fresh_runtime):
    from notifier.delivery.handler import handler  # noqa: PLC0415 - validates the consumer settings

    faults = Faults.parse("crash=0.5,seed=3")

    [second] = injection.into_this_environment(
        faults, handler(Channel.SMS), started=0, timeout_seconds=3, environment=2
    )

    assert isinstance(second, FaultyProvider)
    assert second.faults.seed == 5
    second.close()


def test_the_due_functions_environment_gets_the_flush_crashes_and_a_consumers_does_not(fresh_runtime):
    from notifier.delivery.handler import handler  # noqa: PLC0415 - validates the consumer settings
    from notifier.scheduling.handler import lambda_handler as due  # noqa: PLC0415

    faults = Faults.parse("flush_crash=0.5")

    assert injection.into_this_environment(faults, handler(Channel.EMAIL), started=0, timeout_seconds=3) == []
    assert not isinstance(runtime.due_digests().store, FaultyDigestStore)
    injection.into_this_environment(faults, due, started=0, timeout_seconds=3)
    assert isinstance(runtime.due_digests().store, FaultyDigestStore)


def test_a_function_that_is_not_a_consumer_gets_no_provider_faults(fresh_runtime):
    def publish(event: dict[str, Any], context: object) -> dict[str, Any]:
        return {}

    faults = Faults.parse("crash=1")

    assert injection.into_this_environment(faults, publish, started=0, timeout_seconds=3) == []
    assert not isinstance(vendors.provider(Channel.EMAIL), FaultyProvider)


def test_the_chaos_harness_reads_the_flush_crash_trace_as_written():
    log = (
        "[local] something\n"
        + FLUSH_CRASH_TRACE.format(digest_id="d-1")
        + '{"level":"INFO"}'
        + FLUSH_CRASH_TRACE.format(digest_id="d-2")
        + "\n"
    )

    assert flush_crashes(log) == ["d-1", "d-2"]
