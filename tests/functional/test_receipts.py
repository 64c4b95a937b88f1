"""Delivery receipts end to end in moto: a notification published and sent, then the vendor's signed
webhook through the webhooks function, and what `GET /event/{id}` and the suppression list then say.

The signatures are real: a P-256 key pair made here is the SendGrid account's (its public key in the
SendGrid credentials, as an operator puts it there), and Twilio's are computed as Twilio does with the
auth token of the Twilio credentials."""

from __future__ import annotations

import base64
import copy
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from devstack.lambda_events import LambdaContext, api_event, load_event
from devstack.provision import Deployment
from functions.webhooks import app as webhooks_app
from notifier import runtime
from notifier.models.channels import Channel
from notifier.platform.settings import consumer_settings
from notifier.providers.factory import sandbox_provider
from notifier.receipts import sendgrid, twilio
from notifier.receipts.sandbox_keys import SandboxKeys, sign_sendgrid
from notifier.vendors import use_provider
from tests.functional.test_flow import run_consumers_once

TWILIO_TOKEN = "0123456789abcdef0123456789abcdef"
SHARED_KEY_ID = "webhooks_sharedkey_01"
SHARED_KEY = "shared-key-secret-0123456789abcdef"
ACCOUNT = "AC" + "a" * 32
Handler = Callable[[dict[str, Any]], dict[str, Any]]


@pytest.fixture(scope="module")
def sendgrid_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def vendors(deployment, monkeypatch, sendgrid_key) -> None:
    """SendGrid and Twilio credentials as an operator stores them, with what receipts are checked
    with (the webhook verification key, the auth token). Messages still go to the sandbox's outbox,
    as these tests look at receipts, not at sending."""
    public = sendgrid_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    secrets = boto3.client("secretsmanager")
    sendgrid_document = {"api_key": "SG.x", "webhook_verification_key": base64.b64encode(public).decode()}
    secrets.create_secret(Name="tests/sendgrid", SecretString=json.dumps(sendgrid_document))
    twilio_document = {
        "account_sid": ACCOUNT,
        "auth_token": TWILIO_TOKEN,
        "webhook_shared_keys": {SHARED_KEY_ID: SHARED_KEY},
    }
    secrets.create_secret(Name="tests/twilio", SecretString=json.dumps(twilio_document))
    monkeypatch.setenv("SENDGRID_CREDENTIALS", "tests/sendgrid")
    monkeypatch.setenv("TWILIO_CREDENTIALS", "tests/twilio")
    runtime.reset()
    for channel in (Channel.EMAIL, Channel.SMS):
        use_provider(channel, sandbox_provider(channel, consumer_settings(), runtime.outbox()))


@pytest.fixture
def webhooks(deployment) -> Handler:
    return lambda event: webhooks_app.lambda_handler(event, LambdaContext(function_name="webhooks"))


@dataclass
class Flow:
    """The publish function and the consumers: publish a notification and send it at once."""

    publish: Handler
    consumers: dict[str, Handler]
    deployment: Deployment

    def send(self, body: dict[str, Any]) -> str:
        answer = self.publish(api_event("POST", "/api/v1/notifications/publish", body=body))
        assert answer["statusCode"] == 202, answer["body"]
        run_consumers_once(self.deployment, self.consumers)
        return str(json.loads(answer["body"])["notificationId"])

    def status(self, notification_id: str) -> dict[str, Any]:
        answer = self.publish(
            api_event(
                "GET",
                f"/event/{notification_id}",
                resource="/event/{event_id}",
                path_parameters={"event_id": notification_id},
            )
        )
        assert answer["statusCode"] == 200, answer["body"]
        return dict(json.loads(answer["body"]))


@pytest.fixture
def flow(publish, consumers, deployment) -> Flow:
    return Flow(publish, consumers, deployment)


def email_to(address: str) -> dict[str, Any]:
    return {"recipientId": "user-9", "type": "email", "messageBody": "Order shipped", "to": address}


def sendgrid_event(
    notification_id: str, name: str, *, at: int | None = None, **fields: Any
) -> dict[str, Any]:
    return {
        "email": "ana@example.com",
        "timestamp": at or int(time.time()),
        "event": name,
        "sg_event_id": f"{notification_id}-{name}-{at}",
        "sg_message_id": "abc123.filter0001.1.2.0",
        "smtp-id": "<abc123@ismtpd>",
        "notification_id": notification_id,
        **fields,
    }


def sendgrid_post(
    key: ec.EllipticCurvePrivateKey, events: list[dict[str, Any]], *, age: int = 0
) -> dict[str, Any]:
    body = json.dumps(events)
    timestamp = str(int(time.time()) - age)
    signature = base64.b64encode(
        key.sign(timestamp.encode() + body.encode(), ec.ECDSA(hashes.SHA256()))
    ).decode()
    return api_event(
        "POST",
        "/webhooks/sendgrid",
        body=body,
        headers={sendgrid.SIGNATURE_HEADER: signature, sendgrid.TIMESTAMP_HEADER: timestamp},
    )


def twilio_post(
    notification_id: str,
    status: str,
    *,
    token: str = TWILIO_TOKEN,
    algorithm: str = "HMAC_SHA1",
    without_domain: bool = False,
    **fields: str,
) -> dict[str, Any]:
    form = {
        "AccountSid": ACCOUNT,
        "ApiVersion": "2010-04-01",
        "From": "+15005550006",
        "MessageSid": "SM" + "c" * 32,
        "MessageStatus": status,
        "SmsSid": "SM" + "c" * 32,
        "SmsStatus": status,
        "To": "+34600000009",
        **fields,
    }
    event = api_event("POST", "/webhooks/twilio", body=urlencode(form))
    event["queryStringParameters"] = {"notification_id": notification_id}
    event["multiValueQueryStringParameters"] = {"notification_id": [notification_id]}
    context = event["requestContext"]
    domain = context["domainName"]
    if without_domain:  # as MiniStack's REST API sends it: what it called is the API's execute-api host
        del context["domainName"]
        domain = f"{context['apiId']}.execute-api.us-east-1.amazonaws.com"
    url = f"https://{domain}{context['path']}?{urlencode({'notification_id': notification_id})}"
    if os.environ.get("PUBLIC_API_URL"):
        url = f"{os.environ['PUBLIC_API_URL']}/webhooks/twilio?notification_id={notification_id}"
    signature = twilio.signature(token, url, {k: [v] for k, v in form.items()}, algorithm)
    headers = {"Content-Type": twilio.FORM_MEDIA_TYPE, twilio.SIGNATURE_HEADER: signature}
    if token == SHARED_KEY:
        headers[twilio.SETTINGS_HEADER] = f"key={SHARED_KEY_ID},algorithm={algorithm}"
    for name, value in headers.items():
        event["headers"][name] = value
        event["multiValueHeaders"][name] = [value]
    return event


def answered(webhooks: Handler, event: dict[str, Any], status: int = 200) -> dict[str, Any]:
    answer = webhooks(event)
    assert answer["statusCode"] == status, answer["body"]
    return dict(json.loads(answer["body"]))


# ---------------------------------------------------------------------------------------- SendGrid


@pytest.mark.usefixtures("vendors")
def test_a_delivered_event_makes_a_sent_email_delivered(flow, webhooks, sendgrid_key):
    sent = flow.send(email_to("ana@example.com"))
    assert flow.status(sent)["channels"]["email"]["status"] == "SENT"

    counts = answered(
        webhooks,
        sendgrid_post(sendgrid_key, [sendgrid_event(sent, "processed"), sendgrid_event(sent, "delivered")]),
    )

    assert counts == {
        "received": 1,
        "applied": 1,
        "unchanged": 0,
        "duplicates": 0,
        "unknown": 0,
        "ignored": 1,
        "invalid": 0,
        "suppressed": 0,
    }
    email = flow.status(sent)["channels"]["email"]
    assert email["status"] == "DELIVERED"
    assert email["delivered_at"]


@pytest.mark.usefixtures("vendors")
def test_a_hard_bounce_bounces_suppresses_and_the_next_send_to_the_address_is_suppressed(
    flow, webhooks, sendgrid_key, outbox
):
    first = flow.send(email_to("gone@example.com"))
    bounce = sendgrid_event(
        first,
        "bounce",
        email="Gone@Example.com",
        type="bounce",
        status="5.1.1",
        reason="550 5.1.1 gone@example.com: no such user",
    )

    counts = answered(webhooks, sendgrid_post(sendgrid_key, [bounce]))

    assert (counts["applied"], counts["suppressed"]) == (1, 1)
    email = flow.status(first)["channels"]["email"]
    assert email["status"] == "BOUNCED"
    assert "no such user" in email["last_error"]
    assert "gone@example.com" not in email["last_error"]
    listed = json.loads(flow.publish(api_event("GET", "/suppressions"))["body"])
    assert [(s["address"], s["channel"], s["source"], s["notification_id"]) for s in listed["items"]] == [
        ("gone@example.com", "email", "sendgrid bounce (bounce)", first)
    ]

    sent_before = len(outbox)
    second = flow.send(email_to("gone@example.com"))

    email = flow.status(second)["channels"]["email"]
    assert email["status"] == "SUPPRESSED"
    assert "sendgrid bounce" in email["last_error"]
    assert len(outbox) == sent_before  # no vendor call

    lifted = flow.publish(
        api_event(
            "DELETE",
            "/suppressions/gone%40example.com",
            resource="/suppressions/{address}",
            path_parameters={"address": "gone@example.com"},
        )
    )
    assert lifted["statusCode"] == 204
    third = flow.send(email_to("gone@example.com"))
    assert flow.status(third)["channels"]["email"]["status"] == "SENT"


@pytest.mark.usefixtures("vendors")
def test_the_same_events_sent_again_change_nothing_and_count_once(flow, webhooks, sendgrid_key):
    sent = flow.send(email_to("ana@example.com"))
    events = [sendgrid_event(sent, "delivered"), sendgrid_event(sent, "open", at=int(time.time()) + 1)]

    first = answered(webhooks, sendgrid_post(sendgrid_key, events))
    again = answered(webhooks, sendgrid_post(sendgrid_key, events + events))

    assert (first["applied"], first["duplicates"]) == (2, 0)
    assert (again["applied"], again["duplicates"]) == (0, 4)
    email = flow.status(sent)["channels"]["email"]
    assert email["status"] == "DELIVERED"
    assert email["opened_at"]


@pytest.mark.usefixtures("vendors")
def test_events_out_of_order_never_move_a_status_back(flow, webhooks, sendgrid_key):
    sent = flow.send(email_to("ana@example.com"))
    now = int(time.time())
    # In one batch, the later bounce listed first: the earlier delivered wins.
    answered(
        webhooks,
        sendgrid_post(
            sendgrid_key,
            [
                sendgrid_event(sent, "bounce", at=now, type="bounce", reason="550 gone"),
                sendgrid_event(sent, "delivered", at=now - 10),
            ],
        ),
    )
    # Then a stale deferral, and a late bounce in a later request.
    answered(
        webhooks,
        sendgrid_post(
            sendgrid_key, [sendgrid_event(sent, "deferred", at=now - 20, response="421 try later")]
        ),
    )

    email = flow.status(sent)["channels"]["email"]
    assert email["status"] == "DELIVERED"
    assert email["last_error"] is None


@pytest.mark.usefixtures("vendors")
def test_an_open_proves_delivery(flow, webhooks, sendgrid_key):
    sent = flow.send(email_to("ana@example.com"))

    answered(webhooks, sendgrid_post(sendgrid_key, [sendgrid_event(sent, "open")]))

    email = flow.status(sent)["channels"]["email"]
    assert (email["status"], bool(email["opened_at"]), bool(email["delivered_at"])) == (
        "DELIVERED",
        True,
        True,
    )


@pytest.mark.usefixtures("vendors")
def test_a_deferral_keeps_its_reason_and_leaves_the_email_sent(flow, webhooks, sendgrid_key):
    sent = flow.send(email_to("ana@example.com"))

    answered(
        webhooks,
        sendgrid_post(sendgrid_key, [sendgrid_event(sent, "deferred", response="421 4.7.0 try later")]),
    )

    email = flow.status(sent)["channels"]["email"]
    assert email["status"] == "SENT"
    assert email["last_error"] == "sendgrid deferred: 421 4.7.0 try later"


@pytest.mark.usefixtures("vendors")
def test_an_event_for_an_unknown_notification_is_answered_200_and_counted(webhooks, sendgrid_key):
    counts = answered(webhooks, sendgrid_post(sendgrid_key, [sendgrid_event("not-ours", "delivered")]))

    assert (counts["received"], counts["unknown"], counts["applied"]) == (1, 1, 0)


@pytest.mark.usefixtures("vendors")
@pytest.mark.parametrize("how", ["forged", "stale", "unsigned", "tampered"])
def test_a_request_without_a_valid_signature_is_refused_401_and_changes_nothing(
    flow, webhooks, sendgrid_key, how
):
    sent = flow.send(email_to("ana@example.com"))
    events = [sendgrid_event(sent, "bounce", type="bounce", reason="550 gone")]
    match how:
        case "forged":
            event = sendgrid_post(ec.generate_private_key(ec.SECP256R1()), events)
        case "stale":
            event = sendgrid_post(sendgrid_key, events, age=301)
        case "unsigned":
            event = api_event("POST", "/webhooks/sendgrid", body=json.dumps(events))
        case _:
            event = sendgrid_post(sendgrid_key, [sendgrid_event(sent, "delivered")])
            event["body"] = json.dumps(events)
            event["multiValueHeaders"] = None

    body = answered(webhooks, event, 401)

    assert body["error"] == "unauthorized"
    assert body["fields"][0]["field"].startswith("X-Twilio-Email-Event-Webhook-")
    assert flow.status(sent)["channels"]["email"]["status"] == "SENT"
    assert json.loads(flow.publish(api_event("GET", "/suppressions"))["body"])["items"] == []


@pytest.mark.usefixtures("vendors")
def test_a_signed_request_played_back_is_refused_401_and_changes_nothing(flow, webhooks, sendgrid_key):
    sent = flow.send(email_to("ana@example.com"))
    captured = sendgrid_post(sendgrid_key, [sendgrid_event(sent, "delivered")])
    answered(webhooks, copy.deepcopy(captured))

    body = answered(webhooks, copy.deepcopy(captured), 401)

    assert body["fields"] == [
        {
            "field": "X-Twilio-Email-Event-Webhook-Signature",
            "reason": "replayed: this signed request was received and applied before",
        }
    ]


@pytest.mark.usefixtures("vendors")
def test_a_twilio_callback_without_the_apis_domain_in_its_request_is_checked_against_the_apis_host(
    flow, webhooks
):
    sent = flow.send(sms_to("+34600000009"))

    assert answered(webhooks, twilio_post(sent, "delivered", without_domain=True))["applied"] == 1
    assert flow.status(sent)["channels"]["sms"]["status"] == "DELIVERED"


@pytest.mark.usefixtures("vendors")
def test_a_twilio_callback_played_back_is_refused_401(flow, webhooks):
    sent = flow.send(sms_to("+34600000009"))
    captured = twilio_post(sent, "delivered")
    answered(webhooks, copy.deepcopy(captured))

    assert answered(webhooks, copy.deepcopy(captured), 401)["fields"][0]["reason"].startswith("replayed")


@pytest.mark.usefixtures("vendors")
def test_a_request_refused_for_now_may_be_sent_again(flow, webhooks, sendgrid_key, monkeypatch):
    """A request answered 503 is remembered as nothing: the vendor's retry of it is applied."""
    sent = flow.send(email_to("ana@example.com"))
    captured = sendgrid_post(sendgrid_key, [sendgrid_event(sent, "delivered")])
    deps = runtime.receipt_deps()

    def unavailable(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("DynamoDB did not answer")

    monkeypatch.setattr(deps.seen, "remember", unavailable)
    with pytest.raises(ConnectionError):
        webhooks(copy.deepcopy(captured))
    monkeypatch.undo()

    assert answered(webhooks, copy.deepcopy(captured))["unchanged"] == 1
    assert flow.status(sent)["channels"]["email"]["status"] == "DELIVERED"


@pytest.mark.usefixtures("vendors")
def test_a_body_that_is_not_a_json_array_is_a_400_once_signed(webhooks, sendgrid_key):
    event = sendgrid_post(sendgrid_key, [])
    timestamp = event["headers"][sendgrid.TIMESTAMP_HEADER]
    event["body"] = '{"event": "delivered"}'
    signature = base64.b64encode(
        sendgrid_key.sign(timestamp.encode() + event["body"].encode(), ec.ECDSA(hashes.SHA256()))
    ).decode()
    event["headers"][sendgrid.SIGNATURE_HEADER] = signature
    event["multiValueHeaders"][sendgrid.SIGNATURE_HEADER] = [signature]

    assert answered(webhooks, event, 400)["fields"] == [
        {"field": "body", "reason": "not a JSON array of events"}
    ]


def test_without_vendor_credentials_the_sandbox_key_signs_receipts(flow, webhooks):
    """A stack whose e-mail goes to the sandbox takes receipts signed with the key derived from its
    generated secret, and nothing else."""
    secret = boto3.client("secretsmanager").get_secret_value(
        SecretId=flow.deployment.functions["WebhooksFunction"].environment["SANDBOX_RECEIPTS_SECRET"]
    )
    keys = SandboxKeys(secret["SecretString"])
    sent = flow.send(email_to("ana@example.com"))
    body = json.dumps([sendgrid_event(sent, "delivered")])
    timestamp = str(int(time.time()))
    event = api_event(
        "POST",
        "/webhooks/sendgrid",
        body=body,
        headers={
            sendgrid.TIMESTAMP_HEADER: timestamp,
            sendgrid.SIGNATURE_HEADER: sign_sendgrid(keys.sendgrid_private_key(), timestamp, body.encode()),
        },
    )

    assert answered(webhooks, event)["applied"] == 1
    forged = sendgrid_post(ec.generate_private_key(ec.SECP256R1()), [sendgrid_event(sent, "bounce")])
    answered(webhooks, forged, 401)


# ---------------------------------------------------------------------------------------- Twilio


def sms_to(number: str) -> dict[str, Any]:
    return {"recipientId": "user-9", "type": "sms", "messageBody": "Your code is 1234", "to": number}


@pytest.mark.usefixtures("vendors")
def test_a_delivered_callback_makes_a_sent_sms_delivered(flow, webhooks):
    sent = flow.send(sms_to("+34600000009"))

    counts = answered(webhooks, twilio_post(sent, "delivered"))

    assert counts["applied"] == 1
    assert flow.status(sent)["channels"]["sms"]["status"] == "DELIVERED"


@pytest.mark.usefixtures("vendors")
def test_an_undelivered_callback_for_an_unknown_handset_bounces_and_suppresses_the_number(flow, webhooks):
    sent = flow.send(sms_to("+34600000009"))

    counts = answered(webhooks, twilio_post(sent, "undelivered", ErrorCode="30005"))

    assert (counts["applied"], counts["suppressed"]) == (1, 1)
    sms = flow.status(sent)["channels"]["sms"]
    assert sms["status"] == "BOUNCED"
    assert "30005" in sms["last_error"]
    found = json.loads(
        flow.publish(
            api_event(
                "GET",
                "/suppressions/+34600000009",
                resource="/suppressions/{address}",
                path_parameters={"address": "+34600000009"},
            )
        )["body"]
    )
    assert (found["channel"], found["source"]) == ("sms", "twilio 30005")


@pytest.mark.usefixtures("vendors")
@pytest.mark.usefixtures("vendors")
def test_a_callback_signed_with_a_webhook_shared_key_is_checked_with_it(flow, webhooks):
    sent = flow.send(sms_to("+34600000009"))

    counts = answered(webhooks, twilio_post(sent, "delivered", token=SHARED_KEY, algorithm="HMAC_SHA256"))

    assert counts["applied"] == 1
    unknown_key = twilio_post(sent, "delivered", token=SHARED_KEY, algorithm="HMAC_SHA256")
    unknown_key["headers"][twilio.SETTINGS_HEADER] = "key=webhooks_sharedkey_99,algorithm=HMAC_SHA256"
    unknown_key["multiValueHeaders"][twilio.SETTINGS_HEADER] = [
        unknown_key["headers"][twilio.SETTINGS_HEADER]
    ]
    assert answered(webhooks, unknown_key, 401)["fields"][0]["field"] == twilio.SETTINGS_HEADER


@pytest.mark.parametrize("how", ["other-token", "other-notification", "changed-status"])
def test_a_forged_twilio_callback_is_refused_401(flow, webhooks, how):
    sent = flow.send(sms_to("+34600000009"))
    event = twilio_post(
        sent, "undelivered", token="f" * 32 if how == "other-token" else TWILIO_TOKEN, ErrorCode="30005"
    )
    if how == "other-notification":
        event["multiValueQueryStringParameters"] = {"notification_id": ["someone-else"]}
    if how == "changed-status":
        event["body"] = event["body"].replace("undelivered", "delivered")

    assert answered(webhooks, event, 401)["error"] == "unauthorized"
    assert flow.status(sent)["channels"]["sms"]["status"] == "SENT"


@pytest.mark.usefixtures("vendors")
def test_a_twilio_callback_must_be_a_form(webhooks):
    event = api_event("POST", "/webhooks/twilio", body="{}")

    body = answered(webhooks, event, 415)

    assert body["fields"][0]["field"] == "Content-Type"


# ---------------------------------------------------------------------------------------- push


def push_receipt(notification_id: str, body: Any) -> dict[str, Any]:
    return api_event(
        "POST",
        f"/event/{notification_id}/receipts",
        resource="/event/{event_id}/receipts",
        path_parameters={"event_id": notification_id},
        body=body,
    )


def test_the_app_reports_a_push_delivered_then_opened(flow, user_123):
    body = {"recipientId": "user-123", "type": "push", "messageBody": "New follower"}
    sent = flow.send(body)

    delivered = flow.publish(push_receipt(sent, {"channel": "push", "event": "delivered"}))
    opened = flow.publish(
        push_receipt(sent, {"channel": "push", "event": "opened", "occurred_at": "2026-12-03T12:00:00+01:00"})
    )

    assert (delivered["statusCode"], opened["statusCode"]) == (200, 200)
    push = json.loads(opened["body"])["channels"]["push"]
    assert push["status"] == "DELIVERED"
    assert push["opened_at"] == "2026-12-03T11:00:00.000Z"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"channel": "email", "event": "delivered"}, "channel"),
        ({"channel": "push", "event": "bounced"}, "event"),
        ({"channel": "push", "event": "opened", "occurred_at": "yesterday"}, "occurred_at"),
        ({"channel": "push", "event": "opened", "occurred_at": 0}, "occurred_at"),
        ({"channel": "push", "event": "opened", "occurred_at": "2026-12-03T12:00:00"}, "occurred_at"),
        ({"channel": "push", "event": "opened", "occurred_at": "2999-01-01T00:00:00Z"}, "occurred_at"),
        ({"channel": "push", "event": "opened", "extra": 1}, "extra"),
    ],
)
def test_a_push_receipt_that_is_not_one_is_a_400_naming_the_field(flow, body, field):
    answer = flow.publish(push_receipt("n-1", body))

    assert answer["statusCode"] == 400
    assert [f["field"] for f in json.loads(answer["body"])["fields"]] == [field]


def test_a_push_that_failed_is_never_opened(flow, user_123, recipients):
    recipients.put(
        user_123.model_copy(update={"contacts": user_123.contacts.model_copy(update={"push_tokens": []})})
    )
    failed = flow.send({"recipientId": "user-123", "type": "push", "messageBody": "New follower"})

    answer = flow.publish(push_receipt(failed, {"channel": "push", "event": "opened"}))

    push = json.loads(answer["body"])["channels"]["push"]
    assert (answer["statusCode"], push["status"], push["opened_at"]) == (200, "FAILED", None)


def test_a_push_receipt_for_an_unknown_notification_is_a_404(publish):
    answer = publish(push_receipt("nobody", {"channel": "push", "event": "delivered"}))

    assert answer["statusCode"] == 404


@pytest.mark.parametrize("notification_id", ["a@b", "x" * 129, "n 1", "\U000e8231\x0e", "é"])
def test_a_push_receipt_for_an_id_no_notification_can_have_is_a_400_naming_it(publish, notification_id):
    """The contract says what a notification id is (docs/openapi.json), as for GET /event/{event_id}:
    an id outside it is refused naming the parameter, never looked up (found by a schemathesis run of
    250 examples per operation, which sent a private-use and a control character)."""
    answer = publish(push_receipt(notification_id, {"channel": "push", "event": "delivered"}))

    assert answer["statusCode"] == 400
    assert [f["field"] for f in json.loads(answer["body"])["fields"]] == ["event_id"]


# ---------------------------------------------------------------------------------------- the list


def query_event(path: str, query: dict[str, str]) -> dict[str, Any]:
    event = api_event("GET", path)
    event["queryStringParameters"] = query
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()}
    return event


def test_the_suppression_list_is_read_a_page_at_a_time_and_by_channel(publish):
    store = runtime.suppression_store()
    for address in ("a@example.com", "B@Example.com", "+34600000001", "c@example.com"):
        assert store.add(address, reason="hard bounce", source="sendgrid bounce", notification_id=None)
    assert not store.add("b@example.com", reason="again", source="sendgrid bounce", notification_id=None)

    seen: list[str] = []
    after: str | None = None
    while True:
        query = {"limit": "2", **({"after": after} if after else {})}
        page = json.loads(publish(query_event("/suppressions", query))["body"])
        assert len(page["items"]) <= 2
        seen += [item["address"] for item in page["items"]]
        after = page["next"]
        if after is None:
            break
    sms = json.loads(publish(query_event("/suppressions", {"channel": "sms"}))["body"])

    assert sorted(seen) == ["+34600000001", "a@example.com", "b@example.com", "c@example.com"]
    assert [item["address"] for item in sms["items"]] == ["+34600000001"]
    assert store.get("B@EXAMPLE.COM").reason == "hard bounce"  # the first reason is kept


@pytest.mark.parametrize("address", ["not-an-address", "a b@example.com", "+0123"])
def test_an_address_that_is_not_one_is_a_400_naming_it(publish, address):
    answer = publish(
        api_event(
            "GET",
            f"/suppressions/{address}",
            resource="/suppressions/{address}",
            path_parameters={"address": address},
        )
    )

    assert answer["statusCode"] == 400
    assert [f["field"] for f in json.loads(answer["body"])["fields"]] == ["address"]


# ---------------------------------------------------------------------------------------- samples


def test_the_sample_push_receipt_reports_a_push_opened(flow, user_123):
    sample = load_event("api_report_push_receipt.json")
    sent = flow.send({"recipientId": "user-123", "type": "push", "messageBody": "New follower"})
    sample["path"] = sample["path"].replace(sample["pathParameters"]["event_id"], sent)
    sample["pathParameters"] = {"event_id": sent}

    answer = flow.publish(sample)

    assert answer["statusCode"] == 200
    assert json.loads(answer["body"])["channels"]["push"]["opened_at"] == "2026-12-03T12:00:00.000Z"


def test_the_sample_suppression_events_list_and_lift_an_address(publish):
    runtime.suppression_store().add(
        "gone@example.com", reason="550 5.1.1", source="sendgrid bounce", notification_id=None
    )

    listed = publish(load_event("api_list_suppressions.json"))
    lifted = publish(load_event("api_delete_suppression.json"))
    again = publish(load_event("api_delete_suppression.json"))

    assert [item["address"] for item in json.loads(listed["body"])["items"]] == ["gone@example.com"]
    assert (lifted["statusCode"], again["statusCode"]) == (204, 404)


def test_the_sample_sendgrid_post_without_its_signature_is_refused(webhooks):
    """What SendGrid posts, without the signature header: 401 naming it, before the body is read."""
    answer = webhooks(load_event("api_webhook_sendgrid_unsigned.json"))

    assert answer["statusCode"] == 401
    assert json.loads(answer["body"])["fields"] == [
        {"field": "X-Twilio-Email-Event-Webhook-Signature", "reason": "missing"}
    ]
