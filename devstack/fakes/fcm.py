"""A loopback Firebase Cloud Messaging HTTP v1 API (`POST /v1/projects/{project}/messages:send`) and
the Google OAuth2 token endpoint in front of it (`POST /token`).

`fake.service_account()` is a service-account key whose `token_uri` is this fake, so
`firebase_admin.credentials.Certificate(fake.service_account())` gets its access tokens here. The
messages URL is a constant inside firebase-admin (`_MessagingService._fcm_url`); set it to
`fake.messages_url` on the app's messaging service.

What it checks: the token grant (an RS256 JWT signed with the service account's key, `iss` the
client email, `aud` Google's token endpoint or this fake's `token_uri`: google-auth 2.62 always sends
`https://oauth2.googleapis.com/token`, whatever the key's `token_uri`), then on send a bearer token it
issued, and the body's shape per FCM v1 (`{"message": {...}, "validate_only"?}`, exactly one target,
the documented keys of each part, string-only `data` and headers, `apns.payload.aps`...). FCM reads
proto3 JSON, so each key may be snake_case (what firebase-admin sends) or lowerCamelCase; enum values
are matched ignoring case (firebase-admin sends `android.priority` as `high`, FCM takes it).

What breaks the API is recorded in `violations`: a body that breaks those rules (answered 400
`INVALID_ARGUMENT`), a send without an Authorization header (401 `UNAUTHENTICATED`), a token request
that is not a JWT-bearer grant with a JWT (400 in OAuth2's shape). Credentials that are merely wrong
(an unknown access token, a JWT with a bad signature, issuer or audience) are refused without one,
so tests can provoke them. Scripted failures match `message.token` (or `message.fid`).

How firebase-admin 7.7 retries (what its callers see; read from `firebase_admin/_http_client.py`,
`messaging.py`, urllib3 2.x `Retry`, and checked against this fake):

- Its `JsonHttpClient` mounts an adapter with `DEFAULT_RETRY_CONFIG` on both `http://` and
  `https://`; the extra adapter `_MessagingService` mounts for `https://fcm.googleapis.com` only adds
  a larger connection pool (100; the generic ones keep requests' 10). So the same retries apply to an
  overridden `http://127.0.0.1:PORT/...` URL as to FCM's own.
- `DEFAULT_RETRY_CONFIG = Retry(connect=1, read=1, status=4, status_forcelist=[500, 503],
  raise_on_status=False, backoff_factor=0.5, allowed_methods=None)`: POSTs are retried, up to 4 times
  after the first try, on 500 and 503, and also on 429 and 413 when the answer has a `Retry-After`
  header (urllib3 retries those statuses whenever `Retry-After` is present). It sleeps for
  `Retry-After` when the header is there and positive (capped at 6 hours), else backs off 0, 1, 2, 4
  seconds (the first retry is immediate). After the last try the last answer is returned as it is,
  so the caller sees the 503 only after up to 5 requests (and 7 s of backoff without `Retry-After`).
  A `fail_unavailable(token, 0, times=1)` is therefore invisible to the caller: the SDK retries at
  once and the second request succeeds.
- google-auth's `AuthorizedSession` also answers a 401 by fetching a new token and trying again (up
  to 2 times), so a 401 costs extra `/token` requests before it surfaces as `UNAUTHENTICATED`.
- google-auth does not serialize token refreshes: the first `send_each` of a fresh app may fetch a
  token in more than one of its threads at once, so `token_requests` can be more than 1 (2 is common).

While any FcmFake runs, google-auth's Regional Access Boundary lookup (a call to Google's IAM
Credentials API after each token refresh) is turned off: see `_RegionalAccessBoundaryLookups`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import threading
import time
from typing import Any, Self

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from google.auth.credentials import CredentialsWithRegionalAccessBoundary
from jsonschema import Draft7Validator

from devstack.fakes._server import FakeServer, RecordedRequest, Reply

GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL, not a secret
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
TOKEN_LIFETIME_SECONDS = 3600
_SEND = re.compile(r"^/v1/projects/(?P<project>[^/]+)/messages:send$")
_TARGETS = ("token", "topic", "condition", "fid")
_CLOCK_SKEW_SECONDS = 300
# google.rpc.Code by HTTP status, for error bodies given without one.
_RPC_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_MESSAGES = {
    "INVALID_ARGUMENT": "Request contains an invalid argument.",
    "UNAUTHENTICATED": "Request had invalid authentication credentials. Expected OAuth 2 access token, "
    "login cookie or other valid authentication credential.",
    "NOT_FOUND": "Requested entity was not found.",
    "UNAVAILABLE": "The service is currently unavailable.",
    "INTERNAL": "Internal error encountered.",
}


def _closed(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """A proto message: only these keys (each may also come in lowerCamelCase: see `_snake_keys`)."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


_STRING = {"type": "string"}
_BOOLEAN = {"type": "boolean"}
_OBJECT = {"type": "object"}
_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
_TARGET = {"type": "string", "minLength": 1}
_FCM_OPTIONS = _closed({"analytics_label": _STRING})
# The parts of FCM v1's SendMessageRequest that senders set (Google's discovery document fcm.v1.json,
# plus the fields firebase-admin 7.7 sends that are newer than it: `fid`, two AndroidConfig flags).
SEND_REQUEST_SCHEMA = _closed(
    {
        "message": _closed(
            {
                "name": _STRING,
                "data": _STRING_MAP,
                "notification": _closed({"title": _STRING, "body": _STRING, "image": _STRING}),
                "android": _closed(
                    {
                        "collapse_key": _STRING,
                        "priority": {"type": "string", "pattern": "^(?i:normal|high)$"},
                        "ttl": {"type": "string", "pattern": r"^\d+(\.\d{1,9})?s$"},
                        "restricted_package_name": _STRING,
                        "data": _STRING_MAP,
                        "notification": _OBJECT,
                        "fcm_options": _FCM_OPTIONS,
                        "direct_boot_ok": _BOOLEAN,
                        "bandwidth_constrained_ok": _BOOLEAN,
                        "restricted_satellite_ok": _BOOLEAN,
                    }
                ),
                "webpush": _closed(
                    {
                        "headers": _STRING_MAP,
                        "data": _STRING_MAP,
                        "notification": _OBJECT,
                        "fcm_options": _closed({"link": _STRING, "analytics_label": _STRING}),
                    }
                ),
                "apns": _closed(
                    {
                        "headers": _STRING_MAP,
                        "payload": {"type": "object", "required": ["aps"], "properties": {"aps": _OBJECT}},
                        "fcm_options": _closed({"analytics_label": _STRING, "image": _STRING}),
                        "live_activity_token": _STRING,
                    }
                ),
                "fcm_options": _FCM_OPTIONS,
                **dict.fromkeys(_TARGETS, _TARGET),
            }
        ),
        "validate_only": _BOOLEAN,
    },
    required=("message",),
)
_VALIDATOR = Draft7Validator(SEND_REQUEST_SCHEMA)


class _RegionalAccessBoundaryLookups:
    """Turns off google-auth's Regional Access Boundary lookup while any FcmFake runs.

    After a token refresh, google-auth (2.62) asks Google's IAM Credentials API
    (`https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/{email}/allowedLocations`)
    for the service account's allowed locations, in a background thread, trying up to 6 times with
    exponential backoff. It has no setting to turn that off or to send it elsewhere, and it would take
    the fake's tokens to Google. google-auth skips the lookup where it does not apply (outside
    Google's default universe) by asking the credentials' `_is_regional_access_boundary_lookup_required`;
    while a fake runs, that answers no. Reading the original at import means a google-auth that
    renames it fails loudly here, not by going online.
    """

    _HOOK = "_is_regional_access_boundary_lookup_required"
    _ORIGINAL = vars(CredentialsWithRegionalAccessBoundary)[_HOOK]

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fakes = 0

    def hold(self) -> None:
        with self._lock:
            self._fakes += 1
            setattr(CredentialsWithRegionalAccessBoundary, self._HOOK, _never)

    def release(self) -> None:
        with self._lock:
            self._fakes -= 1
            if self._fakes == 0:
                setattr(CredentialsWithRegionalAccessBoundary, self._HOOK, self._ORIGINAL)


def _never(_: object) -> bool:
    return False


_REGIONAL_ACCESS_BOUNDARY_LOOKUPS = _RegionalAccessBoundaryLookups()


class FcmFake(FakeServer):
    """FCM HTTP v1 and Google's token endpoint on 127.0.0.1 (see the module docstring)."""

    def __init__(self, project_id: str = "demo-project") -> None:
        super().__init__()
        self.project_id = project_id
        self.client_email = f"firebase-adminsdk@{project_id}.iam.gserviceaccount.com"
        self._client_id = str(secrets.randbelow(10**21))
        self._key_id = secrets.token_hex(20)
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._tokens: set[str] = set()
        self._tokens_lock = threading.Lock()

    def start(self) -> Self:
        _REGIONAL_ACCESS_BOUNDARY_LOOKUPS.hold()
        try:
            return super().start()
        except BaseException:
            _REGIONAL_ACCESS_BOUNDARY_LOOKUPS.release()
            raise

    def stop(self) -> None:
        if self.running:
            super().stop()
            _REGIONAL_ACCESS_BOUNDARY_LOOKUPS.release()

    @property
    def token_uri(self) -> str:
        return f"{self.url}/token"

    @property
    def messages_url(self) -> str:
        return f"{self.url}/v1/projects/{self.project_id}/messages:send"

    @property
    def token_requests(self) -> int:
        """How many requests came to `/token` (since the last `reset`)."""
        return sum(1 for r in self.requests if r.path == "/token")

    def service_account(self) -> dict[str, str]:
        """A service-account key in Google's JSON format, whose tokens come from this fake."""
        return service_account_key(
            self.project_id,
            key=self._key,
            key_id=self._key_id,
            client_email=self.client_email,
            client_id=self._client_id,
            token_uri=self.token_uri,
        )

    @staticmethod
    def error_body(
        http_status: int, status: str, error_code: str | None = None, message: str | None = None
    ) -> dict[str, Any]:
        """Google's error body (a google.rpc.Status), with FCM's own `errorCode` in `details` if given."""
        error: dict[str, Any] = {
            "code": http_status,
            "message": message or _MESSAGES.get(status, status),
            "status": status,
        }
        if error_code:
            error["details"] = [{"@type": FCM_ERROR, "errorCode": error_code}]
        return {"error": error}

    def fail_unregistered(self, token: str, times: int | None = None) -> None:
        """The token is dead: 404 NOT_FOUND, errorCode UNREGISTERED (firebase-admin's UnregisteredError)."""
        self.fail(token, 404, self.error_body(404, "NOT_FOUND", "UNREGISTERED"), times=times)

    def fail_unavailable(self, token: str, retry_after_seconds: int, times: int | None = 1) -> None:
        """FCM is overloaded: 503 UNAVAILABLE with `Retry-After` (firebase-admin retries it itself)."""
        self.fail(
            token,
            503,
            self.error_body(503, "UNAVAILABLE", "UNAVAILABLE"),
            headers={"Retry-After": str(retry_after_seconds)},
            times=times,
        )

    def default_error_body(self, status: int) -> Any:
        return self.error_body(status, _RPC_STATUS.get(status, "UNKNOWN"))

    def addresses(self, request: RecordedRequest) -> list[str]:
        body = request.json if isinstance(request.json, dict) else {}
        message = body.get("message")
        if not isinstance(message, dict):
            return []
        # `fid` too: firebase-admin 7.7 deprecates `token` for it (a DeprecationWarning per Message).
        return [message[key] for key in ("token", "fid") if isinstance(message.get(key), str)]

    def handle(self, request: RecordedRequest) -> Reply:  # noqa: PLR0911 - one return per check
        if (request.method, request.path) == ("POST", "/token"):
            return self._grant(request)
        route = _SEND.match(request.path)
        if request.method != "POST" or route is None:
            self.violation(request, "no such operation (the fake serves POST /token and messages:send)")
            return Reply.json(404, self.error_body(404, "NOT_FOUND"))
        authorization = request.headers.get("Authorization")
        if authorization is None:
            self.violation(request, "no Authorization header (FCM needs `Bearer <OAuth2 access token>`)")
            return Reply.json(401, self.error_body(401, "UNAUTHENTICATED"))
        with self._tokens_lock:
            known = authorization.removeprefix("Bearer ") in self._tokens
        if not authorization.startswith("Bearer ") or not known:
            return Reply.json(401, self.error_body(401, "UNAUTHENTICATED"))
        if route["project"] != self.project_id:
            return Reply.json(
                403,
                self.error_body(
                    403,
                    "PERMISSION_DENIED",
                    message="Permission 'cloudmessaging.messages.create' denied on resource '//cloudresource"
                    f"manager.googleapis.com/projects/{route['project']}' (or it may not exist).",
                ),
            )
        body = _snake_keys(request.json, SEND_REQUEST_SCHEMA)
        problems = _problems(request, body)
        if problems:
            for problem in problems:
                self.violation(request, problem)
            message = f"{_MESSAGES['INVALID_ARGUMENT']} ({'; '.join(problems)})"
            return Reply.json(400, self.error_body(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", message))
        scripted = self.scripted(request)
        if scripted is not None:
            return scripted
        # A dry run (validate_only) is checked but not sent; FCM names it `fake_message_id`.
        message_id = (
            "fake_message_id"
            if body.get("validate_only")
            else f"0:{time.time_ns() // 1000}%{secrets.token_hex(8)}"
        )
        return Reply.json(200, {"name": f"projects/{self.project_id}/messages/{message_id}"})

    def _grant(self, request: RecordedRequest) -> Reply:
        """Google's OAuth2 token endpoint, JWT-bearer grant (RFC 7523) only."""
        form = request.form or {}
        if form.get("grant_type") != [JWT_BEARER] or len(form.get("assertion", [])) != 1:
            self.violation(request, f"not a form-urlencoded grant_type={JWT_BEARER} with one assertion")
            return _grant_error("unsupported_grant_type", "Invalid grant_type or assertion.")
        try:
            problem = self._assertion_problem(form["assertion"][0])
        except (ValueError, binascii.Error) as exc:  # not a JWT at all
            self.violation(request, f"the assertion is not a JWT ({exc})")
            return _grant_error("invalid_grant", "Invalid JWT.")
        if problem:
            return _grant_error("invalid_grant", problem)
        token = f"ya29.{secrets.token_urlsafe(32)}"
        with self._tokens_lock:
            self._tokens.add(token)
        return Reply.json(
            200, {"access_token": token, "expires_in": TOKEN_LIFETIME_SECONDS, "token_type": "Bearer"}
        )

    def _assertion_problem(self, assertion: str) -> str | None:
        """Why Google would refuse this JWT (None: it would not); ValueError if it is not a JWT."""
        encoded_header, encoded_claims, encoded_signature = assertion.split(".")
        header, claims = json.loads(_unb64(encoded_header)), json.loads(_unb64(encoded_claims))
        if not (isinstance(header, dict) and isinstance(claims, dict)):
            raise ValueError("its header and claims are not JSON objects")
        if header.get("alg") != "RS256":
            return f"Invalid JWT: alg must be RS256, not {header.get('alg')!r}."
        try:
            self._key.public_key().verify(
                _unb64(encoded_signature),
                f"{encoded_header}.{encoded_claims}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except InvalidSignature:
            return "Invalid JWT Signature."
        if claims.get("iss") != self.client_email:
            return "Invalid grant: account not found"
        if claims.get("aud") not in (GOOGLE_TOKEN_AUDIENCE, self.token_uri):
            return f"Invalid JWT: aud must be {GOOGLE_TOKEN_AUDIENCE}."
        now = time.time()
        issued, expires = claims.get("iat"), claims.get("exp")
        if not (
            isinstance(issued, int)
            and isinstance(expires, int)
            and issued - _CLOCK_SKEW_SECONDS <= now < expires + _CLOCK_SKEW_SECONDS
            and expires - issued <= TOKEN_LIFETIME_SECONDS
        ):
            return (
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
                "timeframe. Check your iat and exp values in the JWT claim."
            )
        return None


def _problems(request: RecordedRequest, body: Any) -> list[str]:
    """How a messages:send request (`body`: its JSON, keys in snake_case) breaks FCM v1."""
    if request.json is None:
        return [f"the body is not JSON (Content-Type {request.content_type or 'missing'})"]
    problems = [
        f"{e.json_path}: {e.message}" for e in sorted(_VALIDATOR.iter_errors(body), key=lambda e: e.json_path)
    ]
    message = body.get("message") if isinstance(body, dict) else None
    if isinstance(message, dict):
        targets = [t for t in _TARGETS if t in message]
        if len(targets) != 1:
            problems.append(f"$.message: needs exactly one of {', '.join(_TARGETS)}, has {targets or 'none'}")
    return problems


def _snake_keys(value: Any, schema: dict[str, Any]) -> Any:
    """`value` with lowerCamelCase keys of proto messages (closed schemas) in snake_case; map keys
    (data, headers, the APNs payload) are the sender's own and stay as they are."""
    if not isinstance(value, dict):
        return value
    properties = schema.get("properties", {})
    closed = schema.get("additionalProperties") is False
    renamed = {(_snake(key) if closed else key): item for key, item in value.items()}
    return {key: _snake_keys(item, properties.get(key, {})) for key, item in renamed.items()}


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _grant_error(error: str, description: str) -> Reply:
    return Reply.json(400, {"error": error, "error_description": description})


def service_account_key(
    project_id: str,
    *,
    key: rsa.RSAPrivateKey | None = None,
    key_id: str = "0" * 40,
    client_email: str | None = None,
    client_id: str = "1",
    token_uri: str = "https://oauth2.googleapis.com/token",  # noqa: S107 - a URL, not a password
) -> dict[str, str]:
    """A Firebase service-account key file as Google issues it, with `key` (a new RSA key if None)."""
    key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": key_id,
        "private_key": pem.decode(),
        "client_email": client_email or f"firebase-adminsdk@{project_id}.iam.gserviceaccount.com",
        "client_id": client_id,
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
    }
