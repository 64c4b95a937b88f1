"""Push through Firebase Cloud Messaging's HTTP v1 API, with `firebase-admin`; APNs and web push
go through FCM too, each with its own settings.

A batch is one `send_each` call (at most 500 messages a call, FCM's limit), which firebase-admin
sends concurrently. How FCM's answers are classified
(https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode):

- **Transient** (retried; `Retry-After` honoured): `UNAVAILABLE`, `INTERNAL`, `QUOTA_EXCEEDED`,
  timeouts and connection errors, and the credentials' own problems (`UNAUTHENTICATED`,
  `PERMISSION_DENIED`): the message is fine and the account is not, so it is kept for retry (then
  dead-lettered and redriven once fixed).
- **Permanent** (FAILED): `INVALID_ARGUMENT`, `SENDER_ID_MISMATCH`, `THIRD_PARTY_AUTH_ERROR`, and
  `UNREGISTERED`, which also means the token is dead: the caller removes it from the recipient.

firebase-admin retries 500 and 503 itself, up to four times and sleeping for whatever `Retry-After`
says. That would hold a whole batch (and its Lambda) for as long as FCM asks, so this provider
mounts an adapter without status retries: the failed message goes back to its queue, which is the
retry that respects Retry-After without holding anything.

The service account's key is read without OpenSSL's RSA key check. firebase-admin's
`credentials.Certificate` has google-auth load it with cryptography's `load_pem_private_key`, which
runs OpenSSL's full check of the key, primality tests of both factors included: 37 ms of every push
cold start (measured), in one C call. The key is the operator's own, from the FCM_CREDENTIALS secret
(a file Google issued), so what needs catching is a damaged or wrongly pasted key, not a hostile
one. So the key is read with `unsafe_skip_rsa_key_validation=True` (cryptography warns that an
invalid key read that way may make OpenSSL misbehave), and `rsa_numbers_problem` checks instead, on
its numbers as Python ints (microseconds), that they are consistent: an RSA key of at least 2048
bits, both factors odd and above 2**256, p*q == n, 1 < e < n, 0 < d < n,
e*d == 1 mod lcm(p-1, q-1), dmp1 == d mod (p-1), dmq1 == d mod (q-1) and iqmp*q == 1 mod p (which
also rules out p == q). Changing any one number, other than to an equivalent value, breaks one of
these. The factors are not tested for primality: only a broken key generator makes a composite
one, and Google's token endpoint would refuse its signatures as it refuses a wrong key's. A key
that fails, or cannot be read, fails the provider's build with a ConfigurationError naming the
service account (never the key), as an unusable credentials document does.
`ServiceAccountCredential` then builds what `Certificate` builds from the same document.
"""

from __future__ import annotations

import math
import time
import uuid
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

import firebase_admin
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from firebase_admin import _http_client, _utils, credentials, exceptions, messaging
from google.auth import crypt
from google.auth.credentials import DEFAULT_UNIVERSE_DOMAIN
from google.oauth2 import service_account
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from notifier.errors import (
    ConfigurationError,
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
    UnregisteredAddressError,
)
from notifier.models.channels import Channel, Priority
from notifier.models.envelope import PushMessage
from notifier.platform.credentials import FirebaseServiceAccount, parse_credentials
from notifier.platform.logs import correlation_keys, log_keys, logger
from notifier.providers.base import Delivery, OnResult, Provider, Result, retry_after_seconds

FCM_BATCH_LIMIT = 500
FCM_ORIGIN = "https://fcm.googleapis.com"

TRANSIENT_CODES = frozenset(
    {"UNAVAILABLE", "INTERNAL", "QUOTA_EXCEEDED", "RESOURCE_EXHAUSTED", "DEADLINE_EXCEEDED", "UNKNOWN"}
    | {"UNAUTHENTICATED", "PERMISSION_DENIED"}
)

MIN_RSA_KEY_BITS = 2048
MIN_RSA_FACTOR = 2**256
# The scopes firebase-admin's credentials.Certificate asks for (firebase_admin.credentials._scopes,
# 7.7.0), which it has no public name for; tests/unit/test_vendor_sdk_setup.py checks they agree.
FIREBASE_SCOPES = (
    "https://www.googleapis.com/auth/cloud-platform",
    "https://www.googleapis.com/auth/datastore",
    "https://www.googleapis.com/auth/devstorage.read_write",
    "https://www.googleapis.com/auth/firebase",
    "https://www.googleapis.com/auth/identitytoolkit",
    "https://www.googleapis.com/auth/userinfo.email",
)


@dataclass(frozen=True)
class FcmConfig:
    service_account: dict[str, Any]
    timeout_seconds: float = 5.0
    messages_url: str | None = None
    """Where to POST messages instead of FCM's own URL: for tests and emulators only."""


class FcmProvider(Provider):
    name = "fcm"

    def __init__(self, config: FcmConfig, *, max_concurrency: int = 10) -> None:
        super().__init__(Channel.PUSH, max_concurrency=max_concurrency)
        self.config = config
        self.app = firebase_admin.initialize_app(
            ServiceAccountCredential(config.service_account),
            {"httpTimeout": config.timeout_seconds},
            name=f"notifier-{uuid.uuid4()}",
        )
        _tune_messaging_service(self.app, config.messages_url, pool_size=max(10, max_concurrency))

    def send(self, delivery: Delivery) -> str:
        [result] = self.send_batch([delivery])
        if isinstance(result, DeliveryError):
            raise result
        return result

    def _send_many(self, deliveries: Sequence[Delivery], on_result: OnResult) -> list[Result]:
        results: list[Result] = []
        for start in range(0, len(deliveries), FCM_BATCH_LIMIT):
            chunk = deliveries[start : start + FCM_BATCH_LIMIT]
            for index, result in enumerate(self._send_chunk(chunk), start):
                on_result(index, result)
                results.append(result)
        return results

    def _send_chunk(self, chunk: Sequence[Delivery]) -> list[Result]:
        """One `send_each` call (at most FCM_BATCH_LIMIT messages): one result per message; the
        call's time is the vendor latency of each of its messages."""
        keys = correlation_keys(d.correlation_id for d in chunk)
        with log_keys(
            **keys, notification_ids=[d.notification_id for d in chunk], channel=self.channel.value
        ):
            return self._send_each(chunk)

    def _send_each(self, chunk: Sequence[Delivery]) -> list[Result]:
        try:
            with warnings.catch_warnings():
                # Apps register FCM registration tokens, which FCM's v1 API takes as
                # `message.token`; firebase-admin 7.7 marks that field deprecated in favour of
                # Firebase installation IDs. Tokens are what recipients have, so this is noise.
                warnings.filterwarnings("ignore", "Message.token is deprecated", DeprecationWarning)
                built = [build_message(d) for d in chunk]
            started = time.perf_counter()
            try:
                answer = messaging.send_each(built, app=self.app)
            finally:
                self.observe_latency(chunk, started)
        except exceptions.FirebaseError as exc:  # the whole call failed, e.g. no access token
            return [classify(exc) for _ in chunk]
        except ValueError as exc:  # a message firebase-admin refuses to build
            return [PermanentDeliveryError(f"fcm: {exc}") for _ in chunk]
        except Exception as exc:  # nobody classified it: retry these messages, not the batch
            logger.exception("unexpected error from firebase-admin; the messages will be retried")
            reason = f"fcm: unexpected {type(exc).__name__}: {exc}"
            return [TransientDeliveryError(reason) for _ in chunk]
        return [str(r.message_id) if r.success else classify(r.exception) for r in answer.responses]

    def close(self) -> None:
        super().close()
        firebase_admin.delete_app(self.app)


class ServiceAccountCredential(credentials.Base):  # type: ignore[misc]  # firebase-admin is untyped
    """firebase-admin's `credentials.Certificate` for a service account key document, with the key
    read and checked as the module's docstring says; a ConfigurationError if it is not usable.

    Its Google credential is the one `Certificate` builds (google-auth's
    `service_account.Credentials.from_service_account_info` with firebase-admin's scopes): tokens
    come from the document's `token_uri`, and `project_id` is where firebase-admin looks for the
    app's project.
    """

    def __init__(self, info: Mapping[str, Any]) -> None:
        super().__init__()
        name = str(info.get("client_email") or "FCM service account")
        account = parse_credentials(FirebaseServiceAccount, name, dict(info))
        key = load_rsa_key(name, account.private_key)
        # google-auth's constructors are unannotated; these are the calls from_service_account_info makes.
        signer = crypt.RSASigner(key, key_id=info.get("private_key_id"))  # type: ignore[no-untyped-call]
        self._g_credential = service_account.Credentials(  # type: ignore[no-untyped-call]
            signer,
            account.client_email,
            account.token_uri,
            scopes=list(FIREBASE_SCOPES),
            project_id=account.project_id,
            universe_domain=info.get("universe_domain", DEFAULT_UNIVERSE_DOMAIN),
            trust_boundary=info.get("trust_boundary"),
        )
        self.project_id = account.project_id
        """The app's project, as `Certificate.project_id` gives it (firebase-admin looks here)."""

    def get_credential(self) -> service_account.Credentials:
        return self._g_credential


def load_rsa_key(name: str, pem: str) -> rsa.RSAPrivateKey:
    """The RSA key in `pem`, without OpenSSL's key check but with this module's (see its docstring);
    a ConfigurationError naming the credentials `name`, and never the key, if it is not usable."""
    try:
        key = load_pem_private_key(pem.encode(), password=None, unsafe_skip_rsa_key_validation=True)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        problem: str | None = "not an unencrypted private key in PEM"
    else:
        if not isinstance(key, rsa.RSAPrivateKey):
            problem = "not an RSA key"
        elif key.key_size < MIN_RSA_KEY_BITS:
            problem = f"an RSA key of {key.key_size} bits, fewer than {MIN_RSA_KEY_BITS}"
        else:
            problem = rsa_numbers_problem(key.private_numbers())
            if problem is None:
                return key
    raise ConfigurationError(f"credentials {name!r} are not usable: private_key ({problem})")


def rsa_numbers_problem(numbers: rsa.RSAPrivateNumbers) -> str | None:  # noqa: PLR0911 - one per check
    """Which relation between an RSA key's numbers does not hold (None: all hold); see the module's
    docstring. Checked in order, so each check can rely on the ones before it."""
    p, q, d = numbers.p, numbers.q, numbers.d
    n, e = numbers.public_numbers.n, numbers.public_numbers.e
    if not (p > MIN_RSA_FACTOR and q > MIN_RSA_FACTOR):
        return "a factor of the modulus is too small"
    if p % 2 == 0 or q % 2 == 0:
        return "a factor of the modulus is even"
    if p * q != n:
        return "p*q is not the modulus"
    if not (1 < e < n and 0 < d < n):
        return "an exponent is out of range"
    if e * d % math.lcm(p - 1, q - 1) != 1:
        return "e*d is not 1 mod lcm(p-1, q-1)"
    if numbers.dmp1 != d % (p - 1) or numbers.dmq1 != d % (q - 1):
        return "the CRT exponents are not d mod (p-1) and d mod (q-1)"
    if not (0 < numbers.iqmp < p and numbers.iqmp * q % p == 1):
        return "the CRT coefficient is not the inverse of q mod p"
    return None


def build_message(delivery: Delivery) -> messaging.Message:
    """The FCM message: one notification, with Android, APNs and web push settings by priority."""
    message = delivery.message
    if not isinstance(message, PushMessage):
        raise ValueError(f"fcm sends push notifications, not {message.channel}")
    urgent = delivery.priority is Priority.CRITICAL
    return messaging.Message(
        token=delivery.address,
        notification=messaging.Notification(title=message.title, body=message.body),
        data=dict(message.data),
        android=messaging.AndroidConfig(priority="high" if urgent else "normal"),
        apns=messaging.APNSConfig(
            # 10 delivers at once; 5 lets iOS save power by grouping (Apple's apns-priority header).
            headers={"apns-priority": "10" if urgent else "5", "apns-push-type": "alert"},
            payload=messaging.APNSPayload(aps=messaging.Aps(sound="default")),
        ),
        webpush=messaging.WebpushConfig(headers={"Urgency": "high" if urgent else "normal"}),
    )


def classify(exc: BaseException | None) -> DeliveryError:
    """The delivery error for a failed FCM send (see the module's docstring)."""
    if not isinstance(exc, exceptions.FirebaseError):
        return TransientDeliveryError(f"fcm: unexpected failure ({exc!r})")
    reason = f"fcm {_fcm_code(exc)}: {exc}"
    if isinstance(exc, messaging.UnregisteredError):
        return UnregisteredAddressError(reason)
    # Checked before the RPC codes they carry (PERMISSION_DENIED, UNAUTHENTICATED): these name the
    # token's sender or the APNs / web push key, which no retry fixes.
    if isinstance(exc, messaging.SenderIdMismatchError | messaging.ThirdPartyAuthError):
        return PermanentDeliveryError(reason)
    if isinstance(exc, messaging.QuotaExceededError) or exc.code in TRANSIENT_CODES:
        headers = exc.http_response.headers if exc.http_response is not None else {}
        return TransientDeliveryError(reason, retry_after_seconds(headers.get("Retry-After")))
    return PermanentDeliveryError(reason)


_FCM_CODES: dict[type[exceptions.FirebaseError], str] = {
    messaging.UnregisteredError: "UNREGISTERED",
    messaging.SenderIdMismatchError: "SENDER_ID_MISMATCH",
    messaging.ThirdPartyAuthError: "THIRD_PARTY_AUTH_ERROR",
    messaging.QuotaExceededError: "QUOTA_EXCEEDED",
}


def _fcm_code(exc: exceptions.FirebaseError) -> str:
    """FCM's own error code where it gave one (UNREGISTERED, QUOTA_EXCEEDED...), else the RPC code."""
    return _FCM_CODES.get(type(exc), str(exc.code))


class _MessagingService(messaging._MessagingService):  # type: ignore[misc]  # firebase-admin is untyped
    """firebase-admin's messaging service, built as firebase-admin builds it, except that its async
    HTTP client is built when first used rather than with the service.

    firebase-admin's service builds an `httpx.AsyncClient` for the `*_async` functions as it starts:
    HTTP/2 (h2 is imported for it) and three transports, each loading the CA bundle into an SSL
    context of its own, about 80 ms of the push function's cold start. This provider calls
    `send_each`, which goes through the service's `requests` client only, so the async client is left
    unbuilt; anything that calls an `*_async` function with this app still gets it, then.
    """

    def __init__(self, app: firebase_admin.App) -> None:
        # firebase_admin.messaging._MessagingService.__init__ (7.7.0) but the async client;
        # tests/unit/test_vendor_sdk_setup.py checks that it builds the same service as firebase-admin's.
        project_id = app.project_id
        if not project_id:
            raise ValueError(
                "Project ID is required to access Cloud Messaging service. Either set the "
                "projectId option, or use service account credentials. Alternatively, set the "
                "GOOGLE_CLOUD_PROJECT environment variable."
            )
        self._project_id = project_id
        self._fcm_url = messaging._MessagingService.FCM_URL.format(project_id)
        self._fcm_topic_url = f"https://fcm.googleapis.com/v1/projects/{project_id}/registrations"
        self._fcm_headers = {
            "X-GOOG-API-FORMAT-VERSION": "2",
            "X-FIREBASE-CLIENT": f"fire-admin-python/{firebase_admin.__version__}",
        }
        self._timeout = app.options.get("httpTimeout", _http_client.DEFAULT_TIMEOUT_SECONDS)
        self._credential = app.credential.get_credential()
        self._client = _http_client.JsonHttpClient(credential=self._credential, timeout=self._timeout)
        fcm_adapter = HTTPAdapter(
            pool_connections=100, pool_maxsize=100, max_retries=_http_client.DEFAULT_RETRY_CONFIG
        )
        self._client.session.mount(FCM_ORIGIN, fcm_adapter)

    @cached_property
    def _async_client(self) -> Any:
        return _http_client.HttpxAsyncClient(credential=self._credential, timeout=self._timeout)

    def close(self) -> None:
        if "_async_client" in self.__dict__:  # built: closed as firebase-admin closes it
            super().close()


def _tune_messaging_service(app: firebase_admin.App, messages_url: str | None, *, pool_size: int) -> None:
    """No status retries inside the SDK (see the module's docstring), and an optional endpoint.

    firebase-admin offers neither as an option, so this sets them on its messaging service, which
    is this module's `_MessagingService`: the app keeps it, and `messaging.send_each` uses it.
    """
    service = _utils.get_app_service(app, messaging._MESSAGING_ATTRIBUTE, _MessagingService)
    adapter = HTTPAdapter(
        pool_connections=pool_size,
        pool_maxsize=pool_size,
        max_retries=Retry(total=1, connect=1, read=0, status=0, respect_retry_after_header=False),
    )
    origins = {FCM_ORIGIN}
    if messages_url:
        service._fcm_url = messages_url
        parts = urlsplit(messages_url)
        origins.add(f"{parts.scheme}://{parts.netloc}")
    for origin in origins:
        service._client.session.mount(origin, adapter)
