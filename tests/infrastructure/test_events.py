"""Every sample in events/ is a valid event for a function of the template, and each is used."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote

import pytest
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayProxyEventModel,
    APIGatewayWebSocketConnectEventModel,
    APIGatewayWebSocketDisconnectEventModel,
    APIGatewayWebSocketMessageEventModel,
    SqsModel,
)
from aws_lambda_powertools.utilities.parser.models.apigw_websocket import (
    APIGatewayWebSocketConnectEventRequestContext,
)
from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends

from devstack.lambda_events import EVENTS_DIR, LambdaContext, load_event
from devstack.template import REPO_ROOT, Stack, load_template
from notifier import runtime
from tests.functional import conftest as functional

SAMPLES = sorted(p.name for p in EVENTS_DIR.glob("*.json"))
STACK = Stack(load_template())
API_ROUTES = {
    (e["Properties"]["Method"].upper(), e["Properties"]["Path"])
    for fn in STACK.resources_of_type("AWS::Serverless::Function").values()
    for e in fn["Properties"].get("Events", {}).values()
    if e["Type"] == "Api"
}
SOCKET_API = STACK.resources["InboxSocketApi"]["Properties"]
SOCKET_ROUTES = set(SOCKET_API["Routes"])
SOCKET_STAGE = STACK.parameters["StageName"]
WEBSOCKET_MODELS: dict[str, Any] = {
    "CONNECT": APIGatewayWebSocketConnectEventModel,
    "DISCONNECT": APIGatewayWebSocketDisconnectEventModel,
    "MESSAGE": APIGatewayWebSocketMessageEventModel,
}
# The functional tests' stack in moto and its fixtures, for the samples that no functional test drives
# yet: the in-app consumer's and the socket function's (below).
loopback_only = functional.loopback_only
deployment = functional.deployment
consumers = functional.consumers
recipients = functional.recipients
user_123 = functional.user_123

TOKEN_PLACEHOLDER = "REPLACE_WITH_AN_INBOX_TOKEN"
"""The `token` of the WebSocket samples: a placeholder, never a token (a token of a stack is one it
issued, for a time; `POST /recipients/{id}/inbox/token` issues one)."""


@pytest.mark.parametrize("name", [s for s in SAMPLES if s.startswith("api_")])
def test_each_api_sample_is_a_rest_proxy_event_for_a_template_route(name):
    event = APIGatewayProxyEventModel.model_validate_json((EVENTS_DIR / name).read_text())

    assert (event.httpMethod, event.resource) in API_ROUTES
    if event.resource.startswith("/webhooks/"):  # a vendor's: signed, never with our API key
        assert event.requestContext.identity.apiKey is None
        assert not {"x-api-key"} & {name.lower() for name in event.headers}
    else:
        assert event.requestContext.identity.apiKey


@pytest.mark.parametrize("name", [s for s in SAMPLES if s.startswith("sqs_")])
def test_each_sqs_sample_is_a_batch_from_a_queue_of_its_channel(name):
    channel = name.split("_")[1]
    batch = SqsModel.model_validate_json((EVENTS_DIR / name).read_text())

    queues = {record.eventSourceARN.rsplit(":", 1)[1] for record in batch.Records}
    assert all(q.startswith(f"notifier-{channel.capitalize()}") for q in queues)
    assert len(batch.Records) >= 2


def test_every_queue_a_function_reads_has_a_sample_batch():
    """The channels' queues and the due queue (scheduled sends): each has a sample of its records."""
    read = {
        e["Properties"]["Queue"]["Fn::GetAtt"][0]
        for fn in STACK.resources_of_type("AWS::Serverless::Function").values()
        for e in fn["Properties"].get("Events", {}).values()
        if e["Type"] == "SQS"
    }
    sampled = {
        record.eventSourceARN.rsplit(":", 1)[1].removeprefix(f"{STACK.name}-")
        for name in SAMPLES
        if name.startswith("sqs_")
        for record in SqsModel.model_validate_json((EVENTS_DIR / name).read_text()).Records
    }
    assert "DueQueue" in read
    assert read <= sampled


@pytest.mark.parametrize("name", [s for s in SAMPLES if s.startswith("websocket_")])
def test_each_websocket_sample_is_an_event_of_the_inbox_socket_api(name):
    """The REQUEST authorizer's event on $connect, or a Lambda proxy event of one of the API's routes,
    as API Gateway sends them to the socket function."""
    event = load_event(name)
    context = event["requestContext"]

    if event.get("type") == "REQUEST":  # the authorizer: its identity source, and what to allow
        APIGatewayWebSocketConnectEventRequestContext.model_validate(context)
        assert SOCKET_API["Auth"]["IdentitySource"] == ["route.request.querystring.token"]
        assert event["queryStringParameters"]["token"] == TOKEN_PLACEHOLDER
        assert event["multiValueQueryStringParameters"]["token"] == [TOKEN_PLACEHOLDER]
        assert event["methodArn"] == (
            f"arn:aws:execute-api:us-east-1:123456789012:{context['apiId']}/{context['stage']}/$connect"
        )
    else:
        WEBSOCKET_MODELS[context["eventType"]].model_validate(event)
    assert context["routeKey"] in SOCKET_ROUTES
    assert context["stage"] == SOCKET_STAGE
    assert context["domainName"] == f"{context['apiId']}.execute-api.us-east-1.amazonaws.com"
    if context["routeKey"] == "$connect" and "type" not in event:  # what the authorizer let in
        assert {"principalId", "recipient_id"} <= set(context["authorizer"])
        assert all(isinstance(value, str) for value in context["authorizer"].values())


def test_the_websocket_samples_are_one_connection():
    contexts = [load_event(s)["requestContext"] for s in SAMPLES if s.startswith("websocket_")]

    assert len({(c["apiId"], c["connectionId"], c["connectedAt"]) for c in contexts}) == 1


# ------------------------------------------------------------------ through their functions, in moto


def _socket(event: dict[str, Any]) -> dict[str, Any]:
    # Imported here: its import reads the deployed environment (and pauses the collector until its
    # first invocation, which follows at once).
    from functions.socket import app  # noqa: PLC0415

    answer: dict[str, Any] = app.lambda_handler(event, LambdaContext(function_name="socket"))
    return answer


def _posted(connection_id: str) -> list[dict[str, Any]]:
    """The frames the functions posted to a connection through the @connections API (moto's)."""
    backend = apigatewaymanagementapi_backends[STACK.account_id][STACK.region]
    data = "".join(c.data.decode() for key, c in backend.connections.items() if unquote(key) == connection_id)
    frames, decoder, at = [], json.JSONDecoder(), 0
    while at < len(data):  # moto keeps a connection's posts as one string: the frames back to back
        frame, at = decoder.raw_decode(data, at)
        frames.append(frame)
    return frames


def test_the_authorizer_sample_lets_in_whom_its_token_names_and_no_one_with_the_placeholder(deployment):
    event = load_event("websocket_authorizer.json")

    with pytest.raises(Exception, match=r"^Unauthorized$"):  # API Gateway: 401 at the handshake
        _socket(event)
    event["queryStringParameters"]["token"] = runtime.inbox_tokens().issue("user-123").token
    answer = _socket(event)

    assert answer["principalId"] == answer["context"]["recipient_id"] == "user-123"
    [statement] = answer["policyDocument"]["Statement"]
    assert statement == {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": event["methodArn"]}


def test_the_socket_samples_connect_answer_a_ping_and_disconnect(deployment):
    connection_id = load_event("websocket_connect.json")["requestContext"]["connectionId"]

    assert _socket(load_event("websocket_connect.json")) == {"statusCode": 200}
    assert runtime.connection_store().recipient_of(connection_id) == "user-123"
    assert _socket(load_event("websocket_default_ping.json")) == {"statusCode": 200}
    assert _posted(connection_id) == [{"type": "pong"}]
    assert _socket(load_event("websocket_disconnect.json")) == {"statusCode": 200}
    assert runtime.connection_store().recipient_of(connection_id) is None


@pytest.mark.parametrize("name", ["sqs_inapp_critical.json", "sqs_inapp_standard.json"])
def test_the_inapp_samples_land_in_the_inbox_and_reach_the_open_connection(
    name, deployment, consumers, user_123
):
    connection_id = load_event("websocket_connect.json")["requestContext"]["connectionId"]
    _socket(load_event("websocket_connect.json"))
    batch = load_event(name)
    sent = {json.loads(record["body"])["notification_id"] for record in batch["Records"]}

    assert consumers["inapp"](batch) == {"batchItemFailures": []}

    items = runtime.inbox_store().page("user-123").items
    assert {item.notification_id for item in items} == sent
    told = [frame["item"]["id"] for frame in _posted(connection_id) if frame["type"] == "notification"]
    assert sorted(told) == sorted(sent)
    for notification_id in sent:
        status = runtime.status_store().get(notification_id)
        assert status is not None
        assert status.channels["inapp"].status == "DELIVERED"


# ------------------------------------------------------------------ every sample


def test_every_sample_is_used_by_a_behaviour_test():
    # This file names samples only in its behaviour tests above (its validity tests take every sample
    # by its prefix), so it counts too.
    sources = "\n".join(p.read_text() for p in (REPO_ROOT / "tests").rglob("test_*.py"))
    patterns = {
        re.sub(r"\{[^}]+\}", "{}", literal)
        for literal in re.findall(r"[\"']((?:api|sqs|websocket)_[^\"']+\.json)[\"']", sources)
    }
    used = {
        s for s in SAMPLES if any(re.fullmatch(re.escape(p).replace(r"\{\}", r"[a-z]+"), s) for p in patterns)
    }
    assert sorted(set(SAMPLES) - used) == []


def test_samples_are_pretty_printed_json():
    for name in SAMPLES:
        text = (EVENTS_DIR / name).read_text()
        assert json.loads(text)
        assert text.endswith("\n")
