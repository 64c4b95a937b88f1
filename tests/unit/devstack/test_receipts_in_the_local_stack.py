"""What the local stack does for the sandbox's receipts: the API's port bound before the template is
resolved, so that every function reads the URL it really serves as PublicApiUrl; the receipt faults of
`--chaos`; and how `make chaos` counts receipts."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from moto import mock_aws

from devstack.api import ApiServer
from devstack.chaos import RECEIPT_FAILURES, awaiting_receipts, notification, receipt_duplicates
from devstack.faults import Faults
from devstack.provision import provision
from devstack.stack import LocalConfig, LocalStack, StartupError
from devstack.template import Stack, load_template
from notifier.models.channels import Channel
from notifier.providers.sandbox import RECEIPT_BOUNCES, RECEIPT_COMPLAINT
from tests.unit.devstack.test_local_api import RecordingFunction, gateway


@pytest.fixture
def bound() -> Iterator[LocalStack]:
    """A local stack whose API socket is bound (port 0: any free one) and not yet served; this
    process's variables as they were, after."""
    environment = dict(os.environ)
    stack = LocalStack(LocalConfig(api_port=0))
    stack._api = ApiServer(None, "127.0.0.1", 0)
    yield stack
    stack._api.stop()
    if stack._scratch is not None:
        stack._scratch.cleanup()
    os.environ.clear()
    os.environ.update(environment)


def test_the_api_is_bound_before_it_has_a_gateway_and_serves_only_once_given_one():
    server = ApiServer(None, "127.0.0.1", 0)
    try:
        assert server.port > 0
        with pytest.raises(RuntimeError, match="attach"):
            server.start()
        server.attach(gateway(RecordingFunction()))
        server.start()
    finally:
        server.stop()


def test_an_api_never_started_stops_at_once():
    server = ApiServer(None, "127.0.0.1", 0)

    server.stop()

    assert server.httpd.socket.fileno() == -1


def test_a_port_in_use_is_refused_naming_the_option(bound):
    taken = bound._api.port if bound._api else 0

    with pytest.raises(StartupError, match="--port"):
        LocalStack(LocalConfig(api_port=taken)).start()


def test_public_api_url_is_the_port_the_api_got(bound):
    port = bound._api.port if bound._api else 0

    overrides = bound._overrides(load_template())

    assert overrides["PublicApiUrl"] == f"http://127.0.0.1:{port}"


def test_a_public_api_url_given_is_kept(bound):
    bound.config.overrides = {"PublicApiUrl": "https://notify.example.com", "SandboxSeed": "3"}

    overrides = bound._overrides(load_template())

    assert overrides == {"PublicApiUrl": "https://notify.example.com", "SandboxSeed": "3"}


def test_every_function_then_reads_one_public_url_so_the_stack_may_run_them_in_one_process(bound):
    template = load_template()
    with mock_aws():
        deployment = provision(Stack(template, overrides=bound._overrides(template)))

    bound._set_function_environment(deployment)

    urls = {spec.environment.get("PUBLIC_API_URL") for spec in deployment.functions.values()}
    assert urls - {None} == {bound.api_url}


def test_a_stack_listening_on_every_address_is_called_on_loopback():
    stack = LocalStack(LocalConfig(host="0.0.0.0", api_port=4000))  # noqa: S104 - never bound here

    assert stack.api_url == "http://127.0.0.1:4000"


# ---------------------------------------------------------------------------------------- --chaos


def test_receipt_faults_are_read_from_the_command_line_form():
    faults = Faults.parse("receipt_duplicate=0.1,receipt_reorder=0.25,seed=4")

    assert faults == Faults(seed=4, receipt_duplicate_rate=0.1, receipt_reorder_rate=0.25)
    assert faults.receipts
    assert not Faults.parse("crash=0.5").receipts


@pytest.mark.parametrize("text", ["receipt_duplicate=2", "receipt_reorder=-0.1", "receipt_lost=0.1"])
def test_a_bad_receipt_fault_is_refused(text):
    with pytest.raises(ValueError, match="--chaos"):
        Faults.parse(text)


def test_receipt_faults_do_not_count_against_the_crash_and_timeout_budget():
    faults = Faults.parse("crash=0.5,timeout=0.5,receipt_duplicate=1,receipt_reorder=1")

    assert (faults.crash_rate, faults.receipt_duplicate_rate) == (0.5, 1.0)


# ---------------------------------------------------------------------------------------- make chaos


def test_chaos_sends_to_the_sandboxs_failing_receipt_addresses_on_their_channels():
    assert set(RECEIPT_FAILURES.values()) == {*RECEIPT_BOUNCES.values(), RECEIPT_COMPLAINT}
    drawn = [notification(i) for i in range(120)]
    failing = [(n["type"], n["to"]) for n in drawn if n.get("to") in RECEIPT_FAILURES.values()]

    assert sorted(set(failing)) == [
        (Channel.EMAIL.value, RECEIPT_BOUNCES[Channel.EMAIL]),
        (Channel.EMAIL.value, RECEIPT_COMPLAINT),
        (Channel.SMS.value, RECEIPT_BOUNCES[Channel.SMS]),
    ]
    assert len(failing) == 6


def test_an_email_or_sms_still_sent_is_awaiting_its_receipt_and_push_never_is():
    statuses = {
        ("a", "email"): "SENT",
        ("a", "sms"): "DELIVERED",
        ("b", "sms"): "SENT",
        ("b", "push"): "SENT",
        ("c", "email"): "BOUNCED",
        ("other", "email"): "SENT",
    }

    assert awaiting_receipts(statuses, {"a", "b", "c"}) == 2


def test_the_receipts_the_webhooks_skipped_as_repeated_are_counted_from_their_log_lines():
    log = (
        '{"level":"INFO","message":"SendGrid receipts","received":3,"duplicates":2}\n'
        "[local] something else\n"
        '{"level":"INFO","message":"Twilio receipt","received":1,"duplicates":1}\n'
        '{"level":"INFO","message":"receipt applied","duplicates":5}\n'
        '{"level":"INFO","message":"SendGrid receipts","duplicates":'
    )

    assert receipt_duplicates(log) == 3
