"""ops.stack: a deployed stack's Outputs, and its API URLs where a client reaches them."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from ops.stack import DeployedStack, StackNotFoundError, main

API = "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/prod"
SOCKET = "wss://f6g7h8i9j0.execute-api.eu-west-1.amazonaws.com/prod"


def _stack(endpoint: str | None) -> DeployedStack:
    outputs = {"ApiUrl": API, "WebSocketUrl": SOCKET, "SendGridWebhookUrl": f"{API}/webhooks/sendgrid"}
    return DeployedStack("notifier", "eu-west-1", endpoint, "CREATE_COMPLETE", outputs, boto3.Session())


def test_in_aws_the_outputs_urls_are_the_ones_to_call():
    stack = _stack(None)
    assert (stack.api_url, stack.websocket_url) == (API, SOCKET)


def test_in_an_emulator_every_api_is_at_its_execute_api_path():
    stack = _stack("http://127.0.0.1:4567/")
    assert stack.api_url == "http://127.0.0.1:4567/_aws/execute-api/a1b2c3d4e5/prod"
    assert stack.websocket_url == "ws://127.0.0.1:4567/_aws/execute-api/f6g7h8i9j0/prod"
    assert (
        stack.url("SendGridWebhookUrl")
        == "http://127.0.0.1:4567/_aws/execute-api/a1b2c3d4e5/prod/webhooks/sendgrid"
    )
    # A custom domain (PublicApiUrl) is reached as it is.
    assert (
        stack.reachable("https://notify.example.com/webhooks/twilio")
        == "https://notify.example.com/webhooks/twilio"
    )


def _create(name: str) -> None:
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"ApiUrl": {"Value": API}, "WebSocketUrl": {"Value": SOCKET}},
    }
    boto3.client("cloudformation", region_name="eu-west-1").create_stack(
        StackName=name, TemplateBody=json.dumps(template)
    )


@mock_aws
def test_a_stack_is_found_by_name_with_its_outputs(capsys):
    _create("notifier-x")
    stack = DeployedStack.find("notifier-x", region="eu-west-1")
    assert stack.status == "CREATE_COMPLETE"
    assert stack.outputs == {"ApiUrl": API, "WebSocketUrl": SOCKET}
    assert stack.api_key() is None  # no ApiKeyId Output: the stack takes no key

    assert main(["--stack", "notifier-x", "--region", "eu-west-1"]) == 0
    printed = capsys.readouterr().out
    assert f"API:       {API}" in printed
    assert "(none: ApiAuthorization is not API_KEY)" in printed


@mock_aws
def test_a_missing_stack_is_said_in_one_line_and_exits_1(capsys):
    with pytest.raises(StackNotFoundError, match="no stack nowhere in eu-west-1 at AWS"):
        DeployedStack.find("nowhere", region="eu-west-1")
    assert main(["--stack", "nowhere", "--region", "eu-west-1"]) == 1
    assert capsys.readouterr().err.startswith("ops.stack: no stack nowhere in eu-west-1 at AWS")
