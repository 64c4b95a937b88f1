"""End-to-end tests: the local stack in a child process, on free loopback ports, over HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from devstack.process import LocalStackProcess


@pytest.fixture(scope="module")
def local(tmp_path_factory) -> Iterator[LocalStackProcess]:
    stack = LocalStackProcess(tmp_path_factory.mktemp("local") / "local.log").start()
    yield stack
    stack.stop()


def wait_for(condition: Callable[[], Any], timeout: float = 20, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(every)
    raise AssertionError(f"not true within {timeout} s: {condition}")


def emulator(local: LocalStackProcess, service: str) -> Any:
    return boto3.client(service, endpoint_url=local.endpoint, region_name="us-east-1")  # type: ignore[call-overload]


def messages_in_queues(local: LocalStackProcess) -> int:
    sqs = emulator(local, "sqs")
    total = 0
    for url in sqs.list_queues().get("QueueUrls", []):
        attributes = sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        total += int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )
    return total
