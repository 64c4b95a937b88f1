"""Functional tests: the handlers against moto, with every resource created from template.yaml."""

from __future__ import annotations

import gc
import os
import socket
from collections.abc import Callable, Iterator
from typing import Any, cast

import boto3
import pytest

from devstack.lambda_events import LambdaContext, sqs_record
from devstack.provision import Deployment
from functions.email import app as email
from functions.inapp import app as inapp
from functions.publish import app
from functions.push import app as push
from functions.sms import app as sms
from notifier import runtime
from notifier.models.recipients import Contacts, PushToken, Recipient
from notifier.stores.recipients import RecipientStore
from tests.functional._stack import shared_stack

# Each handler module turns the cyclic garbage collector off until its first invocation (see
# notifier.coldstart); these tests import all four at once, whatever they then invoke.
gc.enable()


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch) -> Iterator[None]:
    """No functional test may even look up a host beyond this machine: AWS is moto, the vendors are
    loopback fakes (and google-auth, left alone, would call Google after each token: see FcmFake)."""
    elsewhere: list[str] = []
    resolve = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in ("127.0.0.1", "localhost", None):
            elsewhere.append(str(host))
            raise socket.gaierror(socket.EAI_NONAME, f"{host}: functional tests stay on 127.0.0.1")
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield
    assert elsewhere == []


@pytest.fixture
def deployment(monkeypatch) -> Iterator[Deployment]:
    """The stack as template.yaml creates it, in moto, holding nothing an earlier test left.

    Provisioned once per process and reset between tests (tests/functional/_stack.py says how): no
    message, item, secret or SSM parameter of another test, each function's environment as the
    template gives it, and the notifier's cached clients and settings dropped."""
    environ = dict(os.environ)
    try:
        with shared_stack().active() as deployed:
            # Every function's environment, exactly as the template gives it (they share one process).
            for spec in deployed.functions.values():
                for name, value in spec.environment.items():
                    monkeypatch.setenv(name, value)
            runtime.reset()
            try:
                yield deployed
            finally:
                runtime.reset()
    finally:
        # monkeypatch undoes what went through it; this, anything set or removed directly.
        for name in set(os.environ) - set(environ):
            del os.environ[name]
        for name, value in environ.items():
            if os.environ.get(name) != value:
                os.environ[name] = value


@pytest.fixture
def publish(deployment) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda event: app.lambda_handler(event, LambdaContext(function_name="publish"))


@pytest.fixture
def consumers(deployment) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
    def handler(name: str, module: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
        return lambda event: module.lambda_handler(event, LambdaContext(function_name=name))

    modules = (("email", email), ("sms", sms), ("push", push), ("inapp", inapp))
    return {name: handler(name, module) for name, module in modules}


@pytest.fixture
def outbox(deployment):
    return runtime.outbox()


@pytest.fixture
def recipients(deployment) -> RecipientStore:
    return runtime.recipient_store()


@pytest.fixture
def user_123(recipients) -> Recipient:
    """The seed documents' recipient, with a contact on every channel."""
    recipient = Recipient(
        recipient_id="user-123",
        contacts=Contacts(
            email="user-123@example.com",
            phone="+14155550123",
            push_tokens=[PushToken(token="fcm-token-user-123-abcdef", platform="android")],
        ),
    )
    recipients.put(recipient)
    return recipient


def receive_all(deployment: Deployment, queue_logical_id: str) -> list[dict[str, Any]]:
    """Every message now visible in a queue, as Lambda records (and hidden for the visibility timeout)."""
    sqs = boto3.client("sqs")
    url = deployment.queue_url(queue_logical_id)
    arn = deployment.stack.attrs[(queue_logical_id, "Arn")]
    records: list[dict[str, Any]] = []
    while True:
        answer = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
        )
        messages = answer.get("Messages", [])
        if not messages:
            return records
        records += [
            sqs_record(cast("dict[str, Any]", m), queue_arn=arn, region=deployment.stack.region)
            for m in messages
        ]
