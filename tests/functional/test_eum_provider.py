"""The End User Messaging SMS provider's real botocore request path, against the loopback EumFake
(moto does not implement `pinpoint-sms-voice-v2`): what goes on the wire, each scripted answer's
classification, timeouts and refused connections, one request per message, and the client's making.
The fake checks every request against botocore's model of the service; a request it rejects fails
the test when the fake stops."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from devstack.fakes.eum import EumFake
from devstack.lambda_events import load_event, sqs_event
from devstack.template import REPO_ROOT
from notifier import runtime, vendors
from notifier.errors import (
    DeliveryError,
    PermanentDeliveryError,
    ProviderUnavailableError,
    RouteUnavailableError,
    TransientDeliveryError,
)
from notifier.models.channels import Channel, Priority
from notifier.models.envelope import SmsMessage
from notifier.providers import Delivery
from notifier.providers.eum_sms import EumConfig, EumProvider

REGION = "eu-west-2"
NUMBER = "+447700900123"
OTHER_NUMBER = "+447700900456"


def sms(number: str = NUMBER, notification_id: str = "n-0001", text: str = "Your code is 123456") -> Delivery:
    return Delivery(notification_id, number, SmsMessage(text=text), Priority.CRITICAL)


def provider_for(fake: EumFake, **options: Any) -> EumProvider:
    settings: dict[str, Any] = {"region": REGION, "endpoint_url": fake.url, "timeout_seconds": 2.0, **options}
    return EumProvider(EumConfig(**settings))


def error_of(provider: EumProvider, delivery: Delivery) -> DeliveryError:
    with pytest.raises(DeliveryError) as raised:
        provider.send(delivery)
    return raised.value


@pytest.fixture
def fake() -> Iterator[EumFake]:
    with EumFake(region=REGION) as running:
        yield running


# --------------------------------------------------------------------------------------------
# The request
# --------------------------------------------------------------------------------------------


def test_a_message_is_one_send_text_message_with_the_context_and_every_option(fake):
    provider = provider_for(
        fake,
        origination_identity="pool-0123456789abcdef",
        configuration_set="notifier-events",
        max_price="0.10",
        message_type="TRANSACTIONAL",
    )

    message_id = provider.send(sms(notification_id="2b7c6c0e-0d3b-4d5e-9a38-2f5f1c2a7d10"))

    [request] = fake.requests
    assert (request.method, request.path) == ("POST", "/")
    assert request.headers["X-Amz-Target"] == "PinpointSMSVoiceV2.SendTextMessage"
    assert request.headers["Content-Type"] == "application/x-amz-json-1.0"
    scope = fake.credential_scope(request)
    assert scope is not None
    assert (scope.region, scope.service) == (REGION, "sms-voice")
    assert json.loads(request.body) == {
        "DestinationPhoneNumber": NUMBER,
        "MessageBody": "Your code is 123456",
        "MessageType": "TRANSACTIONAL",
        "OriginationIdentity": "pool-0123456789abcdef",
        "ConfigurationSetName": "notifier-events",
        "MaxPrice": "0.10",
        "Context": {"notification_id": "2b7c6c0e-0d3b-4d5e-9a38-2f5f1c2a7d10"},
    }
    assert fake.accepted == [(message_id, json.loads(request.body))]


def test_without_options_only_the_number_body_type_and_context_are_sent(fake):
    provider_for(fake, message_type="PROMOTIONAL").send(sms())

    assert fake.sends == [
        {
            "DestinationPhoneNumber": NUMBER,
            "MessageBody": "Your code is 123456",
            "MessageType": "PROMOTIONAL",
            "Context": {"notification_id": "n-0001"},
        }
    ]


def test_a_batch_is_sent_concurrently_and_a_failure_scripted_for_one_number_stays_with_it(fake):
    fake.fail_with(
        "ConflictException", "opted out", address=OTHER_NUMBER, reason="DESTINATION_PHONE_NUMBER_OPTED_OUT"
    )
    provider = provider_for(fake)
    told: list[tuple[int, Any]] = []

    first, second = provider.send_batch(
        [sms(NUMBER, "n-1"), sms(OTHER_NUMBER, "n-2")], lambda i, r: told.append((i, r))
    )

    assert isinstance(first, str)
    assert [message_id for message_id, _ in fake.accepted] == [first]
    assert type(second) is PermanentDeliveryError
    assert sorted(told, key=lambda call: call[0]) == [(0, first), (1, second)]
    assert sorted(body["Context"]["notification_id"] for body in fake.sends) == ["n-1", "n-2"]


# --------------------------------------------------------------------------------------------
# Each scripted answer, classified; never a second request
# --------------------------------------------------------------------------------------------

SCRIPTED = [
    ("throttled", ("ThrottlingException", "Rate exceeded"), {}, TransientDeliveryError),
    ("internal", ("InternalServerException", "Internal error"), {}, ProviderUnavailableError),
    (
        "account-disabled",
        ("AccessDeniedException", None),
        {"reason": "ACCOUNT_DISABLED"},
        ProviderUnavailableError,
    ),
    (
        "iam-denied",
        ("AccessDeniedException", "not authorized to perform sms-voice:SendTextMessage"),
        {},
        ProviderUnavailableError,
    ),
    (
        "spend-limit",
        ("ServiceQuotaExceededException", None),
        {"reason": "MONTHLY_SPEND_LIMIT_REACHED_FOR_TEXT"},
        ProviderUnavailableError,
    ),
    (
        "no-configuration-set",
        ("ResourceNotFoundException", None),
        {"resource_type": "configuration-set", "resource_id": "notifier-events"},
        ProviderUnavailableError,
    ),
    (
        "opted-out",
        ("ConflictException", None),
        {"reason": "DESTINATION_PHONE_NUMBER_OPTED_OUT", "resource_type": "opted-out-number"},
        PermanentDeliveryError,
    ),
    (
        "sandbox",
        ("ConflictException", None),
        {"reason": "DESTINATION_PHONE_NUMBER_NOT_VERIFIED"},
        RouteUnavailableError,
    ),
    (
        "no-sender",
        ("ConflictException", None),
        {"reason": "NO_ORIGINATION_IDENTITIES_FOUND"},
        RouteUnavailableError,
    ),
    ("country", ("ValidationException", None), {"reason": "COUNTRY_NOT_ENABLED"}, RouteUnavailableError),
    ("price", ("ValidationException", None), {"reason": "PRICE_OVER_THRESHOLD"}, RouteUnavailableError),
    (
        "sender-id",
        ("ValidationException", None),
        {"reason": "SENDER_ID_NOT_REGISTERED"},
        RouteUnavailableError,
    ),
    (
        "bad-number",
        ("ValidationException", "Invalid parameters"),
        {
            "reason": "FIELD_VALIDATION_FAILED",
            "fields": {"DestinationPhoneNumber": "not a valid phone number"},
        },
        PermanentDeliveryError,
    ),
    ("unparsable-number", ("ValidationException", None), {"reason": "CANNOT_PARSE"}, PermanentDeliveryError),
    (
        "too-long",
        ("ValidationException", None),
        {"reason": "MAXIMUM_SIZE_EXCEEDED", "fields": {"MessageBody": "too long"}},
        PermanentDeliveryError,
    ),
    ("other-conflict", ("ConflictException", None), {"reason": "KEYWORD_MISMATCH"}, PermanentDeliveryError),
]


@pytest.mark.parametrize(
    ("error", "options", "expected"),
    [(error, options, expected) for _, error, options, expected in SCRIPTED],
    ids=[name for name, *_ in SCRIPTED],
)
def test_each_modeled_error_is_classified_from_what_botocore_parsed(fake, error, options, expected):
    code, message = error
    fake.fail_with(code, message, **options)

    found = error_of(provider_for(fake), sms())

    assert type(found) is expected
    assert len(fake.requests) == 1  # botocore retries neither throttles nor internal errors here
    assert found.reason.startswith(f"eum {500 if code == 'InternalServerException' else 400} {code}")
    if reason := options.get("reason"):
        assert reason in found.reason  # the Reason came back at the top of botocore's response
    for name, said in options.get("fields", {}).items():
        assert f"{name}: {said}" in found.reason  # and so did the Fields
    if expected is TransientDeliveryError:
        assert isinstance(found, TransientDeliveryError)
        assert found.retry_after_seconds == 1.0
    if isinstance(found, ProviderUnavailableError):
        assert found.maybe_sent is False


@pytest.mark.parametrize("status", [500, 503])
def test_an_outage_is_provider_level_and_tried_once(fake, status):
    fake.fail_unavailable(status=status)

    found = error_of(provider_for(fake), sms())

    assert type(found) is ProviderUnavailableError
    assert found.maybe_sent is False
    assert len(fake.requests) == 1


def test_a_5xx_that_is_not_json_is_provider_level(fake):
    fake.fail(fake.ANY, 502, b"<html>Bad Gateway</html>", headers={"Content-Type": "text/html"})

    found = error_of(provider_for(fake), sms())

    assert type(found) is ProviderUnavailableError
    assert found.reason.startswith("eum 502 502")


def test_an_unmodeled_credentials_error_is_provider_level(fake):
    fake.fail(
        fake.ANY,
        400,
        EumFake.error_body(
            "UnrecognizedClientException", "The security token included in the request is invalid."
        ),
    )

    found = error_of(provider_for(fake), sms())

    assert type(found) is ProviderUnavailableError
    assert "UnrecognizedClientException" in found.reason


def test_a_client_signing_for_another_region_is_refused_as_aws_does_and_is_provider_level(fake):
    found = error_of(provider_for(fake, region="us-east-1"), sms())

    assert type(found) is ProviderUnavailableError
    assert "InvalidSignatureException" in found.reason
    assert fake.accepted == []


def test_a_number_the_model_refuses_is_answered_as_the_service_does_and_is_permanent(fake):
    found = error_of(provider_for(fake), sms("+44 7700 900123"))

    assert type(found) is PermanentDeliveryError
    assert "FIELD_VALIDATION_FAILED" in found.reason
    assert found.reason.endswith("(the destination number)")
    assert fake.pop_violations() == [
        r"POST /: body: DestinationPhoneNumber: does not match \+?[1-9][0-9]{1,18}"
    ]


def test_an_empty_message_is_refused_by_botocore_before_it_is_sent(fake):
    found = error_of(provider_for(fake), sms(text=""))

    assert type(found) is PermanentDeliveryError
    assert "ParamValidationError" in found.reason
    assert fake.requests == []


def test_a_scripted_failure_for_the_next_request_only_lets_the_retry_through(fake):
    fake.fail_with("InternalServerException", times=1)
    provider = provider_for(fake)

    first = error_of(provider, sms())
    message_id = provider.send(sms())

    assert type(first) is ProviderUnavailableError
    assert [m for m, _ in fake.accepted] == [message_id]


def test_a_reason_the_model_does_not_have_cannot_be_scripted(fake):
    with pytest.raises(ValueError, match="COUNTRY_NOT_ENABLED"):
        fake.fail_with("ConflictException", reason="COUNTRY_NOT_ENABLED")
    with pytest.raises(ValueError, match="no modeled error"):
        fake.fail_with("TooManyRequestsException")


# --------------------------------------------------------------------------------------------
# Timeouts and refused connections
# --------------------------------------------------------------------------------------------


def test_a_read_timeout_reaches_the_service_once_and_may_have_been_sent(fake):
    fake.delay(0.8, times=1)
    provider = provider_for(fake, timeout_seconds=0.2)

    started = time.perf_counter()
    found = error_of(provider, sms())
    waited = time.perf_counter() - started

    assert type(found) is ProviderUnavailableError
    assert found.maybe_sent is True
    assert "ReadTimeoutError" in found.reason
    assert waited < 0.7  # the client's read timeout, not the fake's delay, and no second try
    assert len(fake.requests) == 1
    deadline = time.monotonic() + 5
    while not fake.accepted and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(fake.accepted) == 1  # the service took the message the client gave up on
    assert len(fake.requests) == 1


def test_a_refused_connection_was_not_sent_and_the_same_address_serves_again(fake):
    provider = provider_for(fake)
    provider.send(sms())  # a kept-alive connection in the client's pool, which down() ends
    fake.down()

    found = error_of(provider, sms())

    assert type(found) is ProviderUnavailableError
    assert found.maybe_sent is False
    assert "EndpointConnectionError" in found.reason
    assert fake.is_down
    fake.up()
    assert provider.send(sms())
    assert len(fake.accepted) == 2
    assert len(fake.requests) == 2


# --------------------------------------------------------------------------------------------
# The client
# --------------------------------------------------------------------------------------------


def test_the_client_is_built_with_the_endpoint_region_and_one_attempt(fake):
    provider = EumProvider(
        EumConfig(region=REGION, endpoint_url=fake.url, timeout_seconds=4.0), max_concurrency=6
    )

    meta = provider.client.meta
    assert meta.service_model.service_name == "pinpoint-sms-voice-v2"
    assert (meta.endpoint_url, meta.region_name) == (fake.url, REGION)
    assert (meta.config.connect_timeout, meta.config.read_timeout) == (2, 4.0)
    assert meta.config.retries["total_max_attempts"] == 1  # botocore adds its default mode
    assert meta.config.max_pool_connections == 6
    assert provider.name == "eum"
    assert provider.channel is Channel.SMS


def test_without_an_endpoint_the_region_and_the_environment_choose_it(fake, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_PINPOINT_SMS_VOICE_V2", fake.url)

    provider = EumProvider(EumConfig(region=REGION))

    assert provider.client.meta.endpoint_url == fake.url
    provider.send(sms())
    assert len(fake.accepted) == 1
    monkeypatch.delenv("AWS_ENDPOINT_URL_PINPOINT_SMS_VOICE_V2")
    assert EumProvider(EumConfig(region=REGION)).client.meta.endpoint_url == (
        f"https://sms-voice.{REGION}.amazonaws.com"
    )


CHILD = """
import json, sys
from notifier.models.channels import Priority
from notifier.models.envelope import SmsMessage
from notifier.providers import Delivery
from notifier.providers.eum_sms import EumConfig, EumProvider
provider = EumProvider(EumConfig(region=sys.argv[2], endpoint_url=sys.argv[1]))
message_id = provider.send(Delivery("n-1", "+447700900123", SmsMessage(text="hi"), Priority.STANDARD))
boto3 = sorted(name for name in sys.modules if name.split(".")[0] == "boto3")
print(json.dumps({"message_id": message_id, "boto3": boto3}))
"""


def test_sending_imports_no_boto3(fake):
    """In a fresh interpreter: the provider is built from botocore alone, as every function's clients."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": f"{REPO_ROOT / 'layers/common'}:{REPO_ROOT}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    done = subprocess.run(
        [sys.executable, "-c", CHILD, fake.url, REGION],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )

    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["boto3"] == []
    assert fake.accepted[0][0] == answer["message_id"]


# --------------------------------------------------------------------------------------------
# Through the SMS consumer
# --------------------------------------------------------------------------------------------


def sms_batch() -> tuple[dict[str, Any], str]:
    """The sample SMS event for the stored recipient (no inline address)."""
    batch = load_event("sqs_sms_critical.json")
    record = next(r for r in batch["Records"] if not json.loads(r["body"])["addresses"])
    return sqs_event([{**record, "messageId": "message-0"}]), json.loads(record["body"])["notification_id"]


def test_the_sms_consumer_sends_through_eum_and_records_its_message_id(consumers, fake, user_123):
    vendors.use_provider(Channel.SMS, provider_for(fake, configuration_set="notifier-events"))
    batch, notification_id = sms_batch()

    answer = consumers["sms"](batch)

    assert answer == {"batchItemFailures": []}
    [(message_id, body)] = fake.accepted
    assert body["DestinationPhoneNumber"] == user_123.contacts.phone
    assert body["Context"] == {"notification_id": notification_id}
    found = runtime.status_store().get(notification_id)
    assert found is not None
    status = found.channels[Channel.SMS]
    assert status.status == "SENT"
    assert status.provider_message_id == message_id


def test_a_refused_connection_leaves_the_record_for_sqs_to_retry(consumers, fake, user_123):
    vendors.use_provider(Channel.SMS, provider_for(fake))
    fake.down()
    batch, notification_id = sms_batch()

    answer = consumers["sms"](batch)

    assert [item["itemIdentifier"] for item in answer["batchItemFailures"]] == ["message-0"]
    found = runtime.status_store().get(notification_id)
    assert found is not None
    assert "EndpointConnectionError" in (found.channels[Channel.SMS].last_error or "")


# --------------------------------------------------------------------------------------------
# The fake's own checks, with requests botocore would never make
# --------------------------------------------------------------------------------------------


def raw(fake: EumFake, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    answer = requests.post(fake.url + "/", data=body, headers=headers, timeout=5)
    return answer.status_code, answer.json()


SIGNED = {
    "Content-Type": "application/x-amz-json-1.0",
    "X-Amz-Target": "PinpointSMSVoiceV2.SendTextMessage",
    "X-Amz-Date": "20260101T000000Z",
    "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/eu-west-2/sms-voice/aws4_request, "
    "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=" + "0" * 64,
}
BODY = json.dumps({"DestinationPhoneNumber": NUMBER, "MessageBody": "hi"}).encode()


@pytest.mark.parametrize(
    ("headers", "body", "error", "violation"),
    [
        ({**SIGNED, "Authorization": ""}, BODY, "MissingAuthenticationTokenException", "no SigV4"),
        (
            {**SIGNED, "Authorization": SIGNED["Authorization"].replace("/sms-voice/", "/sms/")},
            BODY,
            "InvalidSignatureException",
            "signed for the service 'sms'",
        ),
        (
            {**SIGNED, "X-Amz-Target": "PinpointSMSVoiceV2.SendVoiceMessage"},
            BODY,
            "UnknownOperationException",
            "SendVoiceMessage",
        ),
        ({**SIGNED, "Content-Type": "application/json"}, BODY, "SerializationException", "Content-Type"),
        (SIGNED, b"[1, 2]", "ValidationException", "not a JSON object"),
        (SIGNED, json.dumps({"MessageBody": "hi", "Extra": 1}).encode(), "ValidationException", "Extra"),
    ],
    ids=["unsigned", "wrong-service", "other-operation", "content-type", "not-an-object", "members"],
)
def test_a_request_that_breaks_the_model_is_a_violation_answered_as_aws_does(
    fake, headers, body, error, violation
):
    status, answer = raw(fake, body, headers)

    assert status == 400
    assert answer["__type"] == f"com.amazonaws.pinpointsmsvoicev2#{error}"
    violations = fake.pop_violations()
    assert violations
    assert any(violation in v for v in violations)
    assert fake.accepted == []


def test_each_member_at_fault_is_named_in_the_fields(fake):
    body = {
        "MessageBody": "x" * 1601,
        "MessageType": "MARKETING",
        "Context": {"notification_id": " padded "},
        "TimeToLive": 1,
    }

    status, answer = raw(fake, json.dumps(body).encode(), SIGNED)

    assert status == 400
    assert answer["Reason"] == "FIELD_VALIDATION_FAILED"
    assert [field["Name"] for field in answer["Fields"]] == [
        "DestinationPhoneNumber",
        "MessageBody",
        "MessageType",
        "Context",
        "TimeToLive",
    ]
    assert len(fake.pop_violations()) == 5
