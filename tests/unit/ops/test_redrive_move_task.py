"""Telling an endpoint without SQS's message move task from a failure of the task itself."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from ops.redrive import MoveTaskUnavailableError, Queue, Target, start_move_task

DLQ = Queue(
    name="notifier-EmailCriticalDLQ",
    url="https://sqs.us-east-1.amazonaws.com/123456789012/notifier-EmailCriticalDLQ",
    arn="arn:aws:sqs:us-east-1:123456789012:notifier-EmailCriticalDLQ",
)
TARGET = Target(dlq=DLQ, sources=())


def answering(code: str, status: int) -> tuple[Any, Stubber]:
    client = boto3.client("sqs", region_name="us-east-1")
    stubber = Stubber(client)
    stubber.add_client_error("start_message_move_task", service_error_code=code, http_status_code=status)
    return client, stubber


@pytest.mark.parametrize(
    ("code", "status"),
    [("InvalidAction", 400), ("NotImplemented", 501), ("500", 500)],
    ids=["invalid-action", "not-implemented", "bare-500-from-moto-server"],
)
def test_given_an_endpoint_without_the_action_when_starting_then_the_task_is_unavailable(code, status):
    client, stubber = answering(code, status)

    with stubber, pytest.raises(MoveTaskUnavailableError):
        start_move_task(client, TARGET, rate=None)


@pytest.mark.parametrize(
    ("code", "status"),
    [("InternalError", 500), ("ResourceNotFoundException", 400), ("AccessDenied", 403)],
)
def test_given_an_aws_error_when_starting_then_it_is_a_failure_not_a_fallback(code, status):
    client, stubber = answering(code, status)

    with stubber, pytest.raises(ClientError):
        start_move_task(client, TARGET, rate=None)
