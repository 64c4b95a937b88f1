"""The local stack's provider outages (`--chaos outage=...`): how they are written, the wrapper that
takes a provider down for its windows, and how the local stack puts it behind the channel's failover;
and the local stack's sandbox standing in for SES and End User Messaging."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from devstack import injection
from devstack.faults import Faults, Outage
from devstack.faulty_provider import FaultyProvider
from devstack.outage import OUTAGE_BACK, OUTAGE_DOWN, OutageProvider
from devstack.stack import (
    _name_what_the_sandbox_plays,
    sandbox_providers,
)
from devstack.template import Stack, load_template
from notifier import runtime, vendors
from notifier.errors import ProviderUnavailableError
from notifier.models.channels import Channel, Priority
from notifier.models.envelope import EmailMessage, SmsMessage
from notifier.providers import Delivery, Outbox, Provider, SandboxProvider
from notifier.providers.base import SentMessage
from notifier.providers.failover import FailoverProvider

# ---------------------------------------------------------------------------------------- parsing


def test_an_outage_is_read_from_the_command_line_form():
    assert Faults.parse("outage=sendgrid@20-50").outages == (Outage("sendgrid", 20, 50),)
    assert Faults.parse("outage=sendgrid@20-50+twilio@25.5-40").outages == (
        Outage("sendgrid", 20, 50),
        Outage("twilio", 25.5, 40),
    )


def test_outages_may_be_given_again_and_mixed_with_the_other_faults():
    faults = Faults.parse("crash=0.1,outage=sendgrid@0-10,seed=3,outage=eum@5-6+fcm@1-2")

    assert faults.outages == (Outage("sendgrid", 0, 10), Outage("eum", 5, 6), Outage("fcm", 1, 2))
    assert (faults.crash_rate, faults.seed) == (0.1, 3)
    assert faults.crashes
    assert not Faults.parse("outage=ses@1-2").crashes
    assert Faults.parse("crash=0.1").outages == ()


@pytest.mark.parametrize(
    "text",
    [
        "outage=",
        "outage=sendgrid",
        "outage=sendgrid@20",
        "outage=sendgrid:20-50",
        "outage=sendgrid@50-20",
        "outage=sendgrid@20-20",
        "outage=sendgrid@-5-20",
        "outage=mailgun@20-50",
        "outage=sendgrid@20-50+",
        "outage=sendgrid@20-50;twilio@20-50",
    ],
)
def test_a_bad_outage_is_refused_with_the_reason(text):
    with pytest.raises(ValueError, match="--chaos"):
        Faults.parse(text)


def test_a_window_covers_its_start_and_not_its_end():
    outage = Outage("twilio", 20, 50)

    assert [outage.covers(t) for t in (19.99, 20, 49.99, 50)] == [False, True, True, False]
    assert str(outage) == "twilio@20-50"
    assert str(Outage("twilio", 0.5, 2)) == "twilio@0.5-2"


# ---------------------------------------------------------------------------------------- the wrapper


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def parts() -> tuple[Outbox, Clock, list[str]]:
    return Outbox(), Clock(), []


def email(i: int) -> Delivery:
    return Delivery(f"n-{i}", f"user-{i}@example.com", EmailMessage(subject="s", text="b"), Priority.STANDARD)


def down_for(
    windows: list[Outage], outbox: Outbox, clock: Clock, log: list[str], plays: str = "sendgrid"
) -> OutageProvider:
    sandbox = SandboxProvider(Channel.EMAIL, outbox, plays=plays)
    return OutageProvider(sandbox, windows, started=100.0, clock=clock, log=log.append)


def test_outside_its_windows_the_provider_is_the_sandbox_that_plays_it():
    outbox, clock, log = parts()
    provider = down_for([Outage("sendgrid", 20, 50)], outbox, clock, log)
    clock.now = 100 + 19

    results = provider.send_batch([email(i) for i in range(3)])

    assert provider.name == "sandbox-sendgrid"
    assert all(isinstance(r, SentMessage) and r.provider == "sandbox-sendgrid" for r in results)
    assert [e.provider for e in outbox] == ["sandbox-sendgrid"] * 3
    assert log == []


def test_during_a_window_every_send_fails_as_an_unreachable_provider_and_nothing_is_sent():
    outbox, clock, log = parts()
    provider = down_for([Outage("sendgrid", 20, 50)], outbox, clock, log)
    clock.now = 100 + 20
    heard: dict[int, object] = {}

    results = provider.send_batch([email(i) for i in range(4)], heard.__setitem__)

    assert len(outbox) == 0
    assert sorted(heard) == [0, 1, 2, 3]
    for result in results:
        assert isinstance(result, ProviderUnavailableError)
        assert result.maybe_sent is False
        assert "injected outage sendgrid@20-50" in str(result)
    assert len({id(r) for r in results}) == 4  # each message its own result
    assert provider.refused == 4
    with pytest.raises(ProviderUnavailableError):
        provider.send(email(9))
    assert provider.refused == 5


def test_after_its_window_the_provider_sends_again():
    outbox, clock, log = parts()
    provider = down_for([Outage("sendgrid", 20, 50), Outage("sendgrid", 70, 80)], outbox, clock, log)

    sent = []
    for elapsed in (10, 30, 50, 75, 80):
        clock.now = 100 + elapsed
        sent.append(isinstance(provider.send_batch([email(elapsed)])[0], str))

    assert sent == [True, False, True, False, True]
    assert [e.notification_id for e in outbox] == ["n-10", "n-50", "n-80"]


def test_each_window_start_and_end_is_logged_once():
    outbox, clock, log = parts()
    provider = down_for([Outage("sendgrid", 20, 50)], outbox, clock, log)

    for elapsed in (5, 20, 21, 30, 49, 50, 60, 70):
        clock.now = 100 + elapsed
        provider.send_batch([email(1)])
        provider.note()

    assert len(log) == 2
    down, back = log
    assert down.startswith(OUTAGE_DOWN.split("{at}")[0].format(provider="sendgrid", start=20, end=50))
    assert back.startswith(OUTAGE_BACK.split("{at}")[0].format(provider="sendgrid", start=20, end=50))
    assert down == "[chaos] outage: sendgrid down (20-50 s) at " + down.rsplit(" at ", 1)[1]


def test_a_window_passed_unseen_is_logged_when_it_is_noticed_start_first():
    outbox, clock, log = parts()
    provider = down_for([Outage("sendgrid", 1, 2)], outbox, clock, log)
    clock.now = 100 + 5

    provider.note()

    assert [line.split(" (")[0] for line in log] == [
        "[chaos] outage: sendgrid down",
        "[chaos] outage: sendgrid back",
    ]


def test_the_watcher_logs_the_windows_as_they_come_and_stops_at_close():
    log: list[str] = []
    provider = OutageProvider(
        SandboxProvider(Channel.SMS, Outbox(), plays="twilio"),
        [Outage("twilio", 0, 0.05)],
        started=0.0,
        clock=lambda: 1.0,  # both moments already past: logged at once
        log=log.append,
    )
    provider.watch()
    assert provider.windows._watcher is not None
    provider.windows._watcher.join(timeout=5)

    assert len(log) == 2
    provider.close()
    provider.close()  # once is enough: the failover around it closes it, and so does the stack


def test_behind_a_failover_the_outage_hands_every_message_to_the_fallback_in_the_same_attempt():
    outbox, clock, log = parts()
    primary = down_for([Outage("sendgrid", 0, 60)], outbox, clock, log)
    fallback = SandboxProvider(Channel.EMAIL, outbox, plays="ses")
    failover = FailoverProvider(primary, fallback)
    clock.now = 100 + 10

    results = failover.send_batch([email(i) for i in range(5)])

    assert [r.provider for r in results if isinstance(r, SentMessage)] == ["sandbox-ses"] * 5
    assert [e.provider for e in outbox] == ["sandbox-ses"] * 5  # each once, by the fallback


# ---------------------------------------------------------------------------------------- the local stack


def test_the_local_stack_has_the_sandbox_play_ses_and_eum_when_a_channel_names_them():
    assert sandbox_providers(["sendgrid,ses", ""]) == "ses,eum"
    assert sandbox_providers(["", "eum"]) == "ses,eum"
    assert sandbox_providers(["sendgrid", "twilio"]) == ""
    assert sandbox_providers([]) == ""


def test_the_configuration_sets_of_what_the_sandbox_plays_resolve_though_never_created():
    stack = Stack(
        load_template(),
        name="notifier",
        region="us-east-1",
        account_id="123456789012",
        overrides={"EmailProviders": "sendgrid,ses", "SmsProviders": "twilio,eum"},
    )

    _name_what_the_sandbox_plays(stack)

    assert stack.resolve({"Ref": "SesConfigurationSet"}) == "notifier-email"
    assert stack.resolve({"Ref": "SmsConfigurationSet"}) == "notifier-sms"


@pytest.fixture
def with_fallbacks(monkeypatch) -> Iterator[list[Provider]]:
    """A consumer's environment whose e-mail and SMS have a fallback; the providers the injection
    built, closed at the end."""
    for name, value in {
        "EMAIL_PROVIDERS": "sendgrid,ses",
        "SMS_PROVIDERS": "twilio,eum",
        "SANDBOX_PROVIDERS": "ses,eum",
        "INBOX_TABLE": "notifier-tests-inbox",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("SENDGRID_CREDENTIALS", "TWILIO_CREDENTIALS", "BREAKERS_TABLE", "PUBLIC_API_URL"):
        monkeypatch.delenv(name, raising=False)
    runtime.reset()
    built: list[Provider] = []
    yield built
    for provider in built:
        provider.close()
    runtime.reset()


def test_the_local_stack_puts_the_outage_around_the_sandbox_that_plays_the_primary(with_fallbacks):
    faults = Faults.parse("outage=sendgrid@0-60+eum@0-60")

    channels = injection.named_sandboxes(faults, None, with_fallbacks, started=time.time())

    assert channels == {Channel.EMAIL, Channel.SMS}
    email_channel = vendors.provider(Channel.EMAIL)
    assert isinstance(email_channel, FailoverProvider)
    assert isinstance(email_channel.primary, OutageProvider)
    assert email_channel.primary.name == "sandbox-sendgrid"
    assert email_channel.fallback.name == "sandbox-ses"
    assert not isinstance(email_channel.fallback, OutageProvider)
    sms_channel = vendors.provider(Channel.SMS)
    assert isinstance(sms_channel, FailoverProvider)
    assert isinstance(sms_channel.fallback, OutageProvider)
    assert sms_channel.fallback.name == "sandbox-eum"

    [result] = email_channel.send_batch([email(1)])
    assert isinstance(result, SentMessage)
    assert result.provider == "sandbox-ses"
    sms = Delivery("n-s", "+14155550100", SmsMessage(text="hi"), Priority.STANDARD)
    [result] = sms_channel.send_batch([sms])
    assert isinstance(result, SentMessage)
    assert result.provider == "sandbox-twilio"


@pytest.mark.parametrize(
    ("chaos", "environment", "reason"),
    [
        ("outage=fcm@0-1", {}, None),
        ("outage=ses@0-1", {"EMAIL_PROVIDERS": "sendgrid"}, "not one of its channel's providers"),
        ("outage=sendgrid@0-1", {"SENDGRID_CREDENTIALS": "notifier/sendgrid"}, "has credentials"),
    ],
)
def test_an_outage_of_a_provider_the_stack_does_not_play_is_refused(
    with_fallbacks, monkeypatch, chaos, environment, reason
):
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    runtime.reset()
    faults = Faults.parse(chaos)
    if reason is None:
        assert injection.named_sandboxes(faults, None, with_fallbacks, started=time.time()) == {Channel.PUSH}
        return
    with pytest.raises(injection.InjectionError, match=reason):
        injection.named_sandboxes(faults, None, with_fallbacks, started=time.time())
    with pytest.raises(injection.InjectionError, match=reason):  # the stack checks before it starts
        injection.check(faults)


def test_receipt_faults_keep_a_channels_fallback_and_reach_each_of_its_sandboxes(with_fallbacks, monkeypatch):
    monkeypatch.setenv("PUBLIC_API_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("SANDBOX_RECEIPTS_SECRET", "local-receipts-secret")
    runtime.reset()
    faults = Faults.parse("receipt_duplicate=0.5,outage=twilio@0-60,seed=1")

    with_fallbacks += injection.into_providers(faults, started=time.time(), timeout_seconds=3)

    for channel, primary, fallback in (
        (Channel.EMAIL, "sandbox-sendgrid", "sandbox-ses"),
        (Channel.SMS, "sandbox-twilio", "sandbox-eum"),
    ):
        faulty = vendors.provider(channel)
        assert isinstance(faulty, FaultyProvider)
        failover = faulty.inner
        assert isinstance(failover, FailoverProvider)
        assert (failover.primary.name, failover.fallback.name) == (primary, fallback)
        for sandbox in (failover.primary, failover.fallback):
            inner = sandbox.inner if isinstance(sandbox, OutageProvider) else sandbox
            assert isinstance(inner, SandboxProvider)
            assert inner.receipts is not None
            assert inner.receipts.faults is not None
            assert inner.receipts.faults.duplicate_rate == 0.5
    assert isinstance(vendors.provider(Channel.SMS).inner.primary, OutageProvider)  # type: ignore[attr-defined]


def test_outages_alone_leave_the_channels_providers_unwrapped(with_fallbacks):
    faults = Faults.parse("outage=sendgrid@0-60")
    with_fallbacks += injection.into_providers(faults, started=time.time(), timeout_seconds=3)

    assert isinstance(vendors.provider(Channel.EMAIL), FailoverProvider)
    assert isinstance(vendors.provider(Channel.EMAIL).primary, OutageProvider)  # type: ignore[attr-defined]
