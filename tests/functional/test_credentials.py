"""Reading vendor credentials (notifier.platform.credentials) from Secrets Manager and SSM, moto for AWS: the
cache's lifetime, rotation, and a clear error for each way a stored document can be unusable."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from notifier.errors import ConfigurationError
from notifier.platform.clients import reset_clients
from notifier.platform.credentials import CredentialSource

DOCUMENT = {"api_key": "SG.first"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def aws() -> Iterator[None]:
    reset_clients()
    with mock_aws():
        yield
    reset_clients()


def put_secret(name: str, **value: str | bytes) -> None:
    """Stores `value` (SecretString= or SecretBinary=) as the secret's current version."""
    client = boto3.client("secretsmanager")
    try:
        client.put_secret_value(SecretId=name, **value)  # type: ignore[arg-type]
    except client.exceptions.ResourceNotFoundException:
        client.create_secret(Name=name, **value)  # type: ignore[arg-type]


def test_a_document_is_read_once_within_its_max_age_and_again_after_it():
    put_secret("vendor", SecretString=json.dumps(DOCUMENT))
    clock = Clock()
    source = CredentialSource("secretsmanager", 300, clock=clock)

    assert source.get("vendor") == DOCUMENT
    put_secret("vendor", SecretString=json.dumps({"api_key": "SG.rotated"}))
    clock.now += 299.9
    assert source.get("vendor") == DOCUMENT  # cached: no read within the max age

    clock.now += 0.1
    assert source.get("vendor") == {"api_key": "SG.rotated"}  # 300 s after the first read


def test_a_max_age_of_zero_reads_every_time():
    put_secret("vendor", SecretString=json.dumps(DOCUMENT))
    source = CredentialSource("secretsmanager", 0, clock=Clock())
    assert source.get("vendor") == DOCUMENT
    put_secret("vendor", SecretString=json.dumps({"api_key": "SG.rotated"}))
    assert source.get("vendor") == {"api_key": "SG.rotated"}


def test_a_binary_secret_holding_json_is_read():
    put_secret("vendor", SecretBinary=json.dumps(DOCUMENT).encode())
    assert CredentialSource("secretsmanager", 300).get("vendor") == DOCUMENT


def test_an_ssm_secure_string_is_decrypted():
    boto3.client("ssm").put_parameter(Name="/vendor", Value=json.dumps(DOCUMENT), Type="SecureString")
    assert CredentialSource("ssm", 300).get("/vendor") == DOCUMENT


@pytest.mark.parametrize(
    ("store", "name"), [("secretsmanager", "missing"), ("ssm", "/missing")], ids=["secret", "parameter"]
)
def test_a_missing_document_is_a_configuration_error_naming_it(store, name):
    with pytest.raises(ConfigurationError, match=rf"cannot read credentials '{name}' from {store}: .*"):
        CredentialSource(store, 300).get(name)


@pytest.mark.parametrize(
    ("stored", "problem"),
    [
        ({"SecretString": "api_key=SG.x"}, "are not a JSON document"),
        ({"SecretBinary": b"\xff\xfe not text"}, "are not a JSON document"),
        ({"SecretString": '["SG.x"]'}, "are not a JSON object"),
    ],
    ids=["not-json", "not-utf8", "a-list"],
)
def test_an_unusable_document_is_a_configuration_error_without_its_content(stored, problem):
    put_secret("vendor", **stored)
    with pytest.raises(ConfigurationError, match=rf"credentials 'vendor' in secretsmanager {problem}$"):
        CredentialSource("secretsmanager", 300).get("vendor")


def test_a_failed_read_is_not_cached():
    source = CredentialSource("secretsmanager", 300, clock=Clock())
    with pytest.raises(ConfigurationError):
        source.get("vendor")
    put_secret("vendor", SecretString=json.dumps(DOCUMENT))
    assert source.get("vendor") == DOCUMENT
