"""The local stack's fault injection (`--chaos`) and how `make chaos` reads its traces."""

from __future__ import annotations

from collections import Counter

import pytest

from devstack.chaos import notification, unheard_sends
from devstack.faults import Faults
from devstack.faulty_provider import FaultyProvider, SimulatedCrashError
from devstack.template import TemplateError, profile_overrides
from notifier.models.channels import Channel, Priority
from notifier.models.envelope import SmsMessage
from notifier.models.requests import PublishRequest
from notifier.providers import Delivery, Outbox, SandboxProvider


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
    with pytest.raises(TemplateError, match="there are: default, fast, localstack"):
        profile_overrides("no-such-profile")
