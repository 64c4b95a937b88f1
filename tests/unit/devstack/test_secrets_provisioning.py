"""The local stack's secrets: created in the emulator (moto, in-process) from the template's
AWS::SecretsManager::Secret, generated as CloudFormation generates them, and referred to by ARN."""

from __future__ import annotations

import json
import string
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from devstack.provision import LOCAL_API_ID, provision
from devstack.template import Stack, TemplateError, load_template


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def secret_stack(properties: dict[str, Any], *, with_key: bool = False) -> Stack:
    resources: dict[str, Any] = {"Secret": {"Type": "AWS::SecretsManager::Secret", "Properties": properties}}
    if with_key:
        resources["DataKey"] = {"Type": "AWS::KMS::Key", "Properties": {"Description": "data"}}
    return Stack({"Parameters": {}, "Resources": resources}, name="unit")


def value_of(stack: Stack, logical_id: str = "Secret") -> str:
    secret = boto3.client("secretsmanager").get_secret_value(SecretId=stack.refs[logical_id])
    return str(secret["SecretString"])


def test_a_generated_secret_honours_its_length_and_excluded_punctuation(aws):
    stack = secret_stack({"GenerateSecretString": {"PasswordLength": 64, "ExcludePunctuation": True}})

    provision(stack)

    value = value_of(stack)
    assert len(value) == 64
    assert set(value) <= set(string.ascii_letters + string.digits)


def test_two_generated_secrets_differ(aws):
    first = secret_stack({"GenerateSecretString": {"PasswordLength": 32}})
    second = Stack({"Parameters": {}, "Resources": {"Secret": first.resources["Secret"]}}, name="other")

    provision(first)
    provision(second)

    assert value_of(first) != value_of(second)


def test_ref_gives_the_secrets_arn_and_its_name_is_the_stacks(aws):
    stack = secret_stack({"SecretString": "s3cr3t"})

    provision(stack)

    described = boto3.client("secretsmanager").describe_secret(SecretId="unit-Secret")
    assert stack.refs["Secret"] == described["ARN"]
    assert stack.resolve({"Fn::GetAtt": ["Secret", "Id"]}) == described["ARN"]
    assert value_of(stack) == "s3cr3t"


def test_a_secret_can_be_encrypted_with_the_stacks_own_key(aws):
    stack = secret_stack({"SecretString": "s3cr3t", "KmsKeyId": {"Ref": "DataKey"}}, with_key=True)

    provision(stack)

    described = boto3.client("secretsmanager").describe_secret(SecretId=stack.refs["Secret"])
    assert described["KmsKeyId"] == stack.refs["DataKey"]


def test_a_template_puts_the_generated_value_under_its_key(aws):
    stack = secret_stack(
        {
            "GenerateSecretString": {
                "SecretStringTemplate": '{"username": "app"}',
                "GenerateStringKey": "password",
                "PasswordLength": 20,
            }
        }
    )

    provision(stack)

    document = json.loads(value_of(stack))
    assert document["username"] == "app"
    assert len(document["password"]) == 20


def test_a_secret_already_in_the_emulator_keeps_its_value(aws):
    stack = secret_stack({"GenerateSecretString": {"PasswordLength": 64}})
    provision(stack)
    before = value_of(stack)

    again = secret_stack({"GenerateSecretString": {"PasswordLength": 64}})
    provision(again)

    assert again.refs["Secret"] == stack.refs["Secret"]
    assert value_of(again) == before


@pytest.mark.parametrize(
    "properties",
    [
        {},
        {"SecretString": "x", "GenerateSecretString": {}},
        {"GenerateSecretString": {"GenerateStringKey": "password"}},
    ],
)
def test_a_secret_without_one_clear_value_is_refused_naming_it(aws, properties):
    with pytest.raises(TemplateError, match="Secret"):
        provision(secret_stack(properties))


# ------------------------------------------------------------------------------------ template.yaml


def test_the_templates_sandbox_secret_is_what_the_consumers_and_the_webhooks_read(aws):
    stack = Stack(load_template(), overrides={"PublicApiUrl": "http://127.0.0.1:3000"})

    deployment = provision(stack)

    arn = stack.refs["SandboxReceiptsSecret"]
    value = value_of(stack, "SandboxReceiptsSecret")
    assert len(value) == 64
    assert value.isalnum()
    readers = {"EmailFunction", "SmsFunction", "WebhooksFunction"}
    assert {deployment.functions[f].environment["SANDBOX_RECEIPTS_SECRET"] for f in readers} == {arn}
    urls = {deployment.functions[f].environment["PUBLIC_API_URL"] for f in readers}
    assert urls == {"http://127.0.0.1:3000"}


def test_without_a_public_url_the_consumers_get_the_apis_execute_api_url(aws):
    stack = Stack(load_template())

    deployment = provision(stack)

    assert stack.refs["NotificationApi"] == LOCAL_API_ID
    assert deployment.functions["EmailFunction"].environment["PUBLIC_API_URL"] == (
        f"https://{LOCAL_API_ID}.execute-api.us-east-1.amazonaws.com/prod"
    )
