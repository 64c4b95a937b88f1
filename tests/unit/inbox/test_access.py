"""Who may read an inbox: a token for that recipient, or an enabled key of the API's usage plan (read
from API Gateway, in moto, as the deployed function reads it), and nobody else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from notifier.errors import ConfigurationError, ForbiddenError, UnauthorizedError
from notifier.inbox.access import InboxAccess, UsagePlanKeys
from notifier.inbox.tokens import InboxTokens, InvalidTokenError

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
TOKENS = InboxTokens({"k": b"s" * 40}, "k", issuer="notifier", lifetime=timedelta(hours=1), clock=lambda: NOW)


@pytest.fixture
def apigateway():
    with mock_aws():
        client = boto3.client("apigateway", region_name="us-east-1")
        plan = client.create_usage_plan(name="notifier-usage-plan")["id"]
        other = client.create_usage_plan(name="another-stack-usage-plan")["id"]
        for name, value, enabled, usage_plan in (
            ("backend", "backend-key-0123456789", True, plan),
            ("retired", "retired-key-0123456789", False, plan),
            ("elsewhere", "elsewhere-key-0123456789", True, other),
        ):
            key = client.create_api_key(name=name, value=value, enabled=enabled)["id"]
            client.create_usage_plan_key(usagePlanId=usage_plan, keyId=key, keyType="API_KEY")
        yield client


class Calls:
    def __init__(self, client):
        self.client = client
        self.count = 0

    def __call__(self):
        self.count += 1
        return self.client


def access(keys: UsagePlanKeys | None) -> InboxAccess:
    return InboxAccess(lambda: TOKENS, keys)


def test_an_enabled_key_of_the_stacks_usage_plan_reaches_any_inbox(apigateway):
    keys = UsagePlanKeys("notifier-usage-plan", lambda: apigateway)

    access(keys).check("ana", None, "backend-key-0123456789")
    access(keys).check("ben", None, "backend-key-0123456789")


@pytest.mark.parametrize(
    "key", ["retired-key-0123456789", "elsewhere-key-0123456789", "backend-key-012345678", "x"]
)
def test_a_disabled_key_another_plans_key_or_no_key_is_refused_naming_the_header(apigateway, key):
    keys = UsagePlanKeys("notifier-usage-plan", lambda: apigateway)

    with pytest.raises(UnauthorizedError) as refused:
        access(keys).check("ana", None, key)

    assert list(refused.value.problems) == ["x-api-key"]


def test_the_plans_keys_are_read_once_a_minute_so_wrong_keys_cost_no_calls(apigateway):
    clock = [0.0]
    calls = Calls(apigateway)
    keys = UsagePlanKeys("notifier-usage-plan", calls, max_age=60, clock=lambda: clock[0])

    for attempt in range(50):
        assert keys.holds(f"guess-{attempt}") is False
    assert keys.holds("backend-key-0123456789")
    assert calls.count == 1

    key_id = apigateway.get_api_keys(nameQuery="backend")["items"][0]["id"]
    apigateway.update_api_key(
        apiKey=key_id, patchOperations=[{"op": "replace", "path": "/enabled", "value": "false"}]
    )
    clock[0] = 59.0
    assert keys.holds("backend-key-0123456789")  # within the minute: still the keys read before
    clock[0] = 60.0
    assert not keys.holds("backend-key-0123456789")  # disabled: refused once read again
    assert calls.count == 2


def test_a_usage_plan_that_does_not_exist_is_a_configuration_error(apigateway):
    with pytest.raises(ConfigurationError, match="no-such-plan"):
        UsagePlanKeys("no-such-plan", lambda: apigateway).holds("backend-key-0123456789")


def test_a_token_reaches_its_own_recipients_inbox_and_no_other():
    token = TOKENS.issue("ana").token

    access(None).check("ana", f"Bearer {token}", None)
    access(None).check("ana", f"bearer   {token}", None)
    with pytest.raises(ForbiddenError):
        access(None).check("ben", f"Bearer {token}", None)


def test_a_token_is_checked_even_beside_a_valid_api_key(apigateway):
    keys = UsagePlanKeys("notifier-usage-plan", lambda: apigateway)
    forged = TOKENS.issue("ana").token[:-2] + "AA"

    with pytest.raises(InvalidTokenError):
        access(keys).check("ana", f"Bearer {forged}", "backend-key-0123456789")
    with pytest.raises(ForbiddenError):
        access(keys).check("ben", f"Bearer {TOKENS.issue('ana').token}", "backend-key-0123456789")


@pytest.mark.parametrize("authorization", ["Basic YW5hOnB3", "Token abc", "Bearer"])
def test_an_authorization_that_is_not_a_bearer_token_is_refused(authorization):
    with pytest.raises(UnauthorizedError) as refused:
        access(None).check("ana", authorization, None)

    assert list(refused.value.problems) == ["Authorization"]


def test_without_a_usage_plan_an_api_key_does_not_open_an_inbox():
    """The AWS_IAM and COGNITO modes: no plan, so the inbox takes tokens only."""
    with pytest.raises(UnauthorizedError) as refused:
        access(None).check("ana", None, "backend-key-0123456789")

    assert list(refused.value.problems) == ["Authorization"]


def test_nothing_at_all_is_refused_naming_authorization(apigateway):
    keys = UsagePlanKeys("notifier-usage-plan", lambda: apigateway)

    with pytest.raises(UnauthorizedError) as refused:
        access(keys).check("ana", None, None)

    assert list(refused.value.problems) == ["Authorization"]
