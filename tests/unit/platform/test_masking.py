"""Addresses never leave unmasked: the masks, `scrub` on vendors' texts, and the Logger end to end."""

from __future__ import annotations

import io
import json
import logging
import random
import string
import time
import traceback
import uuid
from typing import Any

import pytest
import requests
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from firebase_admin import messaging

from devstack.lambda_events import record_of, sqs_event
from notifier.delivery.batch import NotificationRecord
from notifier.errors import PermanentDeliveryError
from notifier.models.channels import Channel
from notifier.platform import logs
from notifier.platform.logs import MaskingFormatter, make_logger
from notifier.platform.masking import (
    mask_address,
    mask_email,
    mask_phone,
    mask_token,
    might_need_scrubbing,
    scrub,
)
from notifier.providers import fcm_push, sendgrid_email, twilio_sms

EMAIL = "john.doe@example.com"
EMAIL_MASKED = "j***@e***.com"
PHONE = "+15005550001"
PHONE_MASKED = "+15*******01"
_TOKEN_ALPHABET = string.ascii_letters + string.digits + "_-"
FCM_TOKEN = (
    "fKx3Tq9vRZ-c8NnE1pLw7Y:APA91b" + "".join(random.Random(7).choices(_TOKEN_ALPHABET, k=134))  # noqa: S311 - a fixed fake token
)
FCM_MASKED = "fKx3Tq...(163)"
APNS_TOKEN = "740f4707bebcf74f9b7c25d48e3358945f6aa01da5ddb387462c7eaf61bb78ad"
APNS_MASKED = "740f47...(64)"


def assert_masked(text: str, original: str, masked: str) -> None:
    assert original not in text
    assert masked in text


# ------------------------------------------------------------------------------------------ masks


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        (EMAIL, EMAIL_MASKED),
        ("jane+news@mail.example.co.uk", "j***@m***.uk"),
        ("a@b.io", "a***@b***.io"),
        ("not-an-address", "***"),
    ],
)
def test_mask_email(value, masked):
    assert mask_email(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        (PHONE, PHONE_MASKED),
        ("+447700900123", "+44********23"),
        ("+1 (415) 555-0100", "+14*******00"),
        ("+49 30 901820", "+49******20"),
    ],
)
def test_mask_phone_keeps_the_first_and_last_two_digits(value, masked):
    assert mask_phone(value) == masked


def test_mask_token_keeps_six_characters_and_the_length():
    assert mask_token(FCM_TOKEN) == FCM_MASKED
    assert mask_token(APNS_TOKEN) == APNS_MASKED
    assert mask_token("sandbox-unregistered") == "sandb...(20)"  # short: at most a quarter shown
    assert mask_token("abc") == "...(3)"


def test_mask_address_by_channel():
    assert mask_address(Channel.EMAIL, EMAIL) == EMAIL_MASKED
    assert mask_address(Channel.SMS, PHONE) == PHONE_MASKED
    assert mask_address(Channel.PUSH, FCM_TOKEN) == FCM_MASKED
    assert mask_address("phone", PHONE) == PHONE_MASKED


@pytest.mark.parametrize("value", [EMAIL, "j@x.co", PHONE, "+1 (415) 555-0100", FCM_TOKEN, APNS_TOKEN])
def test_no_mask_holds_the_original(value):
    for mask in (mask_email, mask_phone, mask_token):
        assert value not in mask(value)


# ----------------------------------------------------------------------------- vendors' texts


def test_a_twilio_invalid_to_number_is_masked():
    reason = twilio_sms.classify(
        400, 21211, "The 'To' number +15005550001 is not a valid phone number."
    ).reason

    assert scrub(reason) == "twilio 400 code 21211: The 'To' number +15*******01 is not a valid phone number."


def test_a_sendgrid_error_body_echoing_the_address_is_masked():
    body = json.dumps(
        {
            "errors": [
                {
                    "message": f"The to email {EMAIL} does not contain a valid address.",
                    "field": "personalizations.0.to.0.email",
                    "help": "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html#message.personalizations.to",
                }
            ]
        }
    ).encode()

    reason = scrub(sendgrid_email.classify(400, {}, body).reason)

    assert reason == (
        f"sendgrid 400: The to email {EMAIL_MASKED} does not contain a valid address. "
        "(personalizations.0.to.0.email)"
    )


def test_a_sendgrid_body_that_is_not_json_is_masked_too():
    body = f'<html><body>bad request: "to": ["{EMAIL}"]</body></html>'.encode()

    assert_masked(scrub(sendgrid_email.classify(400, {}, body).reason), EMAIL, EMAIL_MASKED)


def test_an_fcm_error_naming_the_token_is_masked():
    response = requests.Response()
    response.status_code = 404
    error = messaging.UnregisteredError(
        message=f"Requested entity was not found. (token {FCM_TOKEN})", cause=None, http_response=response
    )

    reason = scrub(fcm_push.classify(error).reason)

    assert reason == f"fcm UNREGISTERED: Requested entity was not found. (token {FCM_MASKED})"


def test_an_fcm_error_body_is_masked_and_its_type_urls_kept():
    body = json.dumps(
        {
            "error": {
                "code": 400,
                "message": f"The registration token is not a valid FCM registration token: {FCM_TOKEN}",
                "status": "INVALID_ARGUMENT",
                "details": [
                    {
                        "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                        "errorCode": "INVALID_ARGUMENT",
                    }
                ],
            }
        }
    )

    scrubbed = scrub(body)

    assert_masked(scrubbed, FCM_TOKEN, FCM_MASKED)
    assert '"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError"' in scrubbed


def test_a_legacy_fcm_token_and_an_apns_token_are_masked():
    legacy = "APA91b" + FCM_TOKEN[-140:]
    text = f"tokens: {legacy}, {APNS_TOKEN}."

    scrubbed = scrub(text)

    assert scrubbed == f"tokens: {mask_token(legacy)}, {APNS_MASKED}."
    assert legacy not in scrubbed


def test_a_traceback_holding_an_address_is_masked():
    def send() -> None:
        raise PermanentDeliveryError(f"sendgrid 400: The to email {EMAIL} does not contain a valid address.")

    try:
        send()
    except PermanentDeliveryError:
        text = traceback.format_exc()

    scrubbed = scrub(text)

    assert_masked(scrubbed, EMAIL, EMAIL_MASKED)
    assert "Traceback (most recent call last):" in scrubbed
    assert "in send" in scrubbed


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("call +1 (415) 555-0100 now", "call +14*******00 now"),
        ("(+44 20 7946 0958)", "(+44********58)"),
        ("+44 (0) 20 7946 0958.", "+44*********58."),
        ("tel:+33.1.23.45.67.89", "tel:+33*******89"),
        ("+49-30-901820", "+49******20"),
        ("To=%2B15005550001&From=%2B15005550002", f"To={PHONE_MASKED}&From=+15*******02"),
        ("to=john.doe%40example.com", f"to={EMAIL_MASKED}"),
        ("<JOHN.DOE@EXAMPLE.COM>", "<J***@E***.COM>"),
        (f"{EMAIL},{EMAIL}", f"{EMAIL_MASKED},{EMAIL_MASKED}"),
        ("sent to ['a@b.io', '+15005550001']", "sent to ['a***@b***.io', '+15*******01']"),
        (
            'input_value=\'{"email": "john.doe@exa...ted_at": 1}\'',
            'input_value=\'{"email": "j***@e***...ted_at": 1}\'',
        ),
        ("root@localhost", "r***@l***"),
    ],
)
def test_addresses_as_people_write_them_are_masked(text, expected):
    assert scrub(text) == expected


INTACT = [
    "arn:aws:lambda:us-east-1:123456789012:function:notifier-prod-EmailFunction-AbCdEf123456",
    "arn:aws:sqs:eu-west-1:123456789012:notifier-prod-EmailCriticalQueue-1A2B3C4D5E6F",
    "account 123456789012",
    "059f36b4-87a3-44ab-83d2-661975830a7d",  # SQS message id, Lambda request id
    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
    "1-5759e988-bd862e3fe1be46a994272793",
    "2026-11-21T10:00:00.123+00:00",
    "2026-11-21T10:00:00+0000",
    "2026-11-21 10:00:00,123+0000",
    "Sat, 21 Nov 2026 10:00:00 +0000",
    "status 429 after 1234.56 ms (1e+10 bytes); took +1500 ms",
    '{"@type": "type.googleapis.com/google.rpc.BadRequest"}',
    "    @logger.inject_lambda_context\n",
    "sha d41d8cd98f00b204e9800998ecf8427e",  # md5: 32 hex digits
    "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a+8IfkUg2/Ab12345678=",  # a receipt handle: base64
    "X-RateLimit-Reset: 1795000000",
    "projects/notifier-prod/messages/0:1500415314455276%31bd1c9631bd1c96",
]


@pytest.mark.parametrize("text", INTACT)
def test_what_is_routinely_logged_is_left_intact(text):
    assert scrub(text) == text


def test_a_typical_log_line_is_left_intact_and_not_even_walked():
    line = json.dumps(
        {
            "level": "INFO",
            "location": "_finish:280",
            "message": "notification sent",
            "timestamp": "2026-11-21 10:00:00,123+0000",
            "service": "notifier",
            "function_arn": INTACT[0],
            "function_request_id": str(uuid.uuid4()),
            "sqs_message_id": str(uuid.uuid4()),
            "xray_trace_id": INTACT[5],
            "duration_ms": 123.4,
        }
    )

    assert scrub(line) == line
    assert not might_need_scrubbing(line)


@pytest.mark.parametrize(
    "text", [EMAIL, PHONE, FCM_TOKEN, APNS_TOKEN, "To=%2B15005550001", "x%40example.com", "+1 (415) 555-0100"]
)
def test_anything_scrub_would_mask_is_seen_by_the_cheap_test_even_json_escaped(text):
    assert might_need_scrubbing(text)
    assert might_need_scrubbing(json.dumps({"m": f"line\n{text}\tend"}))


def test_scrubbing_twice_changes_nothing():
    text = f"to {EMAIL} / {PHONE} / +1 (415) 555-0100 / {FCM_TOKEN} / {APNS_TOKEN}"

    once = scrub(text)

    assert scrub(once) == once
    for original in (EMAIL, PHONE, FCM_TOKEN, APNS_TOKEN):
        assert original not in once


def test_pathological_text_is_scrubbed_in_linear_time():
    texts = ["a" * 100_000 + "@", "a@" * 50_000, "+1" * 50_000, "+1 " * 30_000 + "x", "f" * 100_000]
    started = time.perf_counter()
    for text in texts:
        scrub(text)
    assert time.perf_counter() - started < 2.0


# ---------------------------------------------------------------------------------- the Logger


@pytest.fixture
def log() -> tuple[Any, io.StringIO]:
    """A Logger made as the one of every function is, writing to a buffer."""
    stream = io.StringIO()
    return make_logger(service=f"masking-test-{uuid.uuid4()}", stream=stream), stream


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_the_message_and_every_extra_key_are_masked(log):
    logger, stream = log

    logger.warning(
        f"delivery to {EMAIL} failed",
        extra={
            "address": PHONE,
            "reasons": [f"twilio 400 code 21211: The 'To' number {PHONE} is not a valid phone number."],
            "recipient": {"contacts": {"email": EMAIL, "push_tokens": [{"token": FCM_TOKEN}]}},
            "attempts": 2,
            "sent": False,
        },
    )

    [line] = lines(stream)
    raw = stream.getvalue()
    for original in (EMAIL, PHONE, FCM_TOKEN):
        assert original not in raw
    assert line["message"] == f"delivery to {EMAIL_MASKED} failed"
    assert line["address"] == PHONE_MASKED
    assert line["reasons"] == [
        f"twilio 400 code 21211: The 'To' number {PHONE_MASKED} is not a valid phone number."
    ]
    assert line["recipient"] == {"contacts": {"email": EMAIL_MASKED, "push_tokens": [{"token": FCM_MASKED}]}}
    assert (line["attempts"], line["sent"], line["level"]) == (2, False, "WARNING")


def test_appended_keys_a_dict_message_and_objects_are_masked(log):
    logger, stream = log

    class Contact:
        def __str__(self) -> str:
            return f"Contact({EMAIL})"

    logger.append_keys(recipient_email=EMAIL)
    logger.thread_safe_append_keys(sms_to=PHONE)
    try:
        logger.info({"to": APNS_TOKEN, "pairs": (EMAIL, 1)}, extra={"contact": Contact()})
    finally:
        logger.thread_safe_clear_keys()

    [line] = lines(stream)
    assert line["recipient_email"] == EMAIL_MASKED
    assert line["sms_to"] == PHONE_MASKED
    assert line["message"] == {"to": APNS_MASKED, "pairs": [EMAIL_MASKED, 1]}
    assert line["contact"] == f"Contact({EMAIL_MASKED})"


def test_an_exception_its_traceback_and_stack_trace_are_masked(log):
    logger, stream = log

    try:
        raise PermanentDeliveryError(f"sendgrid 400: The to email {EMAIL} does not contain a valid address.")
    except PermanentDeliveryError as exc:
        exc.add_note(f"recipient phone {PHONE}")
        logger.exception("could not send")

    [line] = lines(stream)
    assert EMAIL not in stream.getvalue()
    assert PHONE not in stream.getvalue()
    assert line["exception_name"] == "PermanentDeliveryError"
    assert f"The to email {EMAIL_MASKED} does not contain" in line["exception"]
    assert line["exception"].startswith("Traceback (most recent call last):")
    assert line["exception_notes"] == [f"recipient phone {PHONE_MASKED}"]
    assert EMAIL_MASKED in line["stack_trace"]["value"]
    assert line["stack_trace"]["type"] == "PermanentDeliveryError"


def test_a_line_without_addresses_is_what_powertools_writes():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "notification sent", None, None, func="f")
    record.__dict__.update(function_arn=INTACT[0], sqs_message_id=str(uuid.uuid4()), duration_ms=12.5)
    options: dict[str, Any] = {"service": "notifier"}

    assert MaskingFormatter(**options).format(record) == LambdaPowertoolsFormatter(**options).format(record)


def test_the_logger_of_every_function_masks(monkeypatch):
    logger = logs.logger
    stream = io.StringIO()
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    assert isinstance(logger.registered_formatter, MaskingFormatter)
    previous = handler.setStream(stream)
    monkeypatch.setattr(logger._logger, "level", logging.INFO)
    try:
        logger.info("sent", extra={"address": EMAIL})
    finally:
        handler.setStream(previous)

    [line] = lines(stream)
    assert line["address"] == EMAIL_MASKED
    assert line["service"] == "notifier"


def test_the_batch_processors_failure_lines_are_masked(log, caplog):
    logger, stream = log
    processor = BatchProcessor(event_type=EventType.SQS, logger=logger, raise_on_entire_batch_failure=False)
    reason = f"twilio 400 code 21211: The 'To' number {PHONE} is not a valid phone number."

    def fail(record: Any) -> None:
        raise PermanentDeliveryError(reason)

    record = record_of("{}", queue_arn="arn:aws:sqs:us-east-1:123456789012:q", message_id="m-1")
    caplog.set_level(logging.DEBUG, logger="aws_lambda_powertools.utilities.batch.base")
    answer = process_partial_response(sqs_event([record]), fail, processor)

    assert answer == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    [line] = lines(stream)
    assert line["message"] == "Record processing exception; skipping this record"
    assert_masked(line["exception"], PHONE, PHONE_MASKED)
    # The processor's own debug line goes through its module's logger, which masks too.
    debug = [r.getMessage() for r in caplog.records if r.name == "aws_lambda_powertools.utilities.batch.base"]
    assert any(PHONE_MASKED in m for m in debug)
    assert not any(PHONE in m for m in debug)


def test_a_malformed_records_validation_error_is_masked(log):
    logger, stream = log
    processor = BatchProcessor(
        event_type=EventType.SQS, model=NotificationRecord, logger=logger, raise_on_entire_batch_failure=False
    )
    body = {"notification_id": "n-1", "priority": "urgent!", "addresses": {"email": EMAIL, "sms": PHONE}}
    record = record_of(json.dumps(body), queue_arn="arn:aws:sqs:us-east-1:123456789012:q", message_id="m-1")

    answer = process_partial_response(sqs_event([record]), lambda record: None, processor)

    assert answer == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    [line] = lines(stream)
    assert "validation error" in line["exception"]  # pydantic echoes the body: input_value={...}
    assert_masked(line["exception"], PHONE, PHONE_MASKED)
    assert EMAIL not in stream.getvalue()


def test_a_sendgrid_answer_that_is_not_json_is_masked_before_it_is_cut_to_200_characters():
    from notifier.providers.sendgrid_email import _error_messages  # noqa: PLC0415

    address = "maria.garcia@example.com"
    reason = _error_messages(("x" * 185 + f" rejected {address}").encode())

    assert len(reason) <= 200
    assert "maria" not in reason
    assert "garcia" not in reason
