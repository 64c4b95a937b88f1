"""The vendor fakes, driven by the vendors' real SDKs: what the SDKs send is what the fakes check, and
what the fakes answer is what the SDKs understand (so tests that use the fakes test the real thing)."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from email.message import Message
from typing import Any
from urllib.parse import parse_qs, urlsplit

import firebase_admin
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from firebase_admin import credentials, messaging
from google.auth.exceptions import RefreshError
from google.auth.transport.requests import Request as GoogleAuthRequest
from google.oauth2 import service_account
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest
from openapi_schema_validator import OAS30Validator
from python_http_client.exceptions import (
    BadRequestsError,
    InternalServerError,
    TooManyRequestsError,
    UnauthorizedError,
)
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import CustomArg, Mail
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from devstack.fakes import FcmFake, SendGridFake, TwilioFake
from devstack.fakes._server import RecordedRequest
from devstack.fakes.openapi import FormOperationChecker, load_spec
from devstack.fakes.twilio import SPEC_FILE as TWILIO_SPEC_FILE
from devstack.fakes.twilio import SPEC_PATH as TWILIO_SPEC_PATH

API_KEY = "SG.test"
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "twilio-auth-token"
FROM_NUMBER = "+14155550100"
TO_NUMBER = "+14155550123"
MESSAGES_PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
FCM_SCOPES = ["https://www.googleapis.com/auth/firebase.messaging"]


def _mail(to: str = "user@example.com") -> Mail:
    mail = Mail(
        from_email="noreply@example.com", to_emails=to, subject="Your order", plain_text_content="It shipped."
    )
    # Top-level custom_args: the spec's erratum the fake corrects (an object, not a string).
    mail.custom_arg = CustomArg("notification_id", "n-1")
    return mail


# -- SendGrid


@pytest.fixture
def sendgrid_fake() -> Iterator[SendGridFake]:
    with SendGridFake(api_key=API_KEY) as fake:
        yield fake


def test_sendgrid_accepts_the_sdks_mail_and_records_it(sendgrid_fake):
    response = SendGridAPIClient(API_KEY, host=sendgrid_fake.url).send(_mail())

    assert response.status_code == 202
    assert response.body == b""
    assert len(response.headers["X-Message-Id"]) == 22
    [request] = sendgrid_fake.requests
    assert (request.method, request.path) == ("POST", "/v3/mail/send")
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.json["personalizations"] == [{"to": [{"email": "user@example.com"}]}]
    assert request.json["custom_args"] == {"notification_id": "n-1"}


def test_sendgrid_rate_limit_once_then_success(sendgrid_fake):
    client = SendGridAPIClient(API_KEY, host=sendgrid_fake.url)
    reset = int(time.time()) + 60
    sendgrid_fake.fail_rate_limited("user@example.com", reset_epoch=reset, times=1)

    with pytest.raises(TooManyRequestsError) as raised:
        client.send(_mail())
    assert raised.value.status_code == 429
    assert raised.value.headers["X-RateLimit-Remaining"] == "0"
    assert raised.value.headers["x-ratelimit-reset"] == str(reset)
    assert json.loads(raised.value.body) == {"errors": [{"field": None, "message": "too many requests"}]}

    assert client.send(_mail()).status_code == 202


def test_sendgrid_wrong_key_is_refused_without_a_violation(sendgrid_fake):
    with pytest.raises(UnauthorizedError) as raised:
        SendGridAPIClient("SG.wrong", host=sendgrid_fake.url).send(_mail())

    assert raised.value.status_code == 401
    assert raised.value.to_dict == SendGridFake.error_body(
        "The provided authorization grant is invalid, expired, or revoked"
    )
    assert sendgrid_fake.violations == []


def test_sendgrid_scripted_failures_are_counted_exactly_under_concurrency_and_latency_is_parallel(
    sendgrid_fake,
):
    sendgrid_fake.fail("user@example.com", 500, times=3)
    sendgrid_fake.latency_seconds = 0.1
    client = SendGridAPIClient(API_KEY, host=sendgrid_fake.url)

    def send(_: int) -> tuple[int, bytes]:
        try:
            response = client.send(_mail())
        except InternalServerError as exc:
            return exc.status_code, exc.body
        return response.status_code, response.body

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(send, range(10)))
    elapsed = time.monotonic() - started

    assert sorted(status for status, _ in answers) == [202] * 7 + [500] * 3
    assert {body for status, body in answers if status == 500} == {
        json.dumps(SendGridFake.error_body("Internal Server Error")).encode()
    }
    assert elapsed < 0.5, "ten requests with 100 ms latency each should wait at the same time"
    assert client.send(_mail("other@example.com")).status_code == 202


def test_sendgrid_reports_a_body_the_spec_rejects():
    mail = _mail().get()
    del mail["personalizations"]

    with pytest.raises(AssertionError) as raised, SendGridFake(api_key=API_KEY) as fake:  # noqa: PT012
        with pytest.raises(BadRequestsError) as refused:
            SendGridAPIClient(API_KEY, host=fake.url).client.mail.send.post(request_body=mail)
        assert refused.value.to_dict["errors"] == [
            {"message": "'personalizations' is a required property", "field": None, "help": None}
        ]

    assert "POST /v3/mail/send: body: 'personalizations' is a required property" in str(raised.value)


def test_sendgrid_unknown_path_is_a_sendgrid_shaped_404(sendgrid_fake):
    answer = requests.get(f"{sendgrid_fake.url}/v3/templates", timeout=5)

    assert answer.status_code == 404
    assert answer.json() == SendGridFake.error_body("resource not found")
    assert sendgrid_fake.pop_violations() == [
        "GET /v3/templates: no such operation (the fake serves POST /v3/mail/send)"
    ]


# -- Twilio


@pytest.fixture
def twilio_fake() -> Iterator[TwilioFake]:
    with TwilioFake(
        ACCOUNT_SID, AUTH_TOKEN, api_key_sid="SK" + "0" * 32, api_key_secret="key-secret"
    ) as fake:
        yield fake


def _twilio(fake: TwilioFake, **options: str) -> Client:
    return Client(ACCOUNT_SID, AUTH_TOKEN, http_client=fake.http_client(timeout=5), **options)


def test_twilio_creates_a_message_and_records_it(twilio_fake):
    message = _twilio(twilio_fake).messages.create(to=TO_NUMBER, from_=FROM_NUMBER, body="Your code is 1234")

    assert message.sid.startswith("SM")
    assert len(message.sid) == 34
    assert (message.status, message.to, message.from_, message.num_segments) == (
        "queued",
        TO_NUMBER,
        FROM_NUMBER,
        "1",
    )
    assert message.date_created is not None  # the SDK parsed the RFC 2822 date
    [request] = twilio_fake.requests
    assert (request.method, request.path) == ("POST", MESSAGES_PATH)
    assert (
        request.headers["Authorization"]
        == "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    )
    assert request.form == {"To": [TO_NUMBER], "From": [FROM_NUMBER], "Body": ["Your code is 1234"]}
    assert twilio_fake.original_urls == [f"https://api.twilio.com{MESSAGES_PATH}"]


def test_twilio_region_and_edge_are_kept_in_the_original_url(twilio_fake):
    _twilio(twilio_fake, region="au1", edge="sydney").messages.create(
        to=TO_NUMBER, messaging_service_sid="MG" + "a" * 32, body="hi"
    )

    assert twilio_fake.original_urls == [f"https://api.sydney.au1.twilio.com{MESSAGES_PATH}"]


def test_twilio_accepts_an_api_key_for_the_account(twilio_fake):
    client = Client(
        "SK" + "0" * 32, "key-secret", account_sid=ACCOUNT_SID, http_client=twilio_fake.http_client(timeout=5)
    )

    assert client.messages.create(to=TO_NUMBER, from_=FROM_NUMBER, body="hi").status == "queued"


def test_twilio_created_message_matches_the_specs_response_schema(twilio_fake):
    answer = requests.post(
        twilio_fake.url + MESSAGES_PATH,
        data={"To": TO_NUMBER, "From": FROM_NUMBER, "Body": "é" * 71},
        auth=(ACCOUNT_SID, AUTH_TOKEN),
        timeout=5,
    )

    assert answer.status_code == 201
    assert answer.headers["Content-Type"] == "application/json"
    registry: Registry[object] = Registry().with_resource(
        "urn:twilio", Resource.from_contents(load_spec(TWILIO_SPEC_FILE), default_specification=DRAFT4)
    )
    schema = {"$ref": "urn:twilio#/components/schemas/api.v2010.account.message"}
    OAS30Validator(schema, registry=registry).validate(answer.json())
    assert answer.json()["num_segments"] == "2"  # 71 characters that need UCS-2


def test_twilio_scripted_failure_once_then_success(twilio_fake):
    client = _twilio(twilio_fake)
    twilio_fake.fail(TO_NUMBER, 429, TwilioFake.error_body(429, 20429, "Too Many Requests"), times=1)

    with pytest.raises(TwilioRestException) as raised:
        client.messages.create(to=TO_NUMBER, from_=FROM_NUMBER, body="hi")
    assert (raised.value.status, raised.value.code) == (429, 20429)
    assert "Too Many Requests" in raised.value.msg

    assert client.messages.create(to=TO_NUMBER, from_=FROM_NUMBER, body="hi").status == "queued"


def test_twilio_wrong_token_is_refused_without_a_violation(twilio_fake):
    client = Client(ACCOUNT_SID, "wrong", http_client=twilio_fake.http_client(timeout=5))

    with pytest.raises(TwilioRestException) as raised:
        client.messages.create(to=TO_NUMBER, from_=FROM_NUMBER, body="hi")

    assert (raised.value.status, raised.value.code) == (401, 20003)
    assert twilio_fake.violations == []


def test_twilio_reports_a_request_the_spec_rejects():
    with pytest.raises(AssertionError) as raised, TwilioFake(ACCOUNT_SID, AUTH_TOKEN) as fake:  # noqa: PT012
        client = _twilio(fake)
        answer = client.request(
            "POST", f"https://api.twilio.com{MESSAGES_PATH}", data={"Body": "hi", "Colour": "blue"}
        )
        assert answer.status_code == 400
        assert json.loads(answer.text)["code"] == 21604

    report = str(raised.value)
    assert "'To' is a required property" in report
    assert "'Colour' is not a field the spec documents" in report
    assert "one of From, MessagingServiceSid is required" in report


def test_twilio_spec_checker_agrees_with_openapi_core():
    """The fake checks forms with jsonschema for speed (see devstack/fakes/openapi.py); openapi-core,
    the reference for OpenAPI 3, must accept and refuse the same requests."""
    openapi = OpenAPI.from_dict(load_spec(TWILIO_SPEC_FILE))
    checker = FormOperationChecker(load_spec(TWILIO_SPEC_FILE), "post", TWILIO_SPEC_PATH)
    service = "MG" + "a" * 32
    forms: list[tuple[str, dict[str, Any]]] = [
        (ACCOUNT_SID, {"To": TO_NUMBER, "From": FROM_NUMBER, "Body": "hi"}),
        (
            ACCOUNT_SID,
            {
                "To": TO_NUMBER,
                "MessagingServiceSid": service,
                "MediaUrl": ["https://example.com/a.png", "https://example.com/b.png"],
                "ProvideFeedback": "true",
                "Attempt": "3",
                "MaxPrice": "0.5",
                "SendAt": "2030-01-01T00:00:00Z",
                "ContentRetention": "retain",
            },
        ),
        (ACCOUNT_SID, {"From": FROM_NUMBER, "Body": "no To"}),
        (ACCOUNT_SID, {"To": TO_NUMBER, "Attempt": "three"}),
        (ACCOUNT_SID, {"To": TO_NUMBER, "ProvideFeedback": "yes", "ForceDelivery": "0"}),
        (ACCOUNT_SID, {"To": TO_NUMBER, "ProvideFeedback": "maybe"}),
        (ACCOUNT_SID, {"To": TO_NUMBER, "ContentRetention": "forever"}),
        (ACCOUNT_SID, {"To": TO_NUMBER, "MessagingServiceSid": "MG123"}),
        (ACCOUNT_SID, {"To": TO_NUMBER, "SendAt": "tomorrow"}),
        ("AC123", {"To": TO_NUMBER, "From": FROM_NUMBER, "Body": "hi"}),
    ]
    disagreements = []
    for account, form in forms:
        prepared = requests.Request(
            "POST",
            f"https://api.twilio.com/2010-04-01/Accounts/{account}/Messages.json",
            data=form,
            auth=("u", "p"),
        ).prepare()
        reference = openapi.unmarshal_request(RequestsOpenAPIRequest(prepared)).errors
        headers = Message()
        headers["Content-Type"] = str(prepared.headers["Content-Type"])
        body = str(prepared.body)
        recorded = RecordedRequest(
            "POST", str(urlsplit(prepared.url).path), {}, headers, body.encode(), None, parse_qs(body)
        )
        ours = checker.errors(recorded)
        if bool(reference) != bool(ours):
            disagreements.append((form, [str(e) for e in reference], ours))
    assert disagreements == []


def test_twilio_account_sid_must_be_one():
    with pytest.raises(ValueError, match="AC and 32 hex digits"):
        TwilioFake("AC123", AUTH_TOKEN)


# -- FCM


@pytest.fixture
def fcm_fake() -> Iterator[FcmFake]:
    with FcmFake(project_id="demo-project") as fake:
        yield fake


@pytest.fixture
def fcm_app(fcm_fake) -> Iterator[firebase_admin.App]:
    app = firebase_admin.initialize_app(
        credentials.Certificate(fcm_fake.service_account()), name=f"fake-fcm-{uuid.uuid4()}"
    )
    # firebase-admin has no option for its endpoint; the fake's own test may reach in.
    messaging._get_messaging_service(app)._fcm_url = fcm_fake.messages_url
    yield app
    firebase_admin.delete_app(app)


def _push(token: str) -> messaging.Message:
    return messaging.Message(
        token=token,
        notification=messaging.Notification(title="Order shipped", body="It is on its way"),
        data={"order_id": "42"},
        android=messaging.AndroidConfig(priority="high", ttl=3.5, collapse_key="orders"),
        apns=messaging.APNSConfig(
            headers={"apns-priority": "10"}, payload=messaging.APNSPayload(aps=messaging.Aps(sound="default"))
        ),
        webpush=messaging.WebpushConfig(headers={"Urgency": "high"}),
    )


@pytest.mark.filterwarnings("ignore:Message.token is deprecated:DeprecationWarning")
def test_fcm_sends_the_sdks_messages_with_a_token_it_issued(fcm_fake, fcm_app):
    answer = messaging.send_each([_push("device-a"), _push("device-b")], app=fcm_app)

    assert answer.success_count == 2
    assert all(r.message_id.startswith("projects/demo-project/messages/0:") for r in answer.responses)
    # Each of send_each's threads may fetch its own first token (see the FcmFake docstring).
    assert 1 <= fcm_fake.token_requests <= 2
    grants = [r for r in fcm_fake.requests if r.path == "/token"]
    sends = [r for r in fcm_fake.requests if r.path != "/token"]
    assert all(g.form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"] for g in grants)
    assert {s.path for s in sends} == {"/v1/projects/demo-project/messages:send"}
    assert all(s.headers["Authorization"].startswith("Bearer ya29.") for s in sends)
    assert {s.json["message"]["token"] for s in sends} == {"device-a", "device-b"}
    assert sends[0].json["message"]["android"] == {
        "collapse_key": "orders",
        "priority": "high",
        "ttl": "3.500000000s",
    }


@pytest.mark.filterwarnings("ignore:Message.token is deprecated:DeprecationWarning")
def test_fcm_unregistered_token_is_an_unregistered_error(fcm_fake, fcm_app):
    fcm_fake.fail_unregistered("dead-device")

    answer = messaging.send_each([_push("dead-device"), _push("live-device")], app=fcm_app)

    dead, live = answer.responses
    assert isinstance(dead.exception, messaging.UnregisteredError)
    assert dead.exception.http_response.status_code == 404
    assert dead.exception.http_response.headers["Content-Type"] == "application/json"
    assert live.success


@pytest.mark.filterwarnings("ignore:Message.token is deprecated:DeprecationWarning")
def test_fcm_quota_once_then_success(fcm_fake, fcm_app):
    fcm_fake.fail(
        "busy-device", 429, FcmFake.error_body(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED"), times=1
    )

    [first] = messaging.send_each([_push("busy-device")], app=fcm_app).responses
    [second] = messaging.send_each([_push("busy-device")], app=fcm_app).responses

    assert isinstance(first.exception, messaging.QuotaExceededError)
    assert second.success


@pytest.mark.filterwarnings("ignore:Message.token is deprecated:DeprecationWarning")
def test_fcm_sdk_retries_503_itself_so_one_unavailable_is_never_seen(fcm_fake, fcm_app):
    """The retry finding in devstack/fakes/fcm.py's docstring: the caller never sees this 503."""
    fcm_fake.fail_unavailable("flaky-device", retry_after_seconds=0, times=1)

    [response] = messaging.send_each([_push("flaky-device")], app=fcm_app).responses

    assert response.success
    assert [r.json["message"]["token"] for r in fcm_fake.requests if r.json] == ["flaky-device"] * 2


def _access_token(fake: FcmFake) -> str:
    grant = service_account.Credentials.from_service_account_info(fake.service_account(), scopes=FCM_SCOPES)
    grant.refresh(GoogleAuthRequest())
    return str(grant.token)


def test_fcm_accepts_camel_case_keys_and_a_dry_run(fcm_fake):
    answer = requests.post(
        fcm_fake.messages_url,
        json={
            "validateOnly": True,
            "message": {
                "topic": "news",
                "android": {"collapseKey": "k", "directBootOk": True, "priority": "HIGH"},
                "apns": {"payload": {"aps": {"content-available": 1}, "customKey": {"any": 1}}},
                "fcmOptions": {"analyticsLabel": "launch"},
            },
        },
        headers={"Authorization": f"Bearer {_access_token(fcm_fake)}"},
        timeout=5,
    )

    assert answer.status_code == 200
    assert answer.json() == {"name": "projects/demo-project/messages/fake_message_id"}


def test_fcm_reports_a_message_that_breaks_the_api():
    with pytest.raises(AssertionError) as raised, FcmFake() as fake:  # noqa: PT012
        answer = requests.post(
            fake.messages_url,
            json={
                "message": {
                    "token": "t",
                    "topic": "news",
                    "data": {"count": 1},
                    "android": {"priority": "urgent"},
                    "apns": {"payload": {}},
                }
            },
            headers={"Authorization": f"Bearer {_access_token(fake)}"},
            timeout=5,
        )
        assert answer.status_code == 400
        assert answer.json()["error"]["status"] == "INVALID_ARGUMENT"

    report = str(raised.value)
    assert "$.message.data.count: 1 is not of type 'string'" in report
    assert "$.message.android.priority: 'urgent' does not match" in report
    assert "$.message.apns.payload: 'aps' is a required property" in report
    assert "needs exactly one of token, topic, condition, fid, has ['token', 'topic']" in report


def test_fcm_refuses_a_grant_signed_with_another_key_without_a_violation(fcm_fake):
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = other_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    grant = service_account.Credentials.from_service_account_info(
        {**fcm_fake.service_account(), "private_key": pem}, scopes=FCM_SCOPES
    )

    with pytest.raises(RefreshError, match="Invalid JWT Signature"):
        grant.refresh(GoogleAuthRequest())

    unknown = requests.post(
        fcm_fake.messages_url, json={}, headers={"Authorization": "Bearer nope"}, timeout=5
    )
    assert unknown.status_code == 401
    assert unknown.json()["error"]["status"] == "UNAUTHENTICATED"
    assert fcm_fake.violations == []
