"""What Lambda hands a handler, for the local stack, the tests and the benchmarks alike: events shaped
as API Gateway and Lambda's SQS event source build them (from the samples in `events/`), and a context.

The WebSocket API's events (`websocket_authorizer_event`, `websocket_event`) follow the events API
Gateway sends a Lambda REQUEST authorizer and a Lambda proxy integration of a WebSocket API (captured
samples: powertools-lambda-python `tests/events/apiGatewayAuthorizerWebSocketEvent.json` and
`apiGatewayWebSocketApi{Connect,Message,Disconnect}.json`).

Only the standard library: `bench.cold_start` loads this file into a Lambda-like interpreter by path.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
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


# ------------------------------------------------------------------------------ API Gateway pieces


def split_values(pairs: Iterable[tuple[str, str]]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Headers or query parameters as API Gateway's v1 events give them: each name's last value
    (`headers`, `queryStringParameters`) and all its values in order (the `multiValue...` twin)."""
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        single[name] = value
        multi.setdefault(name, []).append(value)
    return single, multi


def request_time(epoch_ms: int) -> str:
    """`requestContext.requestTime`: the CLF date API Gateway writes, `11/Nov/2024:13:45:46 +0000`."""
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


def epoch_ms() -> int:
    return int(time.time() * 1000)


def gateway_id() -> str:
    """An id shaped as API Gateway's WebSocket connection, request and message ids (`BFHPhfCWIAMCKlQ=`):
    11 random bytes in URL-safe base64, 16 characters ending in `=`, which a URL must percent-encode."""
    return base64.urlsafe_b64encode(os.urandom(11)).decode()


@dataclass(frozen=True)
class WebSocketConnection:
    """What API Gateway knows of one WebSocket connection from its opening handshake, and puts in
    each of its events."""

    connection_id: str
    api_id: str
    stage: str
    domain_name: str
    source_ip: str
    connected_at: int  # epoch milliseconds
    headers: tuple[tuple[str, str], ...] = ()
    query: tuple[tuple[str, str], ...] = ()

    @property
    def user_agent(self) -> str | None:
        return next((v for k, v in reversed(self.headers) if k.lower() == "user-agent"), None)

    def method_arn(self, region: str, account_id: str) -> str:
        """The ARN a $connect authorizer's policy must allow: no HTTP verb, the route key last."""
        return f"arn:aws:execute-api:{region}:{account_id}:{self.api_id}/{self.stage}/$connect"


def _websocket_context(
    connection: WebSocketConnection, route_key: str, event_type: str, request_id: str
) -> dict[str, Any]:
    now = epoch_ms()
    identity: dict[str, Any] = {"sourceIp": connection.source_ip}
    if connection.user_agent is not None:
        identity["userAgent"] = connection.user_agent
    return {
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": request_id,
        "requestTime": request_time(now),
        "messageDirection": "IN",
        "stage": connection.stage,
        "connectedAt": connection.connected_at,
        "requestTimeEpoch": now,
        "identity": identity,
        "requestId": request_id,
        "domainName": connection.domain_name,
        "connectionId": connection.connection_id,
        "apiId": connection.api_id,
    }


def websocket_authorizer_event(
    connection: WebSocketConnection, *, region: str, account_id: str, request_id: str | None = None
) -> dict[str, Any]:
    """The event of a Lambda REQUEST authorizer on `$connect`: the handshake's headers and query
    string, and `methodArn` for the policy to allow."""
    headers, multi_headers = split_values(connection.headers)
    query, multi_query = split_values(connection.query)
    context = _websocket_context(connection, "$connect", "CONNECT", request_id or gateway_id())
    return {
        "type": "REQUEST",
        "methodArn": connection.method_arn(region, account_id),
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "stageVariables": {},
        "requestContext": context,
    }


_DISCONNECT_HEADERS = ("x-api-key", "X-Forwarded-For", "x-restapi")
"""The headers of a $disconnect event besides Host, empty, as API Gateway sends them."""


def websocket_event(
    connection: WebSocketConnection,
    route_key: str,
    *,
    body: str | None = None,
    authorizer: dict[str, str] | None = None,
    disconnect_status_code: int | None = None,
    disconnect_reason: str = "",
    request_id: str | None = None,
) -> dict[str, Any]:
    """A WebSocket API's Lambda proxy event: `$connect` (the handshake's headers and query string,
    and the authorizer's principal and context), `$disconnect` (the close code and reason), or a
    message routed to `route_key` (its text in `body`)."""
    request_id = request_id or gateway_id()
    if route_key == "$connect":
        context = _websocket_context(connection, route_key, "CONNECT", request_id)
        headers, multi_headers = split_values(connection.headers)
        event: dict[str, Any] = {"headers": headers, "multiValueHeaders": multi_headers}
        if connection.query:
            query, multi_query = split_values(connection.query)
            event.update(queryStringParameters=query, multiValueQueryStringParameters=multi_query)
    elif route_key == "$disconnect":
        context = _websocket_context(connection, route_key, "DISCONNECT", request_id)
        context["disconnectStatusCode"] = disconnect_status_code
        context["disconnectReason"] = disconnect_reason
        headers, multi_headers = split_values(
            [("Host", connection.domain_name), *((name, "") for name in _DISCONNECT_HEADERS)]
        )
        event = {"headers": headers, "multiValueHeaders": multi_headers}
    else:
        context = _websocket_context(connection, route_key, "MESSAGE", request_id)
        context["messageId"] = gateway_id()
        event = {"body": body}
    if authorizer is not None:
        context["authorizer"] = authorizer
    event["requestContext"] = context
    event["isBase64Encoded"] = False
    return event
