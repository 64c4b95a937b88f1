"""Tests of a deployed stack, over its public API, WebSocket and AWS resources.

They run against the stack named by NOTIFIER_STACK, found through its Outputs (`ops.stack`), in
AWS_REGION, at NOTIFIER_ENDPOINT when that is an emulator's URL (empty: AWS, with the caller's own
credentials); without NOTIFIER_STACK every test here is skipped, so `make test` skips them.

    make deploy-local && make test-deployed                  # MiniStack on this machine
    make test-deployed NOTIFIER_STACK=notifier NOTIFIER_ENDPOINT= AWS_REGION=eu-west-1   # AWS

The stack is expected to run on the sandbox providers (no vendor credentials) with the Parameters of
`make deploy-local` (EMULATOR_PARAMETERS: MaxReceiveCount=3, RetryMaxSeconds=2,
DigestWindowSeconds=5, SandboxReceiptDelayMs=200); a test that needs one of them says so and is
skipped on a stack deployed otherwise. Everything a test makes is its own (recipients and addresses
named after the run) and removed at the end: recipients, suppressions, statuses, scheduled sends,
inbox items and digest windows. Idempotency and receipt de-duplication records are kept until their
TTL (IdempotencyWindowHours, WebhookMaxAgeSeconds) removes them: their keys are hashes.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote

import boto3
import pytest
import requests

from ops.stack import EMULATOR_CREDENTIALS, DeployedStack, StackNotFoundError
from tests.conftest import CALLER_AWS_ENVIRONMENT

STACK = os.environ.get("NOTIFIER_STACK", "")
ENDPOINT = os.environ.get("NOTIFIER_ENDPOINT") or None
REGION = CALLER_AWS_ENVIRONMENT.get("AWS_REGION") or CALLER_AWS_ENVIRONMENT.get("AWS_DEFAULT_REGION")
HERE = os.path.dirname(__file__)

# Long enough for an emulator's cold starts (a consumer importing its vendor SDK) and its 1-second
# queue polling; a deployed stack in AWS answers within a few seconds.
DELIVERY_TIMEOUT = 90.0

T = TypeVar("T")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if STACK:
        return
    skip = pytest.mark.skip(
        reason="no deployed stack: set NOTIFIER_STACK (make deploy-local && make test-deployed)"
    )
    for item in items:
        if str(item.path).startswith(HERE):
            item.add_marker(skip)


def _caller_session() -> boto3.Session:
    """The caller's own credentials (the root conftest replaced them with fakes for every other test);
    an emulator's test ones at an endpoint."""
    if ENDPOINT:
        return boto3.Session(**EMULATOR_CREDENTIALS, region_name=REGION or "us-east-1")
    env = CALLER_AWS_ENVIRONMENT
    if env.get("AWS_ACCESS_KEY_ID"):
        return boto3.Session(
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY"),
            aws_session_token=env.get("AWS_SESSION_TOKEN"),
            region_name=REGION,
        )
    return boto3.Session(profile_name=env.get("AWS_PROFILE") or None, region_name=REGION)


@pytest.fixture(scope="session")
def stack() -> DeployedStack:
    try:
        return DeployedStack.find(STACK, region=REGION, endpoint=ENDPOINT, session=_caller_session())
    except StackNotFoundError as exc:
        pytest.exit(f"tests/deployed: {exc}", returncode=2)


@pytest.fixture(scope="session")
def run_id() -> str:
    """What this run's recipients and addresses are named after: never another run's."""
    return f"dt{uuid.uuid4().hex[:10]}"


@dataclass
class Leftovers:
    """What the tests made, removed at the end of the session."""

    recipients: set[str] = field(default_factory=set)
    notifications: set[str] = field(default_factory=set)
    suppressed: set[str] = field(default_factory=set)
    digest_keys: set[str] = field(default_factory=set)

    def note_ids(self, body: Any) -> None:
        """Every notification id an answer names (events, notifications, digests, bulk results)."""
        if isinstance(body, dict):
            for name, value in body.items():
                if name in {"event_id", "notificationId", "notification_id", "digested_into"} and isinstance(
                    value, str
                ):
                    self.notifications.add(value)
                else:
                    self.note_ids(value)
        elif isinstance(body, list):
            for value in body:
                self.note_ids(value)


class Api:
    """The stack's REST API with its key; every answer's ids are kept for the clean-up."""

    def __init__(self, base_url: str, key: str | None, leftovers: Leftovers) -> None:
        self.base_url = base_url
        self.key = key
        self.leftovers = leftovers
        self.http = requests.Session()

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        headers: dict[str, str] | None = None,
        key: str | bool = True,
        data: bytes | str | None = None,
    ) -> requests.Response:
        """`key`: True for the stack's key, False for none, or a key to send instead."""
        sent = dict(headers or {})
        if key is True and self.key:
            sent["x-api-key"] = self.key
        elif isinstance(key, str):
            sent["x-api-key"] = key
        if body is not None:
            sent.setdefault("Content-Type", "application/json")
            data = json.dumps(body)
        answer = self.http.request(method, f"{self.base_url}{path}", data=data, headers=sent, timeout=30)
        if answer.headers.get("Content-Type", "").startswith("application/json"):
            self.leftovers.note_ids(answer.json())
        return answer

    def publish(
        self,
        recipient_id: str,
        channel: str,
        text: str = "deployed test",
        *,
        priority: str = "critical",
        **extra: Any,
    ) -> str:
        """One message (POST /api/v1/notifications/publish), accepted: its notification id."""
        body = {
            "recipientId": recipient_id,
            "type": channel,
            "messageBody": text,
            "priority": priority,
            **extra,
        }
        answer = self.call("POST", "/api/v1/notifications/publish", body=body)
        assert answer.status_code == 202, answer.text
        return str(answer.json()["notificationId"])

    def status(self, notification_id: str) -> dict[str, Any]:
        answer = self.call("GET", f"/event/{notification_id}")
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def wait_for_status(
        self, notification_id: str, channel: str, wanted: set[str], timeout: float = DELIVERY_TIMEOUT
    ) -> dict[str, Any]:
        """The channel's status once it is one of `wanted`; fails with the last one seen."""

        def reached() -> dict[str, Any] | None:
            channels = self.status(notification_id).get("channels", {})
            state = channels.get(channel)
            return state if state and state["status"] in wanted else None

        return wait_until(
            reached,
            timeout,
            what=f"{notification_id} {channel} in {sorted(wanted)}",
            last=lambda: self.status(notification_id),
        )


def wait_until(
    probe: Callable[[], T | None],
    timeout: float = DELIVERY_TIMEOUT,
    *,
    what: str = "the condition",
    interval: float = 0.5,
    last: Callable[[], Any] | None = None,
) -> T:
    """`probe()`'s first answer that is not None (or False), asked every `interval` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        answer = probe()
        if answer:
            return answer
        if time.monotonic() > deadline:
            seen = f"; last seen: {last()}" if last else ""
            pytest.fail(f"{what}: not within {timeout:.0f} s{seen}")
        time.sleep(interval)


@pytest.fixture(scope="session")
def leftovers(stack: DeployedStack, api_key: str | None) -> Iterator[Leftovers]:
    made = Leftovers()
    yield made
    _clean_up(stack, api_key, made)


@pytest.fixture(scope="session")
def api_key(stack: DeployedStack) -> str | None:
    return stack.api_key()


@pytest.fixture(scope="session")
def api(stack: DeployedStack, api_key: str | None, leftovers: Leftovers) -> Api:
    return Api(stack.api_url, api_key, leftovers)


@pytest.fixture
def recipient(api: Api, run_id: str, leftovers: Leftovers) -> Callable[..., str]:
    """Makes a recipient of this run with sandbox contacts (any of them replaced by keyword), and
    answers its id."""
    made = iter(range(1_000_000))

    def make(*, preferences: dict[str, Any] | None = None, **contacts: Any) -> str:
        recipient_id = f"{run_id}-{next(made)}-{uuid.uuid4().hex[:6]}"
        document: dict[str, Any] = {
            "contacts": {
                "email": f"{recipient_id}@example.com",
                "phone": "+14155550100",
                "push_tokens": [{"token": f"sandbox-token-{recipient_id}", "platform": "android"}],
                **contacts,
            },
            "locale": "en",
            "timezone": "UTC",
        }
        if preferences is not None:
            document["preferences"] = preferences
        leftovers.recipients.add(recipient_id)
        answer = api.call("PUT", f"/recipients/{recipient_id}", body=document)
        assert answer.status_code == 201, answer.text
        return recipient_id

    return make


def find_in_queue(
    stack: DeployedStack, queue_url: str, notification_id: str, *, timeout: float, hold_seconds: int = 0
) -> dict[str, Any] | None:
    """The message of `notification_id` in `queue_url` (a DLQ), or None if it is not there within
    `timeout`. Messages are received with a 1-second visibility timeout, so the others (other tests')
    show again at once and none is deleted; the one found stays hidden for `hold_seconds` (0: visible
    again straight away), during which its receipt handle is the one to delete it with."""
    sqs = stack.client("sqs")
    deadline = time.monotonic() + timeout
    while True:
        messages = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=1,
            WaitTimeSeconds=1,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        for message in messages:
            if _notification_id_of(message) == notification_id:
                sqs.change_message_visibility(
                    QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=hold_seconds
                )
                return dict(message)
        if time.monotonic() > deadline:
            return None
        if not messages:
            time.sleep(0.5)


def delete_own_message(stack: DeployedStack, queue_url: str, notification_id: str) -> None:
    """Remove this test's message from a DLQ (and only it), so the DLQ keeps only others'."""
    found = find_in_queue(stack, queue_url, notification_id, timeout=10, hold_seconds=30)
    if found is not None:
        stack.client("sqs").delete_message(QueueUrl=queue_url, ReceiptHandle=found["ReceiptHandle"])


def _notification_id_of(message: dict[str, Any]) -> str | None:
    """The raw SNS delivery (RawMessageDelivery: true) puts the envelope itself in the body."""
    try:
        body = json.loads(message["Body"])
    except (TypeError, ValueError):
        return None
    return body.get("notification_id") if isinstance(body, dict) else None


def _clean_up(stack: DeployedStack, api_key: str | None, made: Leftovers) -> None:
    http = requests.Session()
    headers = {"x-api-key": api_key} if api_key else {}
    for recipient_id in made.recipients:
        http.delete(f"{stack.api_url}/recipients/{recipient_id}", headers=headers, timeout=30)
    for address in made.suppressed:
        http.delete(
            f"{stack.api_url}/suppressions/{quote(address, safe='')}",
            headers=headers,
            timeout=30,
        )
    dynamodb = stack.client("dynamodb")
    outputs = stack.outputs
    for notification_id in made.notifications:
        _delete_partition(
            dynamodb, outputs["StatusTableName"], "notification_id", notification_id, ("channel",)
        )
        dynamodb.delete_item(
            TableName=outputs["PendingTableName"], Key={"notification_id": {"S": notification_id}}
        )
    for recipient_id in made.recipients:
        _delete_partition(
            dynamodb, outputs["InboxTableName"], "recipient_id", recipient_id, ("notification_id",)
        )
    for key in made.digest_keys:
        _delete_partition(dynamodb, outputs["DigestsTableName"], "pk", key, ("sk",))


def _delete_partition(dynamodb: Any, table: str, name: str, value: str, sort: tuple[str, ...]) -> None:
    key_names = (name, *sort)
    paginator = dynamodb.get_paginator("query")
    for page in paginator.paginate(
        TableName=table,
        KeyConditionExpression="#k0 = :v",
        ExpressionAttributeNames={f"#k{i}": key for i, key in enumerate(key_names)},
        ExpressionAttributeValues={":v": {"S": value}},
        ProjectionExpression=", ".join(f"#k{i}" for i in range(len(key_names))),
    ):
        for item in page.get("Items", []):
            dynamodb.delete_item(TableName=table, Key={key: item[key] for key in key_names})
