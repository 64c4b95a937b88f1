"""In-process answers for AWS and the vendors, for the benchmarks: no network, no moto, no server.

Each stub replaces the last step of one HTTP stack, the one that would open a socket, so everything
above it runs as in production (botocore's serialization, signing, retries and parsing; the vendor
SDK's request building and answer handling; requests' session and adapter mounting; google-auth's
token exchange):

- AWS: `botocore.httpsession.URLLib3Session.send` answers as the service would (DynamoDB, SNS,
  SQS, Secrets Manager, and a WebSocket API's @connections), from the request botocore built (target
  header, the query `Action`, or the @connections path);
- Twilio, and FCM with google-auth: `requests.adapters.HTTPAdapter.send`;
- SendGrid (python_http_client is urllib): `urllib.request.HTTPSHandler.https_open` (and HTTP's);
- the CA store: `ssl.SSLContext.load_default_certs` loads nothing. botocore and requests load their
  CA bundle when they connect, below their stubs; the SendGrid provider builds its one TLS context
  (and 3.13's urllib its handler's) above the stub, so without this the e-mail figures alone would
  count a 21 ms load that every other figure leaves out.

What is left out is what lies below those: sockets, TLS (and loading the CA bundle for it), the
network. Each stub is put in place when its module is first imported (an import hook), so
installing the stubs imports nothing beyond the standard library's `importlib` and `json`: a cold
start measured with them imports exactly what the handler imports, when it imports it.

Only the standard library at the top: the cold-start child loads this file by path before anything
else (see `bench.cold_start`). Every call answered is counted in `calls` ("sns.Publish",
"vendor.sendgrid"...).
"""

from __future__ import annotations

import importlib.util
import io
import json
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

calls: Counter[str] = Counter()
_calls_lock = threading.Lock()


def _count(name: str) -> None:
    with _calls_lock:
        calls[name] += 1


@dataclass
class Answers:
    """What the stubs answer with: DynamoDB items by table, and secrets by name."""

    recipients: dict[str, str] = field(default_factory=dict)
    """Recipient id -> its stored JSON document (the recipients table's `document`)."""
    secrets: dict[str, str] = field(default_factory=dict)
    """Secret name -> its SecretString."""
    connections: dict[str, str] = field(default_factory=dict)
    """WebSocket connection id -> the recipient it was opened for (the connections table's items,
    found by id, and by recipient through its `recipient` index); every one is live, and the
    @connections API takes a post to any of them."""

    def to_json(self) -> str:
        return json.dumps(
            {"recipients": self.recipients, "secrets": self.secrets, "connections": self.connections}
        )

    @classmethod
    def from_json(cls, text: str) -> Answers:
        data = json.loads(text)
        return cls(
            recipients=dict(data["recipients"]),
            secrets=dict(data["secrets"]),
            connections=dict(data.get("connections", {})),
        )


_answers = Answers()


# --------------------------------------------------------------------------------------------
# AWS
# --------------------------------------------------------------------------------------------

_SNS_XMLNS = "http://sns.amazonaws.com/doc/2010-03-31/"


def aws_answer(
    url: str, headers: dict[str, str], body: bytes, method: str = "POST"
) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of the AWS API for one request, as botocore sent it."""
    path = urlsplit(url).path
    if "/@connections/" in path:  # a WebSocket API's @connections (REST-JSON, no target header)
        return _connections_answer(method, unquote(path.rsplit("/@connections/", 1)[1]))
    target = headers.get("X-Amz-Target", "")
    if target:  # JSON protocols: DynamoDB, SQS, Secrets Manager, SSM
        prefix, _, operation = target.partition(".")
        request = json.loads(body or b"{}")
        service = {"DynamoDB_20120810": "dynamodb", "AmazonSQS": "sqs"}.get(prefix, prefix)
        _count(f"{service}.{operation}")
        answer = _json_answer(service, operation, request)
        content_type = f"application/x-amz-json-{'1.0' if service in ('dynamodb', 'sqs') else '1.1'}"
        if isinstance(answer, tuple):
            status, error = answer
            return status, {"Content-Type": content_type}, json.dumps(error).encode()
        headers = {"Content-Type": content_type, "x-amzn-RequestId": str(uuid.uuid4())}
        return 200, headers, json.dumps(answer).encode()
    form = {key: values[0] for key, values in parse_qs(body.decode()).items()}
    action = form.get("Action", "")
    host = urlsplit(url).hostname or ""
    service = host.split(".")[0]
    _count(f"{service}.{action}")
    if service == "sns" and action == "Publish":
        result = f"<MessageId>{uuid.uuid4()}</MessageId>"
    elif service == "sns" and action == "PublishBatch":
        entries = "PublishBatchRequestEntries.member."
        ids = [v for k, v in form.items() if k.startswith(entries) and k.endswith(".Id")]
        members = "".join(f"<member><Id>{i}</Id><MessageId>{uuid.uuid4()}</MessageId></member>" for i in ids)
        result = f"<Successful>{members}</Successful><Failed/>"
    else:
        raise NotImplementedError(f"no stubbed answer for {service} {action}")
    xml = (
        f'<{action}Response xmlns="{_SNS_XMLNS}"><{action}Result>{result}</{action}Result>'
        f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata></{action}Response>"
    )
    return 200, {"Content-Type": "text/xml"}, xml.encode()


_CONNECTIONS_OPERATIONS = {"POST": "PostToConnection", "GET": "GetConnection", "DELETE": "DeleteConnection"}


def _connections_answer(method: str, connection_id: str) -> tuple[int, dict[str, str], bytes]:
    """API Gateway's @connections: a post to a connection of `Answers.connections` is taken (200, no
    body); an unknown one has gone (410, with the error type that makes boto3 raise GoneException)."""
    operation = _CONNECTIONS_OPERATIONS[method]
    _count(f"apigatewaymanagementapi.{operation}")
    request_id = {"x-amzn-RequestId": str(uuid.uuid4())}
    if connection_id not in _answers.connections:
        error = {"x-amzn-ErrorType": "GoneException", "Content-Type": "application/json", **request_id}
        return 410, error, b"{}"
    if operation == "GetConnection":
        identity = {"sourceIp": "203.0.113.10"}
        found = {"connectedAt": "2026-11-21T10:00:00Z", "lastActiveAt": "2026-11-21T10:00:00Z"}
        return (
            200,
            {"Content-Type": "application/json", **request_id},
            json.dumps({**found, "identity": identity}).encode(),
        )
    return (204 if operation == "DeleteConnection" else 200), request_id, b""


_Json = dict[str, Any]


def _json_answer(service: str, operation: str, request: _Json) -> _Json | tuple[int, _Json]:  # noqa: PLR0911
    match service, operation:
        case "dynamodb", "UpdateItem" if request.get("ReturnValues") == "ALL_NEW":
            # The item as a receipt leaves it: its key, and the status the update sets (else SENT).
            values = request.get("ExpressionAttributeValues", {})
            status = values.get(":status", {"S": "SENT"})
            return {"Attributes": {**request["Key"], "status": status, "priority": {"S": "standard"}}}
        case "dynamodb", "UpdateItem" | "PutItem" | "DeleteItem":
            return {}
        case "dynamodb", "BatchWriteItem":
            return {"UnprocessedItems": {}}
        case "dynamodb", "GetItem" if "connection_id" in request["Key"]:  # the connections table
            connection_id = request["Key"]["connection_id"]["S"]
            recipient_id = _answers.connections.get(connection_id)
            return {"Item": _connection_item(connection_id, recipient_id)} if recipient_id else {}
        case "dynamodb", "Query" if request.get("IndexName") == "recipient":  # connections, by recipient
            wanted = request["ExpressionAttributeValues"][":r"]["S"]
            items = [_connection_item(c, r) for c, r in _answers.connections.items() if r == wanted]
            return {"Items": items, "Count": len(items), "ScannedCount": len(items)}
        case "dynamodb", "GetItem":
            key = request["Key"]
            found = _answers.recipients.get(key.get("recipient_id", {}).get("S", ""))
            return {"Item": _recipient_item(key["recipient_id"]["S"], found)} if found else {}
        case "dynamodb", "BatchGetItem":
            responses = {
                table: [
                    _recipient_item(k["recipient_id"]["S"], _answers.recipients[k["recipient_id"]["S"]])
                    for k in wanted["Keys"]
                    if k.get("recipient_id", {}).get("S") in _answers.recipients
                ]
                for table, wanted in request["RequestItems"].items()
            }  # keys of other tables (the suppression list, receipts seen before) find nothing
            return {"Responses": responses, "UnprocessedKeys": {}}
        case "dynamodb", "Query":
            return {"Items": [], "Count": 0, "ScannedCount": 0}
        case "sqs", "ChangeMessageVisibilityBatch" | "DeleteMessageBatch":
            return {"Successful": [{"Id": e["Id"]} for e in request.get("Entries", [])], "Failed": []}
        case "secretsmanager", "GetSecretValue":
            name = request["SecretId"]
            if name not in _answers.secrets:
                return 400, {
                    "__type": "ResourceNotFoundException",
                    "Message": "Secrets Manager can't find it",
                }
            return {
                "ARN": f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}-AbCdEf",
                "Name": name,
                "SecretString": _answers.secrets[name],
                "VersionId": "00000000-0000-0000-0000-000000000001",
                "VersionStages": ["AWSCURRENT"],
                "CreatedDate": 1700000000.0,
            }
    raise NotImplementedError(f"no stubbed answer for {service} {operation}")


def _recipient_item(recipient_id: str, document: str) -> dict[str, Any]:
    return {"recipient_id": {"S": recipient_id}, "document": {"S": document}}


def _connection_item(connection_id: str, recipient_id: str) -> dict[str, Any]:
    """A connection's item as `notifier.stores.connections` writes it, opened a minute ago."""
    now = int(time.time())
    return {
        "connection_id": {"S": connection_id},
        "recipient_id": {"S": recipient_id},
        "connected_at": {"S": time.strftime("%Y-%m-%dT%H:%M:%S.000+00:00", time.gmtime(now - 60))},
        "expires_at": {"N": str(now - 60 + 7200)},
    }


class _Raw:
    """What botocore reads an answer's body from (`AWSResponse.raw.stream()`)."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body


def _botocore_send(latency_seconds: float = 0.0) -> Callable[[Any, Any], Any]:
    """botocore's last step before the socket, answering as AWS would after `latency_seconds` (a
    sleep, which lets other threads run, as waiting on the network does)."""
    from botocore.awsrequest import AWSResponse  # noqa: PLC0415 - botocore is being imported

    def send(self: Any, request: Any) -> Any:
        body = request.body
        if hasattr(body, "read"):
            body = body.read()
        raw = body.encode() if isinstance(body, str) else (body or b"")
        headers = {
            name: value.decode() if isinstance(value, bytes) else str(value)
            for name, value in request.headers.items()
        }
        status, answer_headers, content = aws_answer(request.url, headers, raw, request.method)
        if latency_seconds:
            time.sleep(latency_seconds)
        return AWSResponse(request.url, status, answer_headers, _Raw(content))  # type: ignore[arg-type]

    return send


def _patch_botocore(module: ModuleType) -> None:
    module.URLLib3Session.send = _botocore_send()


# --------------------------------------------------------------------------------------------
# Vendors
# --------------------------------------------------------------------------------------------


def vendor_answer(method: str, url: str) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of SendGrid, Twilio, Google's token endpoint or FCM for one request."""
    parts = urlsplit(url)
    host, path = parts.hostname or "", parts.path
    if path == "/v3/mail/send":
        _count("vendor.sendgrid")
        return 202, {"X-Message-Id": f"sg-{uuid.uuid4().hex}", "Content-Length": "0"}, b""
    if host.endswith("twilio.com") and path.endswith("/Messages.json") and method == "POST":
        _count("vendor.twilio")
        sid = "SM" + uuid.uuid4().hex
        account = path.split("/")[3]
        message = {
            "sid": sid,
            "account_sid": account,
            "status": "queued",
            "direction": "outbound-api",
            "num_segments": "1",
            "api_version": "2010-04-01",
            "uri": f"/2010-04-01/Accounts/{account}/Messages/{sid}.json",
        }
        return 201, {"Content-Type": "application/json"}, json.dumps(message).encode()
    if path == "/token" and method == "POST":
        _count("vendor.google_token")
        token = {"access_token": "ya29." + uuid.uuid4().hex, "expires_in": 3599, "token_type": "Bearer"}
        return 200, {"Content-Type": "application/json"}, json.dumps(token).encode()
    if path.endswith("/messages:send") and method == "POST":
        _count("vendor.fcm")
        project = path.split("/")[3]
        name = {"name": f"projects/{project}/messages/0:{uuid.uuid4().hex}"}
        return 200, {"Content-Type": "application/json"}, json.dumps(name).encode()
    if path.endswith("/allowedLocations"):
        _count("vendor.google_access_boundary")
        boundary = {"locations": ["us-east1"], "encodedLocations": "0x1"}
        return 200, {"Content-Type": "application/json"}, json.dumps(boundary).encode()
    raise NotImplementedError(f"no stubbed answer for {method} {url}")


def _requests_send(latency_seconds: float = 0.0) -> Callable[..., Any]:
    from requests.models import Response  # noqa: PLC0415 - requests is being imported
    from requests.structures import CaseInsensitiveDict  # noqa: PLC0415

    def send(self: Any, request: Any, **_: Any) -> Any:
        status, headers, content = vendor_answer(request.method, request.url)
        if latency_seconds:
            time.sleep(latency_seconds)
        response = Response()
        response.status_code = status
        response.headers = CaseInsensitiveDict(headers)
        response._content = content
        response.raw = io.BytesIO(content)
        response.url = request.url
        response.request = request
        response.reason = "OK" if status < 300 else "Error"
        response.encoding = "utf-8"
        response.connection = self
        return response

    return send


def _patch_requests(module: ModuleType) -> None:
    module.HTTPAdapter.send = _requests_send()


def _urllib_open(latency_seconds: float = 0.0) -> Callable[[Any, Any], Any]:
    import http.client  # noqa: PLC0415 - urllib.request has imported it
    import urllib.response  # noqa: PLC0415

    def open_(self: Any, request: Any) -> Any:
        status, headers, content = vendor_answer(request.get_method(), request.full_url)
        if latency_seconds:
            time.sleep(latency_seconds)
        message = http.client.HTTPMessage()
        for name, value in headers.items():
            message[name] = value
        answer: Any = urllib.response.addinfourl(io.BytesIO(content), message, request.full_url, status)
        answer.msg = "OK" if status < 300 else "Error"  # the reason, as http.client's response has it
        return answer

    return open_


def _patch_urllib(module: ModuleType) -> None:
    module.HTTPSHandler.https_open = _urllib_open()
    module.HTTPHandler.http_open = _urllib_open()


def _no_ca_store(self: Any, purpose: Any = None) -> None:
    """`SSLContext.load_default_certs` under the stubs: nothing to verify, so nothing is loaded."""
    _count("ssl.load_default_certs")


def _patch_ssl(module: ModuleType) -> None:
    module.SSLContext.load_default_certs = _no_ca_store


@contextmanager
def in_process(
    answers: Answers, *, aws_latency_seconds: float, vendor_latency_seconds: float
) -> Iterator[None]:
    """AWS and the vendors answered in-process within the block, each call after its latency (a
    sleep, which lets other threads run as waiting on the network does); the real last steps are
    put back after it."""
    global _answers  # noqa: PLW0603 - one set of answers per process
    import ssl  # noqa: PLC0415
    import urllib.request  # noqa: PLC0415

    import botocore.httpsession  # noqa: PLC0415
    import requests.adapters  # noqa: PLC0415

    targets: list[tuple[Any, str, Any]] = [
        (botocore.httpsession.URLLib3Session, "send", _botocore_send(aws_latency_seconds)),
        (requests.adapters.HTTPAdapter, "send", _requests_send(vendor_latency_seconds)),
        (urllib.request.HTTPSHandler, "https_open", _urllib_open(vendor_latency_seconds)),
        (urllib.request.HTTPHandler, "http_open", _urllib_open(vendor_latency_seconds)),
        (ssl.SSLContext, "load_default_certs", _no_ca_store),
    ]
    saved_answers = _answers
    originals = [(owner, name, getattr(owner, name)) for owner, name, _ in targets]
    _answers = answers
    for owner, name, replacement in targets:
        setattr(owner, name, replacement)
    try:
        yield
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)
        _answers = saved_answers


# --------------------------------------------------------------------------------------------
# Installing
# --------------------------------------------------------------------------------------------

_PATCHES: dict[str, Callable[[ModuleType], None]] = {
    "botocore.httpsession": _patch_botocore,
    "requests.adapters": _patch_requests,
    "urllib.request": _patch_urllib,
    "ssl": _patch_ssl,
}


class _AfterImport:
    """A meta path finder that applies a patch to a module right after it is first executed."""

    def __init__(self, patches: dict[str, Callable[[ModuleType], None]]) -> None:
        self.patches = patches

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        patch = self.patches.get(name)
        if patch is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        loader: Any = spec.loader
        if loader is None:
            return spec
        execute = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            execute(module)
            patch(module)
            self.patches.pop(name, None)

        loader.exec_module = exec_module
        return spec


def install(answers: Answers | None = None) -> None:
    """Answer AWS and the vendors in-process from now on (see the module's docstring)."""
    global _answers  # noqa: PLW0603 - one set of answers per process
    _answers = answers or Answers()
    pending = {}
    for name, patch in _PATCHES.items():
        if name in sys.modules:
            patch(sys.modules[name])
        else:
            pending[name] = patch
    if pending:
        sys.meta_path.insert(0, _AfterImport(pending))


def _lambda_events() -> ModuleType:
    """devstack/lambda_events.py, loaded by path: the cold-start child's sys.path is Lambda's."""
    name = "_bench_lambda_events"
    if name not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "devstack" / "lambda_events.py"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # before it runs: its dataclass looks its module up
        spec.loader.exec_module(module)
    return sys.modules[name]


LambdaContext = _lambda_events().LambdaContext
"""The context handlers are given: the one the local stack and the tests use too."""
