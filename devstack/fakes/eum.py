"""A loopback AWS End User Messaging SMS API (`pinpoint-sms-voice-v2` `SendTextMessage`), checked
against botocore's own model of the service.

moto does not implement this service (its `SendTextMessage` answers 404 "Not yet implemented"), so
this fake stands in for it. Point a botocore client at it with `endpoint_url=fake.url` (or
`AWS_ENDPOINT_URL_PINPOINT_SMS_VOICE_V2`); any access key signs, since the signature is not checked.

The protocol is JSON 1.0: `POST /` with `Content-Type: application/x-amz-json-1.0` and
`X-Amz-Target: PinpointSMSVoiceV2.<Operation>`. What it checks, in order: the route and the target (only
SendTextMessage is served: another operation of the model is a violation here, not AWS's answer), the
content type, a SigV4 `Authorization` scoped to the `sms-voice` service (the signing name), then the
body against the operation's input shape in botocore's `service-2.json`: with
`botocore.validate.ParamValidator` (required and unknown members, types, minimum lengths: what a
botocore client checks before sending) and, as the service does, the constraints the client does not
check (maximum lengths and sizes, the patterns, matched whole, and the enums). A request that breaks the
model is recorded in `violations` and answered as the service does: 400 `ValidationException` with
Reason `FIELD_VALIDATION_FAILED` and a `Fields` entry for each member at fault (`CANNOT_PARSE` for a
body that is not a JSON object). With `EumFake(region=...)`, a request signed for another region is
answered `InvalidSignatureException`, as AWS does (not a violation: a misconfigured client).

An accepted message is answered 200 `{"MessageId": <uuid>}` and kept in `accepted`.

What tests script, for one destination number or for every request (`ANY`, the default), each for the
next `times` requests or for all:

- `fail_with(error, message, reason=..., fields=..., ...)`: one of the operation's modeled errors,
  `{"__type": "com.amazonaws.pinpointsmsvoicev2#<error>", "Message", "Reason", "Fields", ...}`, checked
  against the error's shape (a Reason not in the model's enum is refused when scripted). The model gives
  no HTTP status for its errors: as AWS's JSON services do, a client error is answered 400, a server
  error (`InternalServerException`) 500; `status=` says otherwise.
- `fail(address, status, body=None)`: any status and body (an unmodeled error, a 502 in HTML);
  `fail_unavailable(...)`: a 5xx with the service's `InternalServerException` body.
- `delay(seconds, ...)`: the request is taken as usual (accepted, or answered as scripted) after
  `seconds`, so a client with a shorter read timeout gives up on a message the service has taken.
- `down()` and `up()`: the port stops listening (connections are refused) and listens again, at the same
  address. (Another process could take the port in between; the loopback's ephemeral ports make that
  unlikely, and `up()` says so if it happens.)
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Self

import botocore.session
from botocore.model import (
    ListShape,
    MapShape,
    OperationModel,
    ServiceModel,
    Shape,
    StringShape,
    StructureShape,
)
from botocore.validate import ParamValidator

from devstack.fakes._server import FakeServer, RecordedRequest, Reply

SERVICE = "pinpoint-sms-voice-v2"
OPERATION = "SendTextMessage"
SIGNING_NAME = "sms-voice"
JSON_10 = "application/x-amz-json-1.0"
NAMESPACE = "com.amazonaws.pinpointsmsvoicev2"
ANY = "*"
"""The address that scripts a failure or delay for every request."""

_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[^/,\s]+)/"
    r"(?P<service>[^/,\s]+)/aws4_request,\s*SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=[0-9a-f]{64}"
)
_SERVER_ERRORS = frozenset({"InternalServerException"})


@dataclass(frozen=True)
class CredentialScope:
    """What a SigV4 `Authorization` header says the request was signed for."""

    access_key: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]


@dataclass
class _Delay:
    address: str
    seconds: float
    remaining: int | None


@cache
def service_model() -> ServiceModel:
    """botocore's model of the service (the full botocore's data, not the layer's pruned copy)."""
    return botocore.session.get_session().get_service_model(SERVICE)


class EumFake(FakeServer):
    """End User Messaging SMS's `SendTextMessage` on 127.0.0.1 (see the module docstring)."""

    ANY = ANY

    def __init__(self, region: str | None = None) -> None:
        super().__init__()
        self.region = region
        """The region requests must be signed for; None: any."""
        model = service_model()
        self._target_prefix = f"{model.metadata['targetPrefix']}."
        self._operation_names = frozenset(model.operation_names)
        operation: OperationModel = model.operation_model(OPERATION)
        if not isinstance(operation.input_shape, StructureShape):
            raise TypeError(f"botocore's {SERVICE} {OPERATION} has no input structure")
        self._input: StructureShape = operation.input_shape
        self._errors: dict[str, StructureShape] = {
            shape.name: shape for shape in operation.error_shapes if isinstance(shape, StructureShape)
        }
        self._validator = ParamValidator()
        self._state_lock = threading.Lock()
        self._delays: list[_Delay] = []
        self._accepted: list[tuple[str, dict[str, Any]]] = []
        self._stopping = threading.Event()

    # -- life cycle

    def start(self) -> Self:
        self._stopping.clear()
        return super().start()

    def stop(self) -> None:
        self._stopping.set()  # wakes delayed answers, so their threads end
        super().stop()

    # -- what tests read

    @property
    def sends(self) -> list[dict[str, Any]]:
        """The body of each SendTextMessage request received, in order (whatever was answered)."""
        return [
            body
            for request in self.requests
            if request.headers.get("X-Amz-Target") == self._target_prefix + OPERATION
            and (body := _json_object(request.body)) is not None
        ]

    @property
    def accepted(self) -> list[tuple[str, dict[str, Any]]]:
        """(MessageId, request body) of each message answered 200, in order."""
        with self._state_lock:
            return list(self._accepted)

    @staticmethod
    def credential_scope(request: RecordedRequest) -> CredentialScope | None:
        """What the request's SigV4 `Authorization` was signed for; None without one."""
        found = _AUTHORIZATION.fullmatch(request.headers.get("Authorization") or "")
        if found is None:
            return None
        return CredentialScope(
            access_key=found["key"],
            date=found["date"],
            region=found["region"],
            service=found["service"],
            signed_headers=tuple(found["signed"].split(";")),
        )

    def reset(self) -> None:
        super().reset()
        with self._state_lock:
            self._delays.clear()
            self._accepted.clear()

    # -- scripting

    @staticmethod
    def error_body(error: str, message: str, **members: Any) -> dict[str, Any]:
        """The service's error body: `__type` (with the service's namespace), `Message` and the error's
        other members (`Reason`, `Fields`, `ResourceType`, `ResourceId`, `RequestId`), as given."""
        return {"__type": f"{NAMESPACE}#{error}", "Message": message, **members}

    def fail(
        self,
        address: str,
        status: int,
        body: Any = None,
        headers: dict[str, str] | None = None,
        times: int | None = None,
    ) -> None:
        """As `FakeServer.fail`; a JSON body (the default one too) is sent as JSON 1.0."""
        if body is None or isinstance(body, dict | list):
            headers = {"Content-Type": JSON_10, **(headers or {})}
        super().fail(address, status, body, headers, times)

    def fail_with(
        self,
        error: str,
        message: str | None = None,
        *,
        address: str = ANY,
        reason: str | None = None,
        fields: Mapping[str, str] | None = None,
        resource_type: str | None = None,
        resource_id: str | None = None,
        status: int | None = None,
        times: int | None = None,
    ) -> None:
        """Answer with one of SendTextMessage's modeled errors. `fields` is `{Name: Message}` of a
        ValidationException's `Fields`. Members the error's shape does not have, or values it does not
        allow (a Reason not in the model's enum), raise ValueError."""
        shape = self._errors.get(error)
        if shape is None:
            raise ValueError(f"{OPERATION} has no modeled error {error!r} (one of {sorted(self._errors)})")
        members: dict[str, Any] = {}
        if reason is not None:
            members["Reason"] = reason
        if fields is not None:
            members["Fields"] = [{"Name": name, "Message": said} for name, said in fields.items()]
        if resource_type is not None:
            members["ResourceType"] = resource_type
        if resource_id is not None:
            members["ResourceId"] = resource_id
        text = message or f"{error} (scripted)"
        problems = self._problems({"Message": text, **members}, shape)
        if problems:
            raise ValueError(f"not a {error} of the model: " + "; ".join(f"{n}: {m}" for n, m in problems))
        code = status or (500 if error in _SERVER_ERRORS else 400)
        self.fail(address, code, self.error_body(error, text, **members), times=times)

    def fail_unavailable(self, address: str = ANY, status: int = 500, times: int | None = None) -> None:
        """Answer with a 5xx and the service's `InternalServerException` body."""
        if status < 500:
            raise ValueError(f"an outage is a 5xx, not {status}")
        self.fail(address, status, times=times)

    def delay(self, seconds: float, address: str = ANY, times: int | None = None) -> None:
        """Take requests for `address` only after `seconds` (see the module docstring)."""
        if times is not None and times < 1:
            raise ValueError(f"times must be at least 1, or None for always (got {times})")
        with self._state_lock:
            self._delays.append(_Delay(address, seconds, times))

    def default_error_body(self, status: int) -> Any:
        if status >= 500:
            return self.error_body(
                "InternalServerException", "Internal server error", RequestId=_request_id()
            )
        error, members = {
            429: ("ThrottlingException", {}),
            402: ("ServiceQuotaExceededException", {}),
            403: ("AccessDeniedException", {}),
            404: ("ResourceNotFoundException", {}),
            409: ("ConflictException", {}),
        }.get(status, ("ValidationException", {"Reason": "OTHER"}))
        return self.error_body(error, f"{error} (scripted {status})", **members)

    def addresses(self, request: RecordedRequest) -> list[str]:
        body = _json_object(request.body) or {}
        number = body.get("DestinationPhoneNumber")
        return [number, ANY] if isinstance(number, str) else [ANY]

    # -- the service

    def handle(self, request: RecordedRequest) -> Reply:  # noqa: PLR0911 - one return per check
        if request.method != "POST" or request.path != "/":
            self.violation(request, "JSON 1.0 requests are POST /")
            return _error(
                404, "UnknownOperationException", f"no such resource: {request.method} {request.path}"
            )
        target = request.headers.get("X-Amz-Target") or ""
        if target != self._target_prefix + OPERATION:
            operation = target.removeprefix(self._target_prefix)
            served = (
                f"{operation} is an operation of the model, which the fake does not serve"
                if target.startswith(self._target_prefix) and operation in self._operation_names
                else f"X-Amz-Target {target!r} is not {self._target_prefix}<Operation>"
            )
            self.violation(request, served)
            return _error(400, "UnknownOperationException", served)
        if request.content_type != JSON_10:
            self.violation(request, f"Content-Type is {request.content_type or 'missing'}, not {JSON_10}")
            return _error(400, "SerializationException", "Unsupported Content-Type")
        refused = self._signature_problem(request)
        if refused is not None:
            return refused
        body = _json_object(request.body)
        if body is None:
            self.violation(request, "the body is not a JSON object")
            return _error(400, "ValidationException", "The body cannot be parsed", Reason="CANNOT_PARSE")
        problems = self._problems(body, self._input)
        if problems:
            for name, said in problems:
                self.violation(request, f"body: {name}: {said}")
            return _error(
                400,
                "ValidationException",
                "Invalid parameters",
                Reason="FIELD_VALIDATION_FAILED",
                Fields=[{"Name": name, "Message": said} for name, said in problems],
            )
        self._wait(request)
        scripted = self.scripted(request)
        if scripted is not None:
            return scripted
        message_id = str(uuid.uuid4())
        with self._state_lock:
            self._accepted.append((message_id, body))
        return _json(200, {"MessageId": message_id})

    def _signature_problem(self, request: RecordedRequest) -> Reply | None:
        scope = self.credential_scope(request)
        if scope is None or not request.headers.get("X-Amz-Date"):
            self.violation(request, "no SigV4 Authorization (AWS4-HMAC-SHA256 Credential=...) and X-Amz-Date")
            return _error(400, "MissingAuthenticationTokenException", "Missing Authentication Token")
        if scope.service != SIGNING_NAME:
            self.violation(request, f"signed for the service {scope.service!r}, not {SIGNING_NAME!r}")
            return _error(
                400,
                "InvalidSignatureException",
                f"Credential should be scoped to correct service: '{SIGNING_NAME}'.",
            )
        if self.region is not None and scope.region != self.region:
            return _error(
                400,
                "InvalidSignatureException",
                f"Credential should be scoped to a valid region, not '{scope.region}'.",
            )
        return None

    def _wait(self, request: RecordedRequest) -> None:
        """Sleep for the first scripted delay of the request's addresses (and count it)."""
        addresses = set(self.addresses(request))
        with self._state_lock:
            found = next((d for d in self._delays if d.address in addresses), None)
            if found is None:
                return
            if found.remaining is not None:
                found.remaining -= 1
                if found.remaining == 0:
                    self._delays.remove(found)
        self._stopping.wait(found.seconds)

    def _problems(self, params: dict[str, Any], shape: StructureShape) -> list[tuple[str, str]]:
        """(member, what is wrong) for each member of `params` at fault against `shape`."""
        members = shape.members
        problems = [
            (name, "a required member is missing") for name in shape.required_members if name not in params
        ]
        problems += [(name, "not a member of the model's input") for name in params if name not in members]
        for name, value in params.items():
            if name not in members:
                continue
            report = self._validator.validate(value, members[name])
            if report.has_errors():
                problems += [
                    (name, line.replace(" input", f" {name}"))
                    for line in report.generate_report().splitlines()
                ]
            else:
                problems += [(name, said) for said in _constraints(value, members[name])]
        return problems


def _constraints(value: Any, shape: Shape) -> list[str]:  # noqa: PLR0912 - one branch per constraint
    """What breaks the shape's constraints that botocore's client does not check: maximum lengths,
    sizes and values, patterns (matched whole) and enums. `value` already has the shape's types."""
    found: list[str] = []
    limits = shape.metadata
    if isinstance(shape, StringShape):
        if "max" in limits and len(value) > limits["max"]:
            found.append(f"longer than {limits['max']} characters")
        if "pattern" in limits and not re.fullmatch(limits["pattern"], value):
            found.append(f"does not match {limits['pattern']}")
        if shape.enum and value not in shape.enum:
            found.append(f"{value!r} is not one of {shape.enum}")
    elif shape.type_name in ("integer", "long"):
        if "max" in limits and value > limits["max"]:
            found.append(f"{value} is more than {limits['max']}")
    elif isinstance(shape, MapShape):
        if "max" in limits and len(value) > limits["max"]:
            found.append(f"more than {limits['max']} entries")
        for key, item in value.items():
            found += [f"key {key!r}: {said}" for said in _constraints(key, shape.key)]
            found += [f"[{key!r}]: {said}" for said in _constraints(item, shape.value)]
    elif isinstance(shape, ListShape):
        if "max" in limits and len(value) > limits["max"]:
            found.append(f"more than {limits['max']} items")
        for index, item in enumerate(value):
            found += [f"[{index}]: {said}" for said in _constraints(item, shape.member)]
    elif isinstance(shape, StructureShape):
        for name, item in value.items():
            found += [f"{name}: {said}" for said in _constraints(item, shape.members[name])]
    return found


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _request_id() -> str:
    return str(uuid.uuid4())


def _json(status: int, value: Any) -> Reply:
    return Reply(
        status,
        json.dumps(value).encode(),
        {"Content-Type": JSON_10, "x-amzn-RequestId": _request_id()},
    )


def _error(status: int, error: str, message: str, **members: Any) -> Reply:
    return _json(status, EumFake.error_body(error, message, **members))
