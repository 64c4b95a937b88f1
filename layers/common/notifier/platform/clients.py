"""AWS clients, built once per execution environment on first use.

They are botocore's clients, built from one botocore session: what `boto3.client(...)` returns,
without importing boto3 and s3transfer, which no function loads (publish's cold start: 6 ms shorter;
each consumer's 12 to 24 ms, see notifier.platform.credentials). botocore reads
AWS_ENDPOINT_URL (and AWS_ENDPOINT_URL_<SERVICE>) itself, so the same code talks to AWS, LocalStack
or the local stack's emulator. The services used here are the ones whose data `make build` keeps in
the layer's botocore (build/slim_build.py; tests/unit/test_slim_build.py holds the two together).
Tests call `reset_clients()` to start from nothing.
"""

from __future__ import annotations

import os
import re
from functools import cache
from typing import TYPE_CHECKING, Any, cast

import botocore.session
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_apigateway import APIGatewayClient
    from mypy_boto3_apigatewaymanagementapi import ApiGatewayManagementApiClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_ssm import SSMClient

# Fail fast and let the caller (API client or SQS redelivery) retry, instead of sitting in
# botocore's retry loop for the whole Lambda timeout.
_CONFIG = Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 3})


@cache
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


@cache
def sns_client() -> SNSClient:
    return cast("SNSClient", _session().create_client("sns", config=_CONFIG))


@cache
def dynamodb_client() -> DynamoDBClient:
    return cast("DynamoDBClient", _session().create_client("dynamodb", config=_CONFIG))


@cache
def sqs_client() -> SQSClient:
    return cast("SQSClient", _session().create_client("sqs", config=_CONFIG))


@cache
def secrets_client() -> SecretsManagerClient:
    return cast("SecretsManagerClient", _session().create_client("secretsmanager", config=_CONFIG))


@cache
def ssm_client() -> SSMClient:
    return cast("SSMClient", _session().create_client("ssm", config=_CONFIG))


@cache
def apigateway_client() -> APIGatewayClient:
    return cast("APIGatewayClient", _session().create_client("apigateway", config=_CONFIG))


@cache
def scheduler_client() -> Any:
    """EventBridge Scheduler (no type stubs installed for it)."""
    return _session().create_client("scheduler", config=_CONFIG)


_EXECUTE_API = re.compile(
    r"^https://(?P<api>[a-z0-9]+)\.execute-api\.[^/?#]+(?P<path>/[^?#]*)?(?P<query>\?.*)?$"
)


def execute_api_address(url: str) -> str:
    """Where a request for `url`, an API of the stack's own, is sent: `url` itself, except in a function
    an emulator runs. MiniStack and LocalStack set AWS_ENDPOINT_URL in their functions (AWS never
    does) and serve every API at `{AWS_ENDPOINT_URL}/_aws/execute-api/{api}/{stage}/...`, while the
    API's host name (`{api}.execute-api.{region}.amazonaws.com`, or the emulator's own
    `{api}.execute-api.localhost` in a WebSocket request) leads to AWS or nowhere. Only the address
    changes: what is signed for the URL (a Twilio receipt's signature) stays the URL's."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "").rstrip("/")
    match = _EXECUTE_API.match(url)
    if not endpoint or match is None:
        return url
    return f"{endpoint}/_aws/execute-api/{match['api']}{match['path'] or ''}{match['query'] or ''}"


CONNECTIONS_POOL = 32
"""Posts to WebSocket connections in flight at once (`notifier.inbox.live`)."""


@cache
def connections_client(endpoint_url: str) -> ApiGatewayManagementApiClient:
    """The @connections API of one WebSocket API stage (at `execute_api_address` in an emulator). A 410
    Gone is an answer, not a failure: botocore does not retry it; a 429 (the client's buffer is full)
    it retries as throttling."""
    config = _CONFIG.merge(Config(max_pool_connections=CONNECTIONS_POOL, read_timeout=2))
    return cast(
        "ApiGatewayManagementApiClient",
        _session().create_client(
            "apigatewaymanagementapi", endpoint_url=execute_api_address(endpoint_url), config=config
        ),
    )


def reset_clients() -> None:
    for factory in (
        _session,
        sns_client,
        dynamodb_client,
        sqs_client,
        secrets_client,
        ssm_client,
        apigateway_client,
        connections_client,
        scheduler_client,
    ):
        factory.cache_clear()
