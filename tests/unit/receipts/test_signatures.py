"""The webhooks' signature checks, with real signatures: a P-256 key pair made here signs SendGrid
batches as SendGrid does, and Twilio's signature is computed as Twilio computes it; the vendors' own
SDKs must accept both, and every forged, tampered, stale or truncated request is refused."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sendgrid.helpers.eventwebhook import EventWebhook
from twilio.request_validator import RequestValidator

from notifier.errors import ConfigurationError, UnauthorizedError
from notifier.receipts import sendgrid, twilio
from notifier.receipts.sandbox_keys import SandboxKeys, sign_sendgrid

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
BODY = json.dumps(
    [
        {
            "email": "ana@example.com",
            "timestamp": int(NOW.timestamp()) - 5,
            "event": "delivered",
            "sg_event_id": "ZGVsaXZlcmVkLTAtMjQ",
            "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
            "notification_id": "n-1",
            "response": "250 OK",
        }
    ]
).encode()


@pytest.fixture(scope="module")
def key_pair() -> tuple[ec.EllipticCurvePrivateKey, str]:
    """A key pair, and its public key as SendGrid's settings page shows it (base64 of the DER)."""
    private = ec.generate_private_key(ec.SECP256R1())
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, base64.b64encode(der).decode()


def signed(private: ec.EllipticCurvePrivateKey, body: bytes, at: datetime = NOW) -> tuple[str, str]:
    timestamp = str(int(at.timestamp()))
    signature = private.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(signature).decode(), timestamp


def check(body: bytes, signature: str | None, timestamp: str | None, public: str, **kwargs) -> None:
    key = sendgrid.load_verification_key(public)
    sendgrid.verify(body, signature, timestamp, key, max_age_seconds=300, now=NOW, **kwargs)


# ---------------------------------------------------------------------------------------- SendGrid


def test_a_batch_signed_as_sendgrid_signs_is_accepted_and_the_sdk_agrees(key_pair):
    private, public = key_pair
    signature, timestamp = signed(private, BODY)

    check(BODY, signature, timestamp, public)
    assert EventWebhook(public).verify_signature(BODY.decode(), signature, timestamp) is True


def test_the_key_may_be_given_in_pem(key_pair):
    private, _ = key_pair
    pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signature, timestamp = signed(private, BODY)

    check(BODY, signature, timestamp, pem.decode())


@pytest.mark.parametrize(
    ("change", "header"),
    [
        (lambda body, sig, ts: (body[:-1], sig, ts), sendgrid.SIGNATURE_HEADER),  # truncated
        (lambda body, sig, ts: (body.replace(b"delivered", b"bounce"), sig, ts), sendgrid.SIGNATURE_HEADER),
        (lambda body, sig, ts: (body, sig, str(int(ts) - 1)), sendgrid.SIGNATURE_HEADER),  # another time
        (lambda body, sig, ts: (body, sig[:-8] + "AAAAAAA=", ts), sendgrid.SIGNATURE_HEADER),
        (lambda body, sig, ts: (body, "not base64!", ts), sendgrid.SIGNATURE_HEADER),
        (lambda body, sig, ts: (body, None, ts), sendgrid.SIGNATURE_HEADER),
        (lambda body, sig, ts: (body, sig, None), sendgrid.TIMESTAMP_HEADER),
        (lambda body, sig, ts: (body, sig, "12.5"), sendgrid.TIMESTAMP_HEADER),
        (lambda body, sig, ts: (body, sig, "٣٣"), sendgrid.TIMESTAMP_HEADER),  # digits, not ASCII ones
    ],
    ids=[
        "truncated",
        "tampered",
        "other-timestamp",
        "forged-bytes",
        "not-base64",
        "no-signature",
        "no-timestamp",
        "fractional-timestamp",
        "arabic-digits",
    ],
)
def test_a_tampered_or_incomplete_request_is_refused_naming_the_header(key_pair, change, header):
    private, public = key_pair
    body, signature, timestamp = change(BODY, *signed(private, BODY))

    with pytest.raises(UnauthorizedError) as refused:
        check(body, signature, timestamp, public)
    assert list(refused.value.problems) == [header]


def test_a_batch_signed_with_another_key_is_refused(key_pair):
    _, public = key_pair
    forger = ec.generate_private_key(ec.SECP256R1())

    with pytest.raises(UnauthorizedError, match="does not match"):
        check(BODY, *signed(forger, BODY), public)
    assert EventWebhook(public).verify_signature(BODY.decode(), *signed(forger, BODY)) is False


def test_a_stale_request_is_refused_even_with_a_valid_signature(key_pair):
    """A replay of a captured request, once older than WebhookMaxAgeSeconds."""
    private, public = key_pair
    signature, timestamp = signed(private, BODY, at=NOW - timedelta(seconds=301))

    with pytest.raises(UnauthorizedError, match="older than 300 seconds"):
        check(BODY, signature, timestamp, public)
    check(BODY, *signed(private, BODY, at=NOW - timedelta(seconds=299)), public)


def test_a_request_from_the_future_is_refused_beyond_a_minute_of_clock_skew(key_pair):
    private, public = key_pair
    check(BODY, *signed(private, BODY, at=NOW + timedelta(seconds=59)), public)

    with pytest.raises(UnauthorizedError, match="in the future"):
        check(BODY, *signed(private, BODY, at=NOW + timedelta(seconds=120)), public)


def test_without_a_verification_key_every_request_is_refused(key_pair):
    private, _ = key_pair
    signature, timestamp = signed(private, BODY)

    with pytest.raises(UnauthorizedError, match="no SendGrid webhook verification key"):
        sendgrid.verify(BODY, signature, timestamp, None, max_age_seconds=300, now=NOW)


@pytest.mark.parametrize("text", ["not a key", base64.b64encode(b"\x30\x03\x02\x01\x01").decode()])
def test_a_verification_key_that_is_not_one_is_a_configuration_error(text):
    with pytest.raises(ConfigurationError, match="not a public key"):
        sendgrid.load_verification_key(text)


def test_a_verification_key_on_another_curve_is_a_configuration_error():
    other = ec.generate_private_key(ec.SECP384R1()).public_key()
    der = other.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)

    with pytest.raises(ConfigurationError, match="P-256"):
        sendgrid.load_verification_key(base64.b64encode(der).decode())


def test_the_sandbox_signs_as_sendgrid_does_with_a_key_derived_from_its_secret():
    keys = SandboxKeys("s" * 64)
    timestamp = str(int(NOW.timestamp()))
    signature = sign_sendgrid(keys.sendgrid_private_key(), timestamp, BODY)

    check(BODY, signature, timestamp, keys.sendgrid_verification_key())
    assert EventWebhook(keys.sendgrid_verification_key()).verify_signature(
        BODY.decode(), signature, timestamp
    )
    assert SandboxKeys("t" * 64).sendgrid_verification_key() != keys.sendgrid_verification_key()
    assert SandboxKeys("s" * 64).sendgrid_verification_key() == keys.sendgrid_verification_key()


# ---------------------------------------------------------------------------------------- Twilio

TOKEN = "12345678901234567890123456789012"
URL = "https://abc123.execute-api.us-east-1.amazonaws.com/prod/webhooks/twilio?notification_id=n-1"
FORM = {
    "AccountSid": ["AC" + "0" * 32],
    "ApiVersion": ["2010-04-01"],
    "From": ["+15005550006"],
    "MessageSid": ["SM" + "1" * 32],
    "MessageStatus": ["delivered"],
    "SmsSid": ["SM" + "1" * 32],
    "SmsStatus": ["delivered"],
    "To": ["+34600000001"],
}


def flat(form: dict[str, list[str]]) -> dict[str, str]:
    return {name: values[0] for name, values in form.items()}


def test_our_twilio_signature_is_the_sdks_and_its_validator_accepts_it():
    ours = twilio.signature(TOKEN, URL, FORM)

    assert ours == RequestValidator(TOKEN).compute_signature(URL, flat(FORM))
    assert RequestValidator(TOKEN).validate(URL, flat(FORM), ours)
    twilio.verify(URL, FORM, ours, None, TOKEN)


def test_a_twilio_signature_over_the_url_with_its_default_port_is_accepted_as_the_sdk_does():
    with_port = URL.replace(".com/", ".com:443/")
    signature = twilio.signature(TOKEN, with_port, FORM)

    assert RequestValidator(TOKEN).validate(URL, flat(FORM), signature)
    twilio.verify(URL, FORM, signature, None, TOKEN)


def test_a_twilio_signature_with_sha256_as_its_settings_header_says():
    settings = "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256"
    signature = twilio.signature(TOKEN, URL, FORM, "HMAC_SHA256")

    assert RequestValidator(TOKEN).validate(URL, flat(FORM), signature, algorithm="HMAC_SHA256")
    twilio.verify(URL, FORM, signature, settings, TOKEN)
    with pytest.raises(UnauthorizedError):
        twilio.verify(URL, FORM, signature, None, TOKEN)  # the same signature read as SHA-1


@pytest.mark.parametrize(
    ("url", "form", "token"),
    [
        (URL.replace("n-1", "n-2"), FORM, TOKEN),  # another notification's callback URL
        (URL, {**FORM, "MessageStatus": ["undelivered"]}, TOKEN),  # a changed status
        (URL, {k: v for k, v in FORM.items() if k != "To"}, TOKEN),  # a parameter dropped
        (URL, FORM, "another-token-another-token-1234"),  # signed with another account's token
    ],
    ids=["other-url", "changed-param", "dropped-param", "other-token"],
)
def test_a_forged_twilio_callback_is_refused(url, form, token):
    signature = twilio.signature(TOKEN, URL, FORM)

    with pytest.raises(UnauthorizedError, match="does not match"):
        twilio.verify(url, form, signature, None, token)
    assert not RequestValidator(token).validate(url, flat(form), signature)


def test_a_twilio_callback_without_a_signature_or_token_is_refused():
    with pytest.raises(UnauthorizedError, match="missing"):
        twilio.verify(URL, FORM, None, None, TOKEN)
    with pytest.raises(UnauthorizedError, match="no Twilio auth token"):
        twilio.verify(URL, FORM, twilio.signature(TOKEN, URL, FORM), None, None)
    with pytest.raises(UnauthorizedError, match="unsupported algorithm"):
        twilio.verify(URL, FORM, "x", "algorithm=HMAC_MD5", TOKEN)
