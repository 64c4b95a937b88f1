"""AWS clients, built once per execution environment on first use.

boto3 reads AWS_ENDPOINT_URL (and AWS_ENDPOINT_URL_<SERVICE>) itself, so the same code talks to AWS,
LocalStack or the local stack's emulator. Tests call `reset_clients()` to start from nothing.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_ssm import SSMClient

# Fail fast and let the caller (API client or SQS redelivery) retry, instead of sitting in
# botocore's retry loop for the whole Lambda timeout.
_CONFIG = Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 3})


@cache
def sns_client() -> SNSClient:
    return boto3.client("sns", config=_CONFIG)


@cache
def dynamodb_client() -> DynamoDBClient:
    return boto3.client("dynamodb", config=_CONFIG)


@cache
def sqs_client() -> SQSClient:
    return boto3.client("sqs", config=_CONFIG)


@cache
def secrets_client() -> SecretsManagerClient:
    return boto3.client("secretsmanager", config=_CONFIG)


@cache
def ssm_client() -> SSMClient:
    return boto3.client("ssm", config=_CONFIG)


def reset_clients() -> None:
    for factory in (sns_client, dynamodb_client, sqs_client, secrets_client, ssm_client):
        factory.cache_clear()
