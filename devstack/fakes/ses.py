"""A loopback Amazon SES v2 `SendEmail` (`POST /v2/email/outbound-emails`), checked against botocore's
own service model of SES v2 (`botocore/data/sesv2/2019-09-27/service-2.json`).

Point botocore (or boto3) at it with `endpoint_url=fake.url`; any region and any credentials do.

What it checks, in SES's order: the operation (method and path), a SigV4 `Authorization` header
signed for SES (signing name `ses`; the signature itself is not checked), that the body is JSON, and
the body against the operation's input shape with botocore's `ParamValidator` (the body of a
rest-json request is the parameters, as every member of `SendEmailRequest` goes in the body: names,
types, required members, and no member the model does not have). And three rules the model cannot
carry: the message body has a text or an HTML part, the destination has an address, and each
message tag's name and value are of SES's characters (`[A-Za-z0-9_-]`). A request that breaks them is
recorded in `violations` and answered 400 `BadRequestException`, as SES does. Scripted answers match
the destination's addresses (`ToAddresses`, `CcAddresses`, `BccAddresses`), or every request
(`ANY`).

What can be scripted:

- an SES error: `fail_with(address, code, message)`, answered as SES answers errors, with the code in
  the `x-amzn-ErrorType` header (`Code:namespace`; botocore takes the code before the colon), the
  message in a `{"message"}` body, and the HTTP status the model gives the code (403, 500 or 503 for
  the common AWS errors it does not model);
- any other answer, with `fail(address, status, body)` (`fail_unavailable` for a bare 503, which
  botocore reports as code "503");
- a delay before the answer, `delay(address, seconds)`: longer than the client's read timeout, it
  makes one (stopping the fake ends the wait);
- an outage, `down()` then `up()`: the fake stops listening, so connections are refused, and listens
  again on the same port.

`accepted` holds what it accepted, each with the `MessageId` it answered.
"""

from __future__ import annotations

import re
import secrets
import threading
import uuid
from dataclasses import dataclass
from email.utils import getaddresses
from typing import Any, Self

import botocore.session
from botocore.validate import ParamValidator

from devstack.fakes._server import JSON, FakeServer, RecordedRequest, Reply, reason_phrase

SEND_EMAIL = "/v2/email/outbound-emails"
ANY = "*"
"""The address that matches every request, for a script that is not about one recipient."""
ERROR_NAMESPACE = "http://internal.amazon.com/coral/com.amazonaws.sesv2/"
"""What follows the code in `x-amzn-ErrorType` (botocore reads only the code)."""
COMMON_ERRORS = {
    "AccessDeniedException": 403,
    "UnrecognizedClientException": 403,
    "InvalidClientTokenId": 403,
    "ExpiredTokenException": 403,
    "SignatureDoesNotMatch": 403,
    "InvalidSignatureException": 403,
    "MissingAuthenticationTokenException": 403,
    "ThrottlingException": 400,
    "InternalFailure": 500,
    "ServiceUnavailable": 503,
}
"""The HTTP status of AWS errors every service may answer, which the SES model does not list."""

MAXIMUM_RATE = "Maximum sending rate exceeded."
DAILY_QUOTA = "Daily message quota exceeded."
_SIGV4 = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=[^/\s]+/\d{8}/(?P<region>[^/\s]+)/(?P<service>[^/\s]+)/aws4_request,"
    r"\s*SignedHeaders=[^,\s]+,\s*Signature=[0-9a-f]{64}$"
)
_TAG = re.compile(r"^[A-Za-z0-9_-]+$")


def not_verified(*identities: str, region: str = "us-east-1") -> str:
    """SES's `MessageRejected` message for identities that are not verified (the sender's, or in the
    SES sandbox, recipients')."""
    return (
        "Email address is not verified. The following identities failed the check in region "
        f"{region.upper()}: {', '.join(identities)}"
    )


@dataclass(frozen=True)
class AcceptedEmail:
    """One `SendEmail` the fake accepted: the request's body, and the id it answered."""

    message_id: str
    body: dict[str, Any]


@dataclass
class _Delay:
    address: str
    seconds: float
    remaining: int | None


class SesFake(FakeServer):
    """SES v2's `SendEmail` on 127.0.0.1 (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        model = botocore.session.get_session().get_service_model("sesv2")
        operation = model.operation_model("SendEmail")
        if operation.input_shape is None:
            raise RuntimeError("botocore's sesv2 model has no input for SendEmail")
        self._input_shape = operation.input_shape
        modeled = {
            shape.metadata["error"].get("code", shape.name): shape.metadata["error"]["httpStatusCode"]
            for shape in operation.error_shapes
        }
        self._error_status = {**COMMON_ERRORS, **modeled}
        self._delays: list[_Delay] = []
        self._accepted: list[AcceptedEmail] = []
        self._released = threading.Event()
        """Set when the fake stops, to end delays at once."""

    # -- life cycle

    def start(self) -> Self:
        self._released.clear()
        return super().start()

    def stop(self) -> None:
        self._released.set()
        super().stop()

    # -- what tests read

    @property
    def accepted(self) -> list[AcceptedEmail]:
        with self._lock:
            return list(self._accepted)

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self._delays.clear()
            self._accepted.clear()

    # -- scripting

    def fail_with(
        self, address: str, code: str, message: str, *, status: int | None = None, times: int | None = None
    ) -> None:
        """Answer requests for `address` (or `ANY`) with the SES error `code` and `message`, at the
        status the model gives the code (or `status`)."""
        if status is None:
            if code not in self._error_status:
                raise ValueError(f"SES's model has no status for {code!r}: give one")
            status = self._error_status[code]
        self.fail(
            address,
            status,
            body={"message": message},
            headers={"x-amzn-ErrorType": f"{code}:{ERROR_NAMESPACE}", "x-amzn-RequestId": str(uuid.uuid4())},
            times=times,
        )

    def fail_unavailable(self, address: str = ANY, times: int | None = None) -> None:
        """A bare 503, with no SES error code (botocore reports its code as "503")."""
        self.fail(address, 503, body=b"", headers={"Content-Type": "text/plain"}, times=times)

    def delay(self, address: str, seconds: float, times: int | None = None) -> None:
        """Wait `seconds` before answering requests for `address` (or `ANY`): the next `times` of them,
        or all when None. The request is recorded (and accepted, unless scripted to fail) first."""
        if times is not None and times < 1:
            raise ValueError(f"times must be at least 1, or None for always (got {times})")
        with self._lock:
            self._delays.append(_Delay(address, seconds, times))

    # -- the vendor's side

    def default_error_body(self, status: int) -> Any:
        return {"message": reason_phrase(status) or "error"}

    def addresses(self, request: RecordedRequest) -> list[str]:
        body = request.json if isinstance(request.json, dict) else {}
        destination = body.get("Destination")
        if not isinstance(destination, dict):
            return [ANY]
        listed = [
            address
            for key in ("ToAddresses", "CcAddresses", "BccAddresses")
            if isinstance(destination.get(key), list)
            for address in destination[key]
            if isinstance(address, str)
        ]
        bare = [address for _, address in getaddresses(listed) if address]
        return [*dict.fromkeys([*listed, *bare]), ANY]

    def handle(self, request: RecordedRequest) -> Reply:
        if (request.method, request.path) != ("POST", SEND_EMAIL):
            self.violation(request, f"no such operation (the fake serves POST {SEND_EMAIL})")
            return self._error(404, "UnknownOperationException", "Unknown operation")
        signed = _SIGV4.match(request.headers.get("Authorization") or "")
        if signed is None:
            self.violation(request, "no SigV4 Authorization header")
            return self._error(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
        if signed["service"] != "ses":
            self.violation(request, f"signed for the service {signed['service']!r}, not 'ses'")
            return self._error(403, "InvalidSignatureException", "Credential should be scoped to 'ses'.")
        problems = self._problems(request)
        if problems:
            for problem in problems:
                self.violation(request, problem)
            return self._error(400, "BadRequestException", "; ".join(problems))
        self._wait(request)
        scripted = self.scripted(request)
        if scripted is not None:
            return scripted
        message_id = f"0100{secrets.token_hex(6)}-{uuid.uuid4()}-000000"
        with self._lock:
            self._accepted.append(AcceptedEmail(message_id, dict(request.json or {})))
        return Reply.json(200, {"MessageId": message_id}, {"x-amzn-RequestId": str(uuid.uuid4())})

    def _problems(self, request: RecordedRequest) -> list[str]:
        if request.content_type != JSON:
            return [f"Content-Type is {request.content_type or 'missing'}, not {JSON}"]
        body = request.json
        if not isinstance(body, dict):
            return ["the body is not a JSON object"]
        report = ParamValidator().validate(body, self._input_shape)
        if report.has_errors():
            return [line.strip() for line in report.generate_report().splitlines() if line.strip()]
        problems = []
        simple = body.get("Content", {}).get("Simple")
        if simple is not None and not (simple["Body"].get("Text") or simple["Body"].get("Html")):
            problems.append("Content.Simple.Body has neither Text nor Html")
        destination = body.get("Destination", {})
        if "Destination" in body and not any(
            destination.get(key) for key in ("ToAddresses", "CcAddresses", "BccAddresses")
        ):
            problems.append("Destination has no address")
        for tag in body.get("EmailTags", []):
            for part in ("Name", "Value"):
                if not _TAG.match(tag.get(part, "")):
                    problems.append(f"EmailTags: the tag's {part} {tag.get(part)!r} is not of [A-Za-z0-9_-]")
        return problems

    def _wait(self, request: RecordedRequest) -> None:
        addresses = set(self.addresses(request))
        seconds = 0.0
        with self._lock:
            for delay in self._delays:
                if delay.address in addresses:
                    seconds = delay.seconds
                    if delay.remaining is not None:
                        delay.remaining -= 1
                        if delay.remaining == 0:
                            self._delays.remove(delay)
                    break
        if seconds > 0:
            self._released.wait(seconds)

    @staticmethod
    def _error(status: int, code: str, message: str) -> Reply:
        return Reply.json(
            status,
            {"message": message},
            {"x-amzn-ErrorType": f"{code}:{ERROR_NAMESPACE}", "x-amzn-RequestId": str(uuid.uuid4())},
        )
