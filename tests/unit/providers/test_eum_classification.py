"""Every End User Messaging SMS answer is classified as the research's table (and eum_sms's docstring)
says: transient, provider-level (`ProviderUnavailableError`), route (`RouteUnavailableError`) or
permanent. The answers are built as botocore parses them: the code in `Error`, the error's modeled
members (`Reason`, `Fields`, `ResourceType`) at the top level of `ClientError.response`."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
    ReadTimeoutError,
    UnknownEndpointError,
)

from notifier.errors import (
    DeliveryError,
    PermanentDeliveryError,
    ProviderUnavailableError,
    RouteUnavailableError,
    TransientDeliveryError,
)
from notifier.models.channels import Priority
from notifier.models.envelope import EmailMessage
from notifier.providers import Delivery, eum_sms
from notifier.providers.eum_sms import EumConfig, EumProvider, classify, classify_answer

URL = "https://sms-voice.eu-west-2.amazonaws.com/"


def answer(code: str, message: str = "said the service", status: int = 400, **members: Any) -> ClientError:
    """A ClientError as botocore raises it for a SendTextMessage error answer."""
    response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, "RetryAttempts": 0},
        "Message": message,
        **members,
    }
    return ClientError(response, "SendTextMessage")


def classified(error: Exception) -> DeliveryError:
    found = classify(error)
    assert found.reason.startswith("eum")
    return found


def model_enum(shape: str) -> list[str]:
    model = botocore.session.get_session().get_service_model("pinpoint-sms-voice-v2")
    return list(model.shape_for(shape).enum)  # type: ignore[attr-defined]


# --------------------------------------------------------------------------------------------
# Rate limits and outages
# --------------------------------------------------------------------------------------------


def test_a_throttle_is_transient_on_this_provider_and_waits_a_second():
    error = classified(answer("ThrottlingException", "Rate exceeded"))

    assert type(error) is TransientDeliveryError  # not provider-level: no failover, no breaker
    assert error.retry_after_seconds == 1.0
    assert error.reason == "eum 400 ThrottlingException: Rate exceeded"


def test_any_429_is_a_throttle():
    error = classified(answer("TooManyRequests", status=429))

    assert type(error) is TransientDeliveryError
    assert error.retry_after_seconds == 1.0


@pytest.mark.parametrize(
    ("code", "status"),
    [("InternalServerException", 500), ("ServiceUnavailable", 503), ("502", 502), ("InternalFailure", 500)],
)
def test_an_internal_error_or_any_5xx_is_provider_level_and_nothing_was_sent(code, status):
    error = classified(answer(code, status=status))

    assert type(error) is ProviderUnavailableError
    assert error.maybe_sent is False
    assert f"eum {status} {code}" in error.reason


# --------------------------------------------------------------------------------------------
# The account, its role, quota and configuration: provider-level
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["ACCOUNT_DISABLED", "INSUFFICIENT_ACCOUNT_REPUTATION", None])
def test_access_denied_is_provider_level_whatever_its_reason(reason):
    members = {"Reason": reason} if reason else {}

    error = classified(answer("AccessDeniedException", "not authorized", **members))

    assert type(error) is ProviderUnavailableError
    assert error.maybe_sent is False
    expected = "eum 400 AccessDeniedException" + (f" {reason}" if reason else "") + ": not authorized"
    assert error.reason == expected


@pytest.mark.parametrize(
    "code",
    [
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "ExpiredTokenException",
        "MissingAuthenticationTokenException",
        "IncompleteSignatureException",
    ],
)
def test_aws_credential_and_signature_errors_are_provider_level(code):
    assert type(classified(answer(code))) is ProviderUnavailableError


@pytest.mark.parametrize("status", [401, 403])
def test_an_unknown_code_refusing_the_caller_is_provider_level(status):
    assert type(classified(answer("SomethingNew", status=status))) is ProviderUnavailableError


@pytest.mark.parametrize(
    "reason", ["MONTHLY_SPEND_LIMIT_REACHED_FOR_TEXT", "DAILY_DESTINATION_CALL_LIMIT", None]
)
def test_a_quota_used_up_is_provider_level(reason):
    members = {"Reason": reason} if reason else {}

    error = classified(answer("ServiceQuotaExceededException", "spend limit reached", **members))

    assert type(error) is ProviderUnavailableError
    if reason:
        assert reason in error.reason


@pytest.mark.parametrize(
    "resource_type", ["configuration-set", "pool", "phone-number", "sender-id", "account"]
)
def test_a_missing_resource_is_provider_level(resource_type):
    error = classified(answer("ResourceNotFoundException", ResourceType=resource_type, ResourceId="notifier"))

    assert type(error) is ProviderUnavailableError


# --------------------------------------------------------------------------------------------
# The recipient
# --------------------------------------------------------------------------------------------


def test_an_opted_out_recipient_is_permanent_and_not_a_route_error():
    error = classified(
        answer(
            "ConflictException",
            "The destination phone number is opted out",
            Reason="DESTINATION_PHONE_NUMBER_OPTED_OUT",
            ResourceType="opted-out-number",
            ResourceId="+447700900123",
        )
    )

    assert type(error) is PermanentDeliveryError  # another provider must not text them either
    assert error.reason == (
        "eum 400 ConflictException DESTINATION_PHONE_NUMBER_OPTED_OUT: "
        "The destination phone number is opted out (the recipient opted out)"
    )


@pytest.mark.parametrize(
    ("reason", "fields"),
    [
        ("CANNOT_PARSE", []),
        ("FIELD_VALIDATION_FAILED", [{"Name": "DestinationPhoneNumber", "Message": "invalid number"}]),
        ("INVALID_PARAMETER", [{"Name": "DestinationPhoneNumber", "Message": "not a mobile number"}]),
        (
            "FIELD_VALIDATION_FAILED",
            [
                {"Name": "MessageBody", "Message": "fine"},
                {"Name": "DestinationPhoneNumber", "Message": "invalid number"},
            ],
        ),
    ],
    ids=["cannot-parse", "field-validation", "invalid-parameter", "second-field"],
)
def test_a_destination_number_the_service_refuses_is_permanent(reason, fields):
    error = classified(answer("ValidationException", "Invalid parameters", Reason=reason, Fields=fields))

    assert type(error) is PermanentDeliveryError
    assert error.reason.endswith("(the destination number)")
    assert f"ValidationException {reason}: Invalid parameters" in error.reason
    for field in fields:
        assert f"{field['Name']}: {field['Message']}" in error.reason


# --------------------------------------------------------------------------------------------
# Routes: this provider cannot serve this message, another may
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "reason"),
    [(code, reason) for code, reasons in eum_sms.ROUTE_REASONS.items() for reason in sorted(reasons)],
)
def test_route_reasons_are_route_errors(code, reason):
    error = classified(answer(code, "cannot send there", Reason=reason))

    assert type(error) is RouteUnavailableError
    assert isinstance(error, PermanentDeliveryError)  # FAILED when there is no fallback
    assert error.reason == f"eum 400 {code} {reason}: cannot send there"


def test_the_route_reasons_are_the_research_tables():
    research = {
        "ConflictException": {
            "DESTINATION_PHONE_NUMBER_NOT_VERIFIED",
            "NO_ORIGINATION_IDENTITIES_FOUND",
            "MESSAGE_TYPE_MISMATCH",
            "NUMBER_CAPABILITIES_MISMATCH",
            "RESOURCE_NOT_ACTIVE",
            "DESTINATION_COUNTRY_BLOCKED_BY_PROTECT_CONFIGURATION",
        },
        "ValidationException": {
            "COUNTRY_NOT_ENABLED",
            "DESTINATION_COUNTRY_BLOCKED",
            "INVALID_IDENTITY_FOR_DESTINATION_COUNTRY",
            "INTERNATIONAL_SENDING_NOT_SUPPORTED",
            "SENDER_ID_NOT_REGISTERED",
            "SENDER_ID_NOT_SUPPORTED",
            "SENDER_ID_REQUIRES_REGISTRATION",
            "PRICE_OVER_THRESHOLD",
            "CHANNEL_NOT_ENABLED",
        },
    }

    assert research == eum_sms.ROUTE_REASONS


def test_every_reason_classified_is_one_the_model_has():
    """A misspelt Reason would never match: each is checked against botocore's enums."""
    conflict, validation = model_enum("ConflictExceptionReason"), model_enum("ValidationExceptionReason")

    assert eum_sms.ROUTE_REASONS["ConflictException"] <= set(conflict)
    assert eum_sms.ROUTE_REASONS["ValidationException"] <= set(validation)
    assert eum_sms.OPTED_OUT in conflict
    assert {eum_sms.UNPARSABLE, *eum_sms.DESTINATION_REASONS} <= set(validation)
    assert {"ACCOUNT_DISABLED", "INSUFFICIENT_ACCOUNT_REPUTATION"} <= set(
        model_enum("AccessDeniedExceptionReason")
    )
    assert "MONTHLY_SPEND_LIMIT_REACHED_FOR_TEXT" in model_enum("ServiceQuotaExceededExceptionReason")


def test_a_route_reason_under_another_code_is_not_a_route():
    """The Reasons are per error: a ValidationException's Reason under a ConflictException is not one."""
    error = classified(answer("ConflictException", Reason="COUNTRY_NOT_ENABLED"))

    assert type(error) is PermanentDeliveryError


# --------------------------------------------------------------------------------------------
# The message, and everything else: permanent, with the Reason and Fields
# --------------------------------------------------------------------------------------------


def test_a_message_too_long_is_permanent_and_not_about_the_destination():
    error = classified(
        answer(
            "ValidationException",
            "Too long",
            Reason="MAXIMUM_SIZE_EXCEEDED",
            Fields=[{"Name": "MessageBody", "Message": "at most 1600 characters"}],
        )
    )

    assert type(error) is PermanentDeliveryError
    assert error.reason == (
        "eum 400 ValidationException MAXIMUM_SIZE_EXCEEDED: Too long [MessageBody: at most 1600 characters]"
    )


@pytest.mark.parametrize("name", ["MessageBody", "Context", "OriginationIdentity"])
def test_a_field_error_on_another_member_is_permanent_and_names_the_field(name):
    error = classified(
        answer(
            "ValidationException",
            "Invalid parameters",
            Reason="FIELD_VALIDATION_FAILED",
            Fields=[{"Name": name, "Message": "bad"}],
        )
    )

    assert type(error) is PermanentDeliveryError
    assert f"[{name}: bad]" in error.reason
    assert "destination" not in error.reason


def test_an_invalid_parameter_without_fields_is_not_about_the_destination():
    error = classified(answer("ValidationException", "Invalid", Reason="INVALID_PARAMETER"))

    assert type(error) is PermanentDeliveryError
    assert "destination" not in error.reason


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("ValidationException", "OTHER"),
        ("ValidationException", "INVALID_REQUEST"),
        ("ValidationException", None),
        ("ConflictException", "DESTINATION_PHONE_NUMBER_BLOCKED_BY_PROTECT_NUMBER_OVERRIDE"),
        ("ConflictException", None),
    ],
)
def test_other_validation_and_conflict_errors_are_permanent_with_their_reason(code, reason):
    members = {"Reason": reason} if reason else {}

    error = classified(answer(code, "no", **members))

    assert type(error) is PermanentDeliveryError
    assert error.reason == f"eum 400 {code}" + (f" {reason}" if reason else "") + ": no"


@pytest.mark.parametrize("code", ["SerializationException", "UnknownOperationException", "Whatever"])
def test_any_other_4xx_is_permanent(code):
    assert type(classified(answer(code))) is PermanentDeliveryError


def test_reason_and_fields_are_read_from_the_error_too():
    """botocore puts them at the top level; an answer with them under Error only is read the same."""
    response: Any = {
        "Error": {"Code": "ValidationException", "Message": "m", "Reason": "COUNTRY_NOT_ENABLED"},
        "ResponseMetadata": {"HTTPStatusCode": 400},
    }

    assert type(classify_answer(response)) is RouteUnavailableError


def test_an_answer_without_status_or_message_still_has_a_reason():
    error = classify_answer({"Error": {"Code": "ValidationException"}})

    assert type(error) is PermanentDeliveryError
    assert error.reason == "eum 0 ValidationException"


def test_malformed_fields_are_ignored():
    error = classified(answer("ValidationException", Reason="FIELD_VALIDATION_FAILED", Fields="nope"))

    assert type(error) is PermanentDeliveryError
    assert "[" not in error.reason


# --------------------------------------------------------------------------------------------
# botocore's own errors: the connection, the credentials, the request
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        EndpointConnectionError(endpoint_url=URL),
        ConnectTimeoutError(endpoint_url=URL),
    ],
    ids=["refused", "connect-timeout"],
)
def test_a_connection_never_made_is_provider_level_and_was_not_sent(error):
    found = classified(error)

    assert type(found) is ProviderUnavailableError
    assert found.maybe_sent is False
    assert found.reason.startswith(f"eum: {type(error).__name__} (")


@pytest.mark.parametrize(
    "error",
    [ReadTimeoutError(endpoint_url=URL), ConnectionClosedError(endpoint_url=URL)],
    ids=["read-timeout", "closed"],
)
def test_a_request_sent_without_an_answer_may_have_been_sent(error):
    found = classified(error)

    assert type(found) is ProviderUnavailableError
    assert found.maybe_sent is True


@pytest.mark.parametrize(
    "error",
    [
        NoCredentialsError(),
        PartialCredentialsError(provider="env", cred_var="AWS_SECRET_ACCESS_KEY"),
        CredentialRetrievalError(provider="container-role", error_msg="refused"),
    ],
)
def test_no_credentials_is_provider_level_and_nothing_was_sent(error):
    found = classified(error)

    assert type(found) is ProviderUnavailableError
    assert found.maybe_sent is False


def test_a_request_botocore_refuses_is_permanent():
    found = classified(ParamValidationError(report="Invalid length for parameter MessageBody"))

    assert type(found) is PermanentDeliveryError


def test_another_botocore_error_is_transient_on_this_provider():
    found = classified(UnknownEndpointError(service_name="sms-voice", region_name="nowhere"))

    assert type(found) is TransientDeliveryError
    assert isinstance(UnknownEndpointError(service_name="x", region_name="y"), BotoCoreError)


def test_an_error_that_is_not_botocores_is_transient():
    found = classified(RuntimeError("odd"))

    assert type(found) is TransientDeliveryError
    assert found.reason == "eum: unexpected RuntimeError: odd"


# --------------------------------------------------------------------------------------------
# The configuration and the client
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        ({"message_type": "MARKETING"}, "message_type"),
        ({"origination_identity": "pool abc"}, "origination identity"),
        ({"origination_identity": ""}, "origination identity"),
        ({"configuration_set": "a+b"}, "configuration set"),
        ({"max_price": "0,10"}, "max_price"),
        ({"max_price": "100.0"}, "max_price"),
        ({"timeout_seconds": 0}, "timeout_seconds"),
    ],
)
def test_a_configuration_the_service_would_refuse_is_refused_when_built(options, complaint):
    with pytest.raises(ValueError, match=complaint):
        EumConfig(**options)


@pytest.mark.parametrize(("timeout", "connect"), [(5.0, 2), (1.5, 1.5), (0.3, 0.3)])
def test_the_client_tries_once_and_connects_within_two_seconds(timeout, connect):
    config: Any = eum_sms.client_config(timeout, max_concurrency=7)  # botocore-stubs omit its options

    assert config.connect_timeout == connect
    assert config.read_timeout == timeout
    assert config.retries == {"total_max_attempts": 1}
    assert config.max_pool_connections == 7


def test_only_sms_is_sent():
    provider = EumProvider(EumConfig(region="eu-west-2"))
    email = Delivery("n-1", "a@example.org", EmailMessage(subject="s", text="t"), Priority.STANDARD)

    with pytest.raises(PermanentDeliveryError, match="eum sends SMS"):
        provider.send(email)
