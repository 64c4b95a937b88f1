"""Every vendor answer is delivered, transient (retried) or permanent (FAILED), as the vendors document."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
import requests
from firebase_admin import exceptions, messaging

from notifier.errors import (
    PermanentDeliveryError,
    ProviderUnavailableError,
    RouteUnavailableError,
    TransientDeliveryError,
    UnregisteredAddressError,
)
from notifier.providers import fcm_push, retry_after_seconds, sendgrid_email, twilio_sms

SENDGRID_ERROR = (
    b'{"errors": [{"message": "Does not contain a valid address.", "field": "personalizations.0.to"}]}'
)


@pytest.mark.parametrize("status", [400, 413, 404])
def test_sendgrid_request_errors_are_permanent(status):
    error = sendgrid_email.classify(status, {}, SENDGRID_ERROR)

    assert type(error) is PermanentDeliveryError
    assert "Does not contain a valid address. (personalizations.0.to)" in error.reason


@pytest.mark.parametrize("status", [500, 502, 503, 401, 403])
def test_sendgrid_outages_and_account_problems_are_the_providers_so_the_message_is_kept(status):
    error = sendgrid_email.classify(status, {}, b"")

    # Transient (kept and retried), another provider may send it now, and nothing was taken.
    assert type(error) is ProviderUnavailableError
    assert isinstance(error, TransientDeliveryError)
    assert error.maybe_sent is False


def test_a_sendgrid_rate_limit_is_transient_and_waits_until_the_reset_time():
    reset = int(time.time()) + 30

    error = sendgrid_email.classify(
        429, {"X-RateLimit-Reset": str(reset)}, b'{"errors":[{"message":"too many requests"}]}'
    )

    assert isinstance(error, TransientDeliveryError)
    assert 28 <= (error.retry_after_seconds or 0) <= 30


def test_a_sendgrid_error_body_that_is_not_json_is_quoted_in_the_reason():
    assert "Bad Gateway" in sendgrid_email.classify(502, {}, b"<html>Bad Gateway</html>").reason


def test_a_twilio_region_not_enabled_is_a_route_another_provider_may_take():
    error = twilio_sms.classify(400, 21408, "Permission to send an SMS has not been enabled for the region")

    assert type(error) is RouteUnavailableError
    assert isinstance(error, PermanentDeliveryError)  # FAILED when there is no other provider


@pytest.mark.parametrize("code", [21211, 21610, 21614, 21612, 21617])
def test_twilio_address_and_content_errors_are_permanent(code):
    error = twilio_sms.classify(400, code, "rejected")

    assert type(error) is PermanentDeliveryError
    assert f"code {code}" in error.reason


@pytest.mark.parametrize(("status", "code"), [(429, 20429), (400, 14107), (400, 21611)])
def test_twilio_rate_limits_are_transient(status, code):
    assert type(twilio_sms.classify(status, code, "try later")) is TransientDeliveryError


@pytest.mark.parametrize(
    ("status", "code"), [(500, None), (503, 20503), (401, 20003), (400, 21606), (400, 21703)]
)
def test_twilio_outages_and_account_problems_are_the_providers(status, code):
    error = twilio_sms.classify(status, code, "try later")

    assert type(error) is ProviderUnavailableError
    assert error.maybe_sent is False


def test_an_unknown_twilio_4xx_is_permanent():
    assert type(twilio_sms.classify(400, 29999, "new error")) is PermanentDeliveryError


def firebase_error(kind, *, retry_after: str | None = None):
    response = requests.Response()
    response.status_code = 503
    if retry_after:
        response.headers["Retry-After"] = retry_after
    if kind in (exceptions.UnavailableError, exceptions.InternalError, exceptions.InvalidArgumentError):
        return kind(message="fcm said no", http_response=response)
    return kind(message="fcm said no", cause=None, http_response=response)


def test_an_unregistered_fcm_token_is_permanent_and_says_the_address_is_gone():
    error = fcm_push.classify(firebase_error(messaging.UnregisteredError))

    assert isinstance(error, UnregisteredAddressError)
    assert "UNREGISTERED" in error.reason


@pytest.mark.parametrize(
    "kind", [exceptions.InvalidArgumentError, messaging.SenderIdMismatchError, messaging.ThirdPartyAuthError]
)
def test_fcm_invalid_argument_sender_mismatch_and_third_party_auth_are_permanent(kind):
    error = fcm_push.classify(firebase_error(kind))

    assert type(error) is PermanentDeliveryError


@pytest.mark.parametrize(
    "kind", [exceptions.UnavailableError, exceptions.InternalError, messaging.QuotaExceededError]
)
def test_fcm_unavailable_internal_and_quota_are_transient_and_honour_retry_after(kind):
    error = fcm_push.classify(firebase_error(kind, retry_after="42"))

    assert isinstance(error, TransientDeliveryError)
    assert error.retry_after_seconds == 42


def test_an_fcm_timeout_is_transient():
    timeout = exceptions.DeadlineExceededError("Timed out while making an API call", cause=None)

    assert type(fcm_push.classify(timeout)) is TransientDeliveryError


def test_retry_after_reads_seconds_and_http_dates():
    now = datetime(2026, 11, 21, 10, 0, 0, tzinfo=UTC)

    assert retry_after_seconds("120") == 120
    assert retry_after_seconds("Sat, 21 Nov 2026 10:01:30 GMT", now=now) == 90
    assert retry_after_seconds("Sat, 21 Nov 2026 09:00:00 GMT", now=now) == 0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None
