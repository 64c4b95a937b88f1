"""Delivery receipts through the deployed stack's webhook routes: the sandbox's own, and SendGrid's and
Twilio's as the vendors sign them, checked by the webhooks function before anything changes.

While a channel has no vendor credentials, the webhooks check receipts with keys derived from the
stack's sandbox secret (`notifier.receipts.sandbox_keys`, Output SandboxReceiptsSecretArn), the keys the
sandbox signs its own receipts with: the tests read that secret and sign as SendGrid (ECDSA P-256 over
the timestamp and the body) and Twilio (HMAC-SHA1 over the URL it called and the form) do. Twilio
signs the URL it calls, the TwilioStatusCallbackUrl Output: that URL is signed, while the request goes
to where a client reaches it (the emulator's path form of it on an emulator).

docs/vendors.md (Delivery receipts) and docs/security.md are what is checked.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec

from notifier.receipts import sendgrid, twilio
from notifier.receipts.sandbox_keys import SandboxKeys, sign_sendgrid
from ops.stack import DeployedStack
from tests.deployed.conftest import Api, Leftovers, delete_own_message

SMS_TRANSIENT_FAILURE = "+15005550429"
"""The sandbox refuses every SMS to it for now (`notifier.providers.sandbox`): retried, then
DEAD_LETTERED, and never a sandbox receipt."""
DEAD_LETTER_TIMEOUT = 90.0
"""MaxReceiveCount=3 with RetryMaxSeconds=2, on the emulator's one-second queue polling."""
STALE_AGE_SECONDS = 90_000
"""Seconds: older than the largest WebhookMaxAgeSeconds (86,400), so stale on any stack."""


@pytest.fixture(scope="module")
def sandbox_keys(stack: DeployedStack) -> SandboxKeys:
    secrets = stack.client("secretsmanager")
    secret = secrets.get_secret_value(SecretId=stack.outputs["SandboxReceiptsSecretArn"])["SecretString"]
    return SandboxKeys(secret)


def sent_by_the_sandbox(api: Api, notification_id: str, channel: str, wanted: set[str]) -> dict[str, Any]:
    state = api.wait_for_status(notification_id, channel, wanted)
    if state.get("provider") not in {None, "sandbox"}:
        pytest.skip(f"the stack sends {channel} with {state['provider']}: its receipts are the vendor's")
    return state


def unique_phone() -> str:
    """A number no other test's recipient has (not +14155550100, the `recipient` fixture's)."""
    return f"+1415556{uuid.uuid4().int % 10_000:04d}"


def suppressed(api: Api, address: str) -> bool:
    answer = api.call("GET", f"/suppressions/{quote(address, safe='')}")
    assert answer.status_code in {200, 404}, answer.text
    return answer.status_code == 200


# ---------------------------------------------------------------------------------------- SendGrid


class SendGrid:
    """Posts SendGrid Event Webhook requests to the stack, signed as SendGrid signs them."""

    def __init__(self, stack: DeployedStack, api: Api) -> None:
        self.url = stack.url("SendGridWebhookUrl")
        self.http = api.http

    @staticmethod
    def signed(
        events: list[dict[str, Any]], key: ec.EllipticCurvePrivateKey, *, timestamp: int | None = None
    ) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(events, separators=(",", ":")).encode()
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "SendGrid Event API",
            sendgrid.TIMESTAMP_HEADER: stamp,
            sendgrid.SIGNATURE_HEADER: sign_sendgrid(key, stamp, body),
        }
        return body, headers

    def post(self, body: bytes, headers: dict[str, str]) -> requests.Response:
        return self.http.post(self.url, data=body, headers=headers, timeout=30)


def engagement(
    notification_id: str, address: str, state: dict[str, Any], *names: str
) -> list[dict[str, Any]]:
    """SendGrid events of a message, as the Event Webhook posts them (our custom_args at the top)."""
    message_id = state.get("provider_message_id") or "unknown"
    return [
        {
            "email": address,
            "timestamp": int(time.time()),
            "event": name,
            "sg_event_id": f"{name}-{uuid.uuid4().hex}",
            "sg_message_id": f"{message_id}.filterdrecv-test-0.0",
            "notification_id": notification_id,
            "useragent": "Mozilla/5.0",
            **({"url": "https://example.com/orders/o-17"} if name == "click" else {}),
        }
        for name in names
    ]


def test_the_sandboxs_own_email_receipt_makes_it_delivered(api: Api, recipient):
    recipient_id = recipient()
    notification_id = api.publish(recipient_id, "email")

    state = sent_by_the_sandbox(api, notification_id, "email", {"DELIVERED", "BOUNCED"})

    assert state["status"] == "DELIVERED", state
    assert state["delivered_at"]
    assert (state["bounced_at"], state["opened_at"], state["last_error"]) == (None, None, None)


def test_a_sendgrid_event_signed_with_the_stacks_key_is_applied_and_a_forged_or_stale_one_is_not(
    api: Api, recipient, stack: DeployedStack, sandbox_keys: SandboxKeys
):
    recipient_id = recipient()
    address = f"{recipient_id}@example.com"
    notification_id = api.publish(recipient_id, "email")
    before = sent_by_the_sandbox(api, notification_id, "email", {"DELIVERED"})
    assert (before["opened_at"], before["clicked_at"]) == (None, None)
    webhook = SendGrid(stack, api)
    events = engagement(notification_id, address, before, "open", "click")

    # Signed by another key: refused, and nothing changes.
    forged = webhook.post(*webhook.signed(events, ec.generate_private_key(ec.SECP256R1())))
    assert forged.status_code == 401, forged.text
    assert forged.json()["error"] == "unauthorized"
    assert sendgrid.SIGNATURE_HEADER in forged.text
    # The stack's key, but signed a day and more ago: refused as stale.
    old = int(time.time()) - STALE_AGE_SECONDS
    stale = webhook.post(*webhook.signed(events, sandbox_keys.sendgrid_private_key(), timestamp=old))
    assert stale.status_code == 401, stale.text
    assert sendgrid.TIMESTAMP_HEADER in stale.text
    # Signed, then altered: refused.
    body, headers = webhook.signed(events, sandbox_keys.sendgrid_private_key())
    altered = webhook.post(body.replace(b'"open"', b'"spamreport"'), headers)
    assert altered.status_code == 401, altered.text
    unchanged = api.status(notification_id)["channels"]["email"]
    assert unchanged == before, "a refused request changed the status"
    assert not suppressed(api, address)

    applied = webhook.post(body, headers)

    assert applied.status_code == 200, applied.text
    assert applied.json()["received"] == 2
    assert applied.json()["applied"] == 2
    after = api.status(notification_id)["channels"]["email"]
    assert after["status"] == "DELIVERED"
    assert after["opened_at"]
    assert after["clicked_at"]
    assert after["delivered_at"] == before["delivered_at"]

    # The same signed request again: a replay, refused; the events are not applied twice.
    replayed = webhook.post(body, headers)
    assert replayed.status_code == 401, replayed.text
    assert "replayed" in replayed.text
    # The same events, signed afresh (SendGrid repeats events): answered 200, counted as duplicates.
    repeated = webhook.post(*webhook.signed(events, sandbox_keys.sendgrid_private_key()))
    assert repeated.status_code == 200, repeated.text
    assert (repeated.json()["duplicates"], repeated.json()["applied"]) == (2, 0)
    assert api.status(notification_id)["channels"]["email"]["opened_at"] == after["opened_at"]


# ---------------------------------------------------------------------------------------- Twilio


class Twilio:
    """Posts Twilio status callbacks to the stack, signed over the URL Twilio calls (the Output's)."""

    def __init__(self, stack: DeployedStack, api: Api) -> None:
        self.signed_url = stack.outputs["TwilioStatusCallbackUrl"]
        self.url = stack.url("TwilioStatusCallbackUrl")
        self.http = api.http

    def signed(self, notification_id: str, form: dict[str, str], token: str) -> tuple[str, dict[str, str]]:
        query = urlencode({"notification_id": notification_id})
        signature = twilio.signature(token, f"{self.signed_url}?{query}", {k: [v] for k, v in form.items()})
        headers = {
            "Content-Type": twilio.FORM_MEDIA_TYPE,
            "User-Agent": "TwilioProxy/1.1",
            twilio.SIGNATURE_HEADER: signature,
        }
        return query, headers

    def post(self, query: str, form: dict[str, str], headers: dict[str, str]) -> requests.Response:
        return self.http.post(f"{self.url}?{query}", data=urlencode(form), headers=headers, timeout=30)


def callback(status: str, to: str, message_sid: str | None, error_code: int | None = None) -> dict[str, str]:
    """A status callback's form, as Twilio posts it."""
    sid = message_sid or f"SM{uuid.uuid4().hex}"
    form = {
        "AccountSid": "AC" + "5" * 32,
        "ApiVersion": "2010-04-01",
        "From": "+15005550006",
        "MessageSid": sid,
        "MessageStatus": status,
        "SmsSid": sid,
        "SmsStatus": status,
        "To": to,
    }
    if error_code is not None:
        form["ErrorCode"] = str(error_code)
    return form


def test_the_sandboxs_own_sms_receipt_makes_it_delivered(api: Api, recipient):
    recipient_id = recipient()
    notification_id = api.publish(recipient_id, "sms")

    state = sent_by_the_sandbox(api, notification_id, "sms", {"DELIVERED", "BOUNCED"})

    assert state["status"] == "DELIVERED", state
    assert state["delivered_at"]
    assert (state["bounced_at"], state["last_error"]) == (None, None)


def test_a_twilio_callback_signed_with_the_stacks_token_is_applied(
    api: Api, recipient, stack: DeployedStack, sandbox_keys: SandboxKeys, request: pytest.FixtureRequest
):
    """Twilio reports `undelivered` for a message whose send was given up on (the vendor took it while
    the attempts timed out): the receipt proves it was sent, and it is BOUNCED with Twilio's error code.
    30003 (unreachable handset) does not suppress the number."""
    recipient_id = recipient(phone=SMS_TRANSIENT_FAILURE)
    notification_id = api.publish(recipient_id, "sms")
    request.addfinalizer(
        lambda: delete_own_message(stack, stack.outputs["SmsCriticalDLQUrl"], notification_id)
    )
    before = api.wait_for_status(notification_id, "sms", {"DEAD_LETTERED"}, timeout=DEAD_LETTER_TIMEOUT)
    assert before["bounced_at"] is None
    webhook = Twilio(stack, api)
    form = callback("undelivered", SMS_TRANSIENT_FAILURE, None, error_code=30003)
    query, headers = webhook.signed(notification_id, form, sandbox_keys.twilio_token)

    answer = webhook.post(query, form, headers)

    assert answer.status_code == 200, answer.text
    assert (answer.json()["applied"], answer.json()["suppressed"]) == (1, 0)
    state = api.status(notification_id)["channels"]["sms"]
    assert state["status"] == "BOUNCED", state
    assert state["bounced_at"]
    assert "30003" in state["last_error"]
    assert "unreachable destination handset" in state["last_error"]
    assert not suppressed(api, SMS_TRANSIENT_FAILURE)
    # The same signed request again is a replay: refused.
    replayed = webhook.post(query, form, headers)
    assert replayed.status_code == 401, replayed.text
    assert "replayed" in replayed.text


def test_a_twilio_callback_with_a_wrong_signature_is_refused_and_changes_nothing(
    api: Api, recipient, stack: DeployedStack, sandbox_keys: SandboxKeys, leftovers: Leftovers
):
    phone = unique_phone()
    leftovers.suppressed.add(phone)  # only if the refused callback were applied after all
    recipient_id = recipient(phone=phone)
    notification_id = api.publish(recipient_id, "sms")
    before = api.wait_for_status(notification_id, "sms", {"SENT", "DELIVERED"})
    webhook = Twilio(stack, api)
    # 30005 (unknown handset) would bounce the message if it were still SENT, and suppress the number.
    form = callback("undelivered", phone, None, error_code=30005)
    query, headers = webhook.signed(notification_id, form, "0123456789abcdef0123456789abcdef")
    _, good = webhook.signed(notification_id, form, sandbox_keys.twilio_token)

    refused = [
        webhook.post(query, form, headers),  # another account's auth token
        webhook.post(query, form, {**headers, twilio.SIGNATURE_HEADER: ""}),  # none
        webhook.post(query, {**form, "ErrorCode": "30006"}, good),  # signed, then the form altered
        webhook.post(urlencode({"notification_id": str(uuid.uuid4())}), form, good),  # the URL altered
    ]

    for answer in refused:
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"] == "unauthorized"
        assert twilio.SIGNATURE_HEADER in answer.text
    after = api.status(notification_id)["channels"]["sms"]
    # SENT may have become DELIVERED meanwhile, by the sandbox's own receipt; never BOUNCED.
    assert after["status"] in {before["status"], "DELIVERED"}, after
    assert (after["bounced_at"], after["last_error"]) == (None, None)
    assert not suppressed(api, phone)
