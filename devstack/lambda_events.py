"""What Lambda hands a handler, for the local stack, the tests and the benchmarks alike: events shaped
as API Gateway and Lambda's SQS event source build them (from the samples in `events/`), and a context.

Only the standard library: `bench.cold_start` loads this file into a Lambda-like interpreter by path.
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EVENTS_DIR = Path(__file__).resolve().parent.parent / "events"


@dataclass
class LambdaContext:
    """The context of one invocation, as far as the handlers read it. The remaining time counts down
    from `timeout_seconds` at creation, unless `remaining_ms` fixes it (a test of a near deadline)."""

    function_name: str = "local-function"
    memory_limit_in_mb: int = 256
    timeout_seconds: float = 20.0  # the consumers' default (ConsumerTimeoutSeconds)
    invoked_function_arn: str = ""
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    remaining_ms: int | None = None
    deadline: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        self.deadline = time.monotonic() + self.timeout_seconds
        self.invoked_function_arn = (
            self.invoked_function_arn
            or f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"
        )
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        if self.remaining_ms is not None:
            return self.remaining_ms
        return max(0, int((self.deadline - time.monotonic()) * 1000))


def load_event(name: str) -> dict[str, Any]:
    """A sample event of `events/`."""
    event: dict[str, Any] = json.loads((EVENTS_DIR / name).read_text(encoding="utf-8"))
    return event


def api_event(
    method: str,
    path: str,
    *,
    body: Any = None,
    resource: str | None = None,
    path_parameters: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway REST proxy event, shaped like events/api_publish_event.json."""
    event = copy.deepcopy(load_event("api_publish_event.json"))
    event.update(
        httpMethod=method,
        path=path,
        resource=resource or path,
        pathParameters=path_parameters,
        body=body if body is None or isinstance(body, str) else json.dumps(body),
    )
    event["requestContext"].update(
        httpMethod=method, resourcePath=resource or path, requestId=str(uuid.uuid4())
    )
    for name, value in (headers or {}).items():
        event["headers"][name] = value
        event["multiValueHeaders"][name] = [value]
    return event


def sqs_event(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Records": records}


def record_of(
    body: Any, *, queue_arn: str, message_id: str | None = None, receive_count: int = 1
) -> dict[str, Any]:
    """One SQS record of `body` (JSON unless text), on its `receive_count`th receive."""
    parts = queue_arn.split(":")
    region = parts[3] if len(parts) > 4 and parts[3] else "us-east-1"
    message = sqs_message(body, message_id=message_id, receive_count=receive_count)
    return sqs_record(message, queue_arn=queue_arn, region=region)


def sqs_message(body: Any, *, message_id: str | None = None, receive_count: int = 1) -> dict[str, Any]:
    """A message as SQS's ReceiveMessage answers it, shaped like the records of events/sqs_*.json."""
    sample = load_event("sqs_email_critical.json")["Records"][0]
    text = body if isinstance(body, str) else json.dumps(body)
    attributes = dict(sample["attributes"], ApproximateReceiveCount=str(receive_count))
    return {
        "MessageId": message_id or str(uuid.uuid4()),
        "ReceiptHandle": sample["receiptHandle"],
        "Body": text,
        "Attributes": attributes,
    }


def sqs_record(message: dict[str, Any], *, queue_arn: str, region: str) -> dict[str, Any]:
    """One record of an SQS event, from one message of a ReceiveMessage answer, as Lambda builds it."""
    attributes = message.get("Attributes", {})
    body = message["Body"]
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": body,
        "attributes": {
            key: attributes[key]
            for key in (
                "ApproximateReceiveCount",
                "SentTimestamp",
                "SenderId",
                "ApproximateFirstReceiveTimestamp",
                "MessageGroupId",
                "MessageDeduplicationId",
                "SequenceNumber",
            )
            if key in attributes
        },
        "messageAttributes": {
            name: _lambda_attribute(value) for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(body.encode()).hexdigest(),  # noqa: S324
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def _lambda_attribute(value: dict[str, Any]) -> dict[str, Any]:
    # SQS answers with StringValue/DataType; Lambda's records spell them stringValue/dataType.
    converted: dict[str, Any] = {
        "stringListValues": value.get("StringListValues", []),
        "binaryListValues": value.get("BinaryListValues", []),
        "dataType": value["DataType"],
    }
    if "StringValue" in value:
        converted["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        converted["binaryValue"] = value["BinaryValue"]
    return converted
