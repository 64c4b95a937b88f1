"""The local stack's API Gateway: routes, keys and the proxy event it builds."""

from __future__ import annotations

import base64
import json

import pytest
from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventModel

from devstack.api import ApiGateway
from devstack.lambda_runtime import InvocationError
from devstack.provision import ApiRoute
from devstack.stack import LocalStack
from devstack.template import Stack, TemplateError, load_template


class RecordingFunction:
    def __init__(self, answer=None, fail=False):
        self.events = []
        self.answer = answer or {
            "statusCode": 202,
            "headers": {"Content-Type": "application/json"},
            "body": "{}",
        }
        self.fail = fail

    def invoke(self, event):
        self.events.append(event)
        if self.fail:
            raise InvocationError("boom")
        return self.answer


def gateway(function, key="k"):
    routes = [ApiRoute("Fn", "POST", "/event"), ApiRoute("Fn", "GET", "/event/{event_id}")]
    return ApiGateway(
        routes, {"Fn": function}, stage="prod", api_key=key, region="us-east-1", account_id="1", outbox=list
    )


def test_a_request_becomes_a_rest_proxy_event():
    function = RecordingFunction()

    answer = gateway(function).handle(
        "GET",
        "/event/abc?x=1&x=2&y=",
        [("x-api-key", "k"), ("Accept", "a"), ("Accept", "b"), ("User-Agent", "t")],
        b"",
        "127.0.0.1",
    )

    assert answer.status == 202
    [event] = function.events
    parsed = APIGatewayProxyEventModel.model_validate(event)
    assert parsed.resource == "/event/{event_id}"
    assert parsed.pathParameters == {"event_id": "abc"}
    assert event["multiValueHeaders"]["Accept"] == ["a", "b"]
    assert event["headers"]["Accept"] == "b"
    assert event["queryStringParameters"] == {"x": "2", "y": ""}
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"], "y": [""]}
    context = event["requestContext"]
    assert (context["stage"], context["identity"]["sourceIp"], context["identity"]["apiKey"]) == (
        "prod",
        "127.0.0.1",
        "k",
    )
    assert context["requestId"]
    assert event["body"] is None
    assert event["isBase64Encoded"] is False


def test_a_binary_body_is_base64_encoded():
    function = RecordingFunction()

    gateway(function).handle("POST", "/event", [("x-api-key", "k")], b"\xff\xfe", "127.0.0.1")

    assert function.events[0]["isBase64Encoded"] is True
    assert base64.b64decode(function.events[0]["body"]) == b"\xff\xfe"


def test_keys_and_routes_are_checked_before_the_function_is_called():
    function = RecordingFunction()
    api = gateway(function)

    assert api.handle("POST", "/event", [], b"{}", "127.0.0.1").status == 403
    assert api.handle("POST", "/event", [("x-api-key", "nope")], b"{}", "127.0.0.1").status == 403
    missing = api.handle("PUT", "/event", [("x-api-key", "k")], b"{}", "127.0.0.1")
    assert (missing.status, json.loads(missing.body)) == (403, {"message": "Missing Authentication Token"})
    assert function.events == []


def test_no_key_is_needed_when_the_template_requires_none():
    assert (
        gateway(RecordingFunction(), key=None).handle("POST", "/event", [], b"{}", "127.0.0.1").status == 202
    )


def test_a_failing_function_is_a_502():
    answer = gateway(RecordingFunction(fail=True)).handle(
        "POST", "/event", [("x-api-key", "k")], b"{}", "::1"
    )

    assert (answer.status, json.loads(answer.body)) == (502, {"message": "Internal server error"})


@pytest.mark.parametrize("mode", ["AWS_IAM", "COGNITO"])
def test_the_local_stack_refuses_an_authorization_it_cannot_check_rather_than_serve_an_open_api(mode):
    overrides = {"ApiAuthorization": mode}
    if mode == "COGNITO":
        overrides["CognitoUserPoolArn"] = "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_Ex"
    stack = Stack(load_template(), overrides=overrides)

    with pytest.raises(TemplateError, match="emulates API_KEY authorization only"):
        LocalStack._api_key_required(stack)
    assert LocalStack._api_key_required(Stack(load_template())) is True
