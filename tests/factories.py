"""Lambda-shaped events and contexts for tests, built from the sample events in `events/`."""

from __future__ import annotations

import copy
import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from notifier.models import Channel, Envelope, MessageContent

EVENTS_DIR = Path(__file__).resolve().parent.parent / "events"


def load_event(name: str) -> dict[str, Any]:
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


def sqs_record(
    body: Any, *, queue_arn: str, message_id: str | None = None, receive_count: int = 1
) -> dict[str, Any]:
    """One SQS record as Lambda delivers it, shaped like the records in events/sqs_*.json."""
    template = load_event("sqs_email_critical.json")["Records"][0]
    text = body if isinstance(body, str) else json.dumps(body)
    record: dict[str, Any] = copy.deepcopy(template)
    record.update(
        messageId=message_id or str(uuid.uuid4()),
        body=text,
        md5OfBody=hashlib.md5(text.encode()).hexdigest(),  # noqa: S324 - SQS's own checksum
        eventSourceARN=queue_arn,
        messageAttributes={},
    )
    record["attributes"]["ApproximateReceiveCount"] = str(receive_count)
    return record


def sqs_event(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Records": records}


@dataclass
class LambdaContext:
    function_name: str = "test-function"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"
    remaining_ms: int = 20_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def email_envelope(
    address: str = "someone@example.com",
    *,
    correlation_id: str = "test-correlation",
    notification_id: str | None = None,
) -> Envelope:
    """An e-mail notification to an inline address, for a recipient the store does not have."""
    return Envelope(
        notification_id=notification_id or str(uuid.uuid4()),
        correlation_id=correlation_id,
        recipient_id="nobody-stored",
        event_type="NOTIFICATION",
        priority="standard",
        channels=[Channel.EMAIL],
        content=MessageContent(body="hello", subject="Hi"),
        addresses={Channel.EMAIL: address},
        created_at=datetime.now(UTC),
    )
