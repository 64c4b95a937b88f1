"""The sandbox's injected latency and failures, the settings that choose a provider, and lazy SDKs."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from devstack.template import REPO_ROOT
from notifier.errors import ConfigurationError, PermanentDeliveryError, TransientDeliveryError
from notifier.models.channels import Channel, Priority
from notifier.models.envelope import SmsMessage
from notifier.platform.settings import ConsumerSettings, settings_from
from notifier.providers import Delivery, Outbox, Provider, SandboxOptions, SandboxProvider

BASE = {"STATUS_TABLE": "status"}


def sms(address: str = "+14155550100") -> Delivery:
    return Delivery("n-1", address, SmsMessage(text="hi"), Priority.STANDARD)


def outcomes(options: SandboxOptions, count: int = 200) -> list[str]:
    sandbox = SandboxProvider(Channel.SMS, Outbox(), options)
    return [
        type(r).__name__ if not isinstance(r, str) else "sent" for r in sandbox.send_batch([sms()] * count)
    ]


def test_sandbox_failure_rates_are_drawn_from_a_seed_so_a_run_repeats():
    options = SandboxOptions(transient_failure_rate=0.2, permanent_failure_rate=0.1, seed=7)

    first, second = outcomes(options), outcomes(options)

    assert first == second
    assert 20 <= first.count("TransientDeliveryError") <= 60
    assert 5 <= first.count("PermanentDeliveryError") <= 35
    assert first.count("sent") == 200 - first.count("TransientDeliveryError") - first.count(
        "PermanentDeliveryError"
    )


def test_without_failure_rates_every_sandbox_send_is_delivered_to_the_outbox():
    outbox = Outbox()
    SandboxProvider(Channel.SMS, outbox).send_batch([sms()] * 5)

    assert len(outbox) == 5


def test_sandbox_latency_holds_each_send_like_a_vendor_call():
    sandbox = SandboxProvider(Channel.SMS, Outbox(), SandboxOptions(latency_ms=50))

    started = time.perf_counter()
    sandbox.send(sms())

    assert time.perf_counter() - started >= 0.05


class Rendezvous(Provider):
    """Returns only once `parties` sends are in flight at the same time (or fails after 5 s)."""

    name = "rendezvous"

    def __init__(self, parties: int) -> None:
        super().__init__(Channel.SMS, max_concurrency=parties)
        self.barrier = threading.Barrier(parties, timeout=5)

    def send(self, delivery: Delivery) -> str:
        self.barrier.wait()
        return "ok"


def test_a_batch_sends_its_messages_at_the_same_time_up_to_the_concurrency():
    assert Rendezvous(10).send_batch([sms()] * 10) == ["ok"] * 10


def test_a_provider_reports_each_failure_in_place_without_failing_the_others():
    sandbox = SandboxProvider(Channel.SMS, Outbox())

    results = sandbox.send_batch([sms(), sms("+15005550001"), sms("+15005550429")])

    assert isinstance(results[0], str)
    assert isinstance(results[1], PermanentDeliveryError)
    assert isinstance(results[2], TransientDeliveryError)


def test_a_blank_setting_is_unset_as_a_template_passes_an_empty_parameter():
    settings = settings_from(
        {**BASE, "SENDGRID_CREDENTIALS": "", "SANDBOX_SEED": "", "TWILIO_REGION": ""}, ConsumerSettings
    )

    assert settings.sendgrid_credentials is None
    assert settings.sandbox_seed is None
    assert settings.twilio_region is None


def test_ssm_credential_names_must_be_paths():
    with pytest.raises(ConfigurationError, match="FCM_CREDENTIALS: an SSM parameter name starts with /"):
        settings_from(
            {**BASE, "CREDENTIALS_STORE": "ssm", "FCM_CREDENTIALS": "notifier/fcm"}, ConsumerSettings
        )


def test_failure_rates_above_one_together_are_refused():
    with pytest.raises(ConfigurationError, match="must not exceed 1"):
        settings_from(
            {**BASE, "SANDBOX_TRANSIENT_FAILURE_RATE": "0.7", "SANDBOX_PERMANENT_FAILURE_RATE": "0.5"},
            ConsumerSettings,
        )


def test_a_bad_twilio_region_names_the_variable():
    with pytest.raises(ConfigurationError, match="TWILIO_REGION"):
        settings_from({**BASE, "TWILIO_REGION": "Ireland"}, ConsumerSettings)


@pytest.mark.parametrize(
    ("function", "sdk"), [("email", "sendgrid"), ("sms", "twilio"), ("push", "firebase_admin")]
)
def test_a_consumer_loads_its_own_vendor_sdk_only_when_it_builds_the_provider(function, sdk):
    """In a fresh interpreter (no network: the provider is built from a document, not a secret)."""
    script = f"""
import sys
from functions.{function} import app
from notifier.models.channels import Channel
from notifier.providers.factory import vendor_provider
from notifier.platform.settings import ConsumerSettings, settings_from
vendors = {{"sendgrid", "twilio", "firebase_admin"}}
before = sorted(vendors & set(sys.modules))
documents = {{
    "email": {{"api_key": "SG.x"}},
    "sms": {{"account_sid": "AC" + "0" * 32, "auth_token": "t"}},
    "push": None,
}}
env = {{"STATUS_TABLE": "s", "EMAIL_FROM": "a@example.com", "TWILIO_FROM": "+14155550100",
        "SENDGRID_CREDENTIALS": "x", "TWILIO_CREDENTIALS": "x", "FCM_CREDENTIALS": "x"}}
document = documents["{function}"]
if document is None:
    import notifier.providers.fcm_push
else:
    vendor_provider(Channel("{function}"), settings_from(env, ConsumerSettings), document)
print(before, sorted(vendors & set(sys.modules)))
"""
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        env={
            "PYTHONPATH": f"{REPO_ROOT / 'layers/common'}:{REPO_ROOT}",
            "AWS_DEFAULT_REGION": "us-east-1",
            "STATUS_TABLE": "s",
        },
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == f"[] ['{sdk}']"


class Broken(Provider):
    name = "broken"

    def send(self, delivery: Delivery) -> str:
        if delivery.address.endswith("1"):
            raise RuntimeError("an SDK error nobody classified")
        return "ok"


def test_an_unexpected_sdk_error_fails_that_message_for_a_retry_and_not_the_batch():
    results = Broken(Channel.SMS).send_batch([sms("+14155550101"), sms("+14155550102")])

    assert isinstance(results[0], TransientDeliveryError)
    assert "RuntimeError" in results[0].reason
    assert results[1] == "ok"


def test_twilio_without_a_sender_fails_at_start_naming_both_variables():
    from notifier.providers.factory import vendor_provider  # noqa: PLC0415 - loads the twilio SDK

    settings = settings_from({**BASE, "TWILIO_CREDENTIALS": "notifier/twilio"}, ConsumerSettings)
    document = {"account_sid": "AC" + "0" * 32, "auth_token": "token"}

    with pytest.raises(ConfigurationError, match="TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID"):
        vendor_provider(Channel.SMS, settings, document)


def test_credentials_missing_a_field_are_refused_naming_the_field_not_the_values():
    from notifier.providers.factory import vendor_provider  # noqa: PLC0415

    settings = settings_from(
        {**BASE, "TWILIO_CREDENTIALS": "notifier/twilio", "TWILIO_FROM": "+14155550100"}, ConsumerSettings
    )

    with pytest.raises(ConfigurationError, match=r"'notifier/twilio' are not usable: account_sid") as raised:
        vendor_provider(Channel.SMS, settings, {"account_sid": "not-a-sid", "auth_token": "s3cr3t"})
    assert "s3cr3t" not in str(raised.value)
    assert "not-a-sid" not in str(raised.value)
