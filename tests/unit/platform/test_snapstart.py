"""SnapStart hooks: warm before the snapshot without reading a secret; reseed `random` after restore."""

from __future__ import annotations

import random
import sys
import types

import pytest

from notifier import coldstart, runtime
from notifier.models.channels import Channel
from notifier.platform import clients
from notifier.platform.credentials import CredentialSource


@pytest.fixture
def lambda_snapstart(monkeypatch):
    """Lambda's `snapshot_restore_py`, recording the hooks registered with it."""
    hooks: dict[str, list] = {"before": [], "after": []}
    module = types.ModuleType("snapshot_restore_py")
    module.register_before_snapshot = hooks["before"].append  # type: ignore[attr-defined]
    module.register_after_restore = hooks["after"].append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", module)
    return hooks


@pytest.fixture
def environment(monkeypatch):
    monkeypatch.setenv("STATUS_TABLE", "statuses")
    monkeypatch.setenv("RECIPIENTS_TABLE", "recipients")
    monkeypatch.setenv("TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:notifications")
    runtime.reset()
    yield
    runtime.reset()


def test_outside_lambda_nothing_is_registered(monkeypatch):
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # import fails, as outside Lambda
    assert coldstart.register(coldstart.warm_publisher) is False


def test_warming_a_consumer_builds_its_clients_and_imports_its_vendor_sdk_but_reads_no_secret(
    lambda_snapstart, environment, monkeypatch
):
    monkeypatch.setenv("SENDGRID_CREDENTIALS", "prod/sendgrid")
    monkeypatch.delitem(sys.modules, "notifier.providers.sendgrid_email", raising=False)
    read = []
    monkeypatch.setattr(CredentialSource, "get", lambda self, name: read.append(name))

    assert coldstart.register(coldstart.warm_consumer(Channel.EMAIL)) is True
    [warm] = lambda_snapstart["before"]
    warm()

    assert "notifier.providers.sendgrid_email" in sys.modules
    assert clients.dynamodb_client.cache_info().currsize == 1
    assert clients.secrets_client.cache_info().currsize == 1
    assert read == []


def test_a_consumer_on_the_sandbox_imports_no_vendor_sdk(lambda_snapstart, environment, monkeypatch):
    monkeypatch.delenv("SENDGRID_CREDENTIALS", raising=False)
    monkeypatch.delitem(sys.modules, "notifier.providers.sendgrid_email", raising=False)
    coldstart.register(coldstart.warm_consumer(Channel.EMAIL))
    lambda_snapstart["before"][0]()
    assert "notifier.providers.sendgrid_email" not in sys.modules


def test_a_failing_warm_up_is_logged_not_raised(lambda_snapstart, caplog):
    def broken() -> None:
        raise RuntimeError("no table configured")

    coldstart.register(broken)
    lambda_snapstart["before"][0]()
    assert "warming before the SnapStart snapshot failed" in caplog.text


def test_every_restored_environment_draws_its_own_jitter(lambda_snapstart):
    coldstart.register(coldstart.warm_publisher)
    [restored] = lambda_snapstart["after"]
    random.seed(1234)  # the state every environment would share from one snapshot
    shared = [random.random() for _ in range(3)]  # noqa: S311 - jitter, not secrets

    draws = []
    for _ in range(2):
        random.seed(1234)
        restored()
        draws.append([random.random() for _ in range(3)])  # noqa: S311

    assert shared not in draws
    assert draws[0] != draws[1]
