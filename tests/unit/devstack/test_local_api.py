"""The local stack's API Gateway: routes, keys, the proxy event it builds and its gateway responses.

Over HTTP (methods, request lines, body framing): tests/functional/test_local_gateway.py."""

from __future__ import annotations

import base64
import json

import pytest
from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventModel

from devstack.api import ApiGateway
from devstack.lambda_runtime import InvocationError
from devstack.provision import ApiRoute, gateway_responses, provision
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


SETTINGS = {
    "stage": "prod",
    "api_key": "k",
    "region": "us-east-1",
    "account_id": "1",
    "outbox": lambda start: [],
}


def gateway(function, key="k"):
    routes = [ApiRoute("Fn", "POST", "/event"), ApiRoute("Fn", "GET", "/event/{event_id}")]
    return ApiGateway(routes, {"Fn": function}, **{**SETTINGS, "api_key": key})


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
    assert (missing.status, json.loads(missing.body)) == (
        403,
        {
            "error": "missing_authentication_token",
            "message": "Missing Authentication Token",
            "fields": [],
            "retryable": False,
        },
    )
    assert function.events == []


def test_the_outbox_is_served_from_the_entry_asked_for():
    entries = [{"notification_id": f"n-{i}"} for i in range(3)]
    api = ApiGateway([], {}, **{**SETTINGS, "outbox": lambda start: entries[start:]})

    def get(target: str) -> tuple[int, object]:
        answer = api.handle("GET", target, [], b"", "127.0.0.1")
        return answer.status, json.loads(answer.body)

    assert get("/_local/outbox") == (200, entries)
    assert get("/_local/outbox?start=2") == (200, entries[2:])
    assert get("/_local/outbox?start=9") == (200, [])
    for bad in ("-1", "two", ""):
        status, body = get(f"/_local/outbox?start={bad}")
        assert status == 400
        assert "start" in str(body)


def test_no_key_is_needed_when_the_template_requires_none():
    assert (
        gateway(RecordingFunction(), key=None).handle("POST", "/event", [], b"{}", "127.0.0.1").status == 202
    )


def test_a_failing_function_is_a_502():
    answer = gateway(RecordingFunction(fail=True)).handle(
        "POST", "/event", [("x-api-key", "k")], b"{}", "::1"
    )

    assert answer.status == 502
    assert json.loads(answer.body) == {
        "error": "internal_error",
        "message": "Internal server error",
        "fields": [],
        "retryable": False,
    }
    assert ("x-amzn-ErrorType", "InternalServerErrorException") in answer.headers


def test_an_answer_that_is_not_a_proxy_response_is_a_502():
    answer = gateway(RecordingFunction(answer={"body": "no statusCode"})).handle(
        "POST", "/event", [("x-api-key", "k")], b"{}", "::1"
    )

    assert (answer.status, json.loads(answer.body)["message"]) == (502, "Internal server error")


@pytest.mark.parametrize("mode", ["AWS_IAM", "COGNITO"])
def test_the_local_stack_refuses_an_authorization_it_cannot_check_rather_than_serve_an_open_api(mode):
    overrides = {"ApiAuthorization": mode}
    if mode == "COGNITO":
        overrides["CognitoUserPoolArn"] = "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_Ex"
    stack = Stack(load_template(), overrides=overrides)

    with pytest.raises(TemplateError, match="emulates API_KEY authorization only"):
        LocalStack._api_key_required(stack)
    assert LocalStack._api_key_required(Stack(load_template())) is True


@pytest.mark.parametrize(
    ("path", "recipient_id"),
    [
        ("/recipients/ana%40example.com", "ana@example.com"),
        ("/recipients/team%2Fops", "team/ops"),  # an encoded / stays inside its segment
        ("/recipients/caf%C3%A9%20bar+1", "café bar+1"),
    ],
)
def test_path_parameters_are_url_decoded_and_the_path_is_left_as_sent(path, recipient_id):
    function = RecordingFunction()
    api = ApiGateway([ApiRoute("Fn", "GET", "/recipients/{recipientId}")], {"Fn": function}, **SETTINGS)

    answer = api.handle("GET", f"{path}?q=a%40b", [("x-api-key", "k")], b"", "127.0.0.1")

    assert answer.status == 202
    [event] = function.events
    assert event["pathParameters"] == {"recipientId": recipient_id}
    assert (event["path"], event["resource"]) == (path, "/recipients/{recipientId}")
    assert event["requestContext"]["path"] == f"/prod{path}"
    assert event["queryStringParameters"] == {"q": "a@b"}


def test_literal_segments_win_over_parameters_and_parameters_over_a_greedy_path():
    function = RecordingFunction()
    routes = [
        ApiRoute("Fn", "ANY", "/{proxy+}"),
        ApiRoute("Fn", "GET", "/recipients/{recipientId}"),
        ApiRoute("Fn", "GET", "/recipients/me"),
    ]
    api = ApiGateway(routes, {"Fn": function}, **SETTINGS)

    for path in ["/recipients/me", "/recipients/ana", "/recipients/a/b%2Fc"]:
        api.handle("GET", path, [("x-api-key", "k")], b"", "127.0.0.1")

    assert [(e["resource"], e["pathParameters"]) for e in function.events] == [
        ("/recipients/me", None),
        ("/recipients/{recipientId}", {"recipientId": "ana"}),
        ("/{proxy+}", {"proxy": "recipients/a/b/c"}),
    ]
    # ANY stands for API Gateway's seven methods, not for any word at all.
    assert api.handle("FOO", "/anything", [("x-api-key", "k")], b"", "127.0.0.1").status == 403


@pytest.mark.parametrize("method", ["post", "Post", "TRACE", "CONNECT", "FOO"])
def test_a_method_the_template_does_not_declare_is_the_missing_token_answer(method):
    function = RecordingFunction()

    answer = gateway(function).handle(method, "/event", [("x-api-key", "k")], b"{}", "127.0.0.1")

    assert (answer.status, json.loads(answer.body)["error"]) == (403, "missing_authentication_token")
    assert ("x-amzn-ErrorType", "MissingAuthenticationTokenException") in answer.headers
    assert function.events == []


# ---------------------------------------------------------------------------------------------------
# Gateway responses: the template's x-amazon-apigateway-gateway-responses shape the gateway's answers.
# ---------------------------------------------------------------------------------------------------


def _shaped(error, retryable="false"):
    return (
        f'{{"error": "{error}", "message": $context.error.messageString, "fields": [], '
        f'"retryable": {retryable}}}'
    )


GATEWAY_RESPONSES = {
    "MISSING_AUTHENTICATION_TOKEN": {
        "statusCode": "404",
        "responseTemplates": {"application/json": _shaped("not_found")},
        "responseParameters": {
            "gatewayresponse.header.Access-Control-Allow-Origin": "'https://app.example.com'"
        },
    },
    "DEFAULT_4XX": {
        "responseTemplates": {"application/json": _shaped("client_error")},
        "responseParameters": {"gatewayresponse.header.X-Family": "'4xx'"},
    },
    "DEFAULT_5XX": {"responseTemplates": {"application/json": _shaped("server_error", "true")}},
}


def test_a_status_code_on_default_4xx_applies_to_every_4xx_it_stands_in_for():
    api = ApiGateway(
        [ApiRoute("Fn", "POST", "/event")],
        {"Fn": RecordingFunction()},
        **SETTINGS,
        gateway_responses={"DEFAULT_4XX": {"statusCode": "400"}, "INVALID_API_KEY": {}},
    )

    unknown = api.handle("GET", "/nowhere", [], b"", "127.0.0.1")
    no_key = api.handle("POST", "/event", [], b"", "127.0.0.1")

    assert (unknown.status, json.loads(unknown.body)["message"]) == (400, "Missing Authentication Token")
    # A type declared without a statusCode keeps API Gateway's own; no template: the error shape.
    assert (no_key.status, json.loads(no_key.body)["error"]) == (403, "invalid_api_key")


@pytest.mark.parametrize(
    "declared",
    [{"DEFAULT_4XX": {"statusCode": "4xx"}}, {"DEFAULT_5XX": "not a map"}],
)
def test_a_gateway_response_the_local_stack_cannot_serve_stops_it_at_start(declared):
    with pytest.raises(TemplateError, match="gateway response"):
        ApiGateway([], {}, **SETTINGS, gateway_responses=declared)


# ---------------------------------------------------------------------------------------------------
# Per-route authorization, from the DefinitionBody.
# ---------------------------------------------------------------------------------------------------


def _api_event(path, method):
    return {"Type": "Api", "Properties": {"RestApiId": {"Ref": "Api"}, "Path": path, "Method": method}}


def docs_template(api_docs):
    """The shape of template.yaml's API: documents without a key (`security: []`), one of them
    present only when a Condition holds, and gateway responses that refer to a Parameter."""
    return {
        "Parameters": {"ApiDocs": {"Type": "String", "Default": api_docs}},
        "Conditions": {"ApiDocsOn": {"Fn::Equals": [{"Ref": "ApiDocs"}, "Enabled"]}},
        "Resources": {
            "Api": {
                "Type": "AWS::Serverless::Api",
                "Properties": {
                    "StageName": "prod",
                    "DefinitionBody": {
                        "openapi": "3.0.1",
                        "paths": {
                            "/event": {"post": {"security": [{"api_key": []}]}},
                            "/docs": {"get": {"security": []}},
                            "/openapi.json": {
                                "Fn::If": ["ApiDocsOn", {"get": {"security": []}}, {"Ref": "AWS::NoValue"}]
                            },
                        },
                        "x-amazon-apigateway-gateway-responses": {
                            "INVALID_API_KEY": {
                                "statusCode": "401",
                                "responseParameters": {
                                    "gatewayresponse.header.X-Docs": {"Fn::Sub": "'${ApiDocs}'"}
                                },
                            },
                            "THROTTLED": {
                                "Fn::If": ["ApiDocsOn", {"statusCode": "429"}, {"Ref": "AWS::NoValue"}]
                            },
                        },
                    },
                },
            },
            "Fn": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "CodeUri": "functions/publish/",
                    "Handler": "app.lambda_handler",
                    "Events": {
                        "PublishEvent": _api_event("/event", "post"),
                        "GetEventStatus": _api_event("/event/{event_id}", "get"),
                        "GetApiDocs": _api_event("/docs", "get"),
                        "GetOpenApiDocument": _api_event("/openapi.json", "get"),
                    },
                },
            },
        },
    }


def docs_routes(api_docs):
    stack = Stack(docs_template(api_docs))
    deployment = provision(stack, client=lambda service: pytest.fail(f"no {service} resource to create"))
    return deployment.functions["Fn"].api_routes, gateway_responses(stack, "Api")


def test_routes_take_their_key_requirement_from_the_definition_body_and_conditions_remove_routes():
    routes, responses = docs_routes("Disabled")
    routes_on, responses_on = docs_routes("Enabled")

    assert {(r.method, r.path, r.api_key_required) for r in routes} == {
        ("POST", "/event", True),
        ("GET", "/event/{event_id}", True),  # not in the DefinitionBody: the key, as every other route
        ("GET", "/docs", False),
    }
    assert ("GET", "/openapi.json", False) in {(r.method, r.path, r.api_key_required) for r in routes_on}
    assert responses == {
        "INVALID_API_KEY": {
            "statusCode": "401",
            "responseParameters": {"gatewayresponse.header.X-Docs": "'Disabled'"},
        }
    }
    assert set(responses_on) == {"INVALID_API_KEY", "THROTTLED"}
