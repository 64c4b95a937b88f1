"""The inbox through its handlers, in moto with the template's resources: the REST routes with a token
or the API key, the socket function's authorizer and frames, and the in-app consumer telling open
connections (moto's @connections API records what is posted to each)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import boto3
import pytest
from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends
from moto.core import DEFAULT_ACCOUNT_ID

from devstack.lambda_events import LambdaContext, api_event
from notifier import runtime
from tests.functional.conftest import receive_all

Handler = Callable[[dict[str, Any]], dict[str, Any]]


def socket_handler() -> Handler:
    from functions.socket import app  # noqa: PLC0415 - its import reads the deployed environment

    return lambda event: app.lambda_handler(event, LambdaContext(function_name="socket"))


@pytest.fixture
def socket(deployment) -> Handler:
    return socket_handler()


@pytest.fixture
def api_key(deployment) -> str:
    """A key of the stack's usage plan (as API Gateway holds it), made here if provisioning made none."""
    client = boto3.client("apigateway")
    plans = [p for p in client.get_usage_plans()["items"] if p["name"].endswith("-usage-plan")]
    plan = plans[0]["id"] if plans else client.create_usage_plan(name="notifier-usage-plan")["id"]
    key = client.create_api_key(name="functional", value="functional-key-0123456789", enabled=True)
    client.create_usage_plan_key(usagePlanId=plan, keyId=key["id"], keyType="API_KEY")
    return "functional-key-0123456789"


def frames(connection_id: str) -> list[dict[str, Any]]:
    """Every frame posted to a connection, in order (moto keeps their bytes end to end, under the id as
    the URL carried it)."""
    connections = apigatewaymanagementapi_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].connections
    data = connections[quote(connection_id, safe="")].data
    text, found, decoder = data.decode(), [], json.JSONDecoder()
    while text:
        frame, end = decoder.raw_decode(text)
        found.append(frame)
        text = text[end:]
    return found


def call(
    publish: Handler,
    method: str,
    path: str,
    *,
    token: str | None = None,
    key: str | None = None,
    query: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """The publish function's answer to a request with these credentials only (the sample event's API
    key taken out: these routes ask API Gateway for none, so it passes whatever was sent)."""
    event = api_event(method, path, headers={"Authorization": f"Bearer {token}"} if token else {})
    for headers in (event["headers"], event["multiValueHeaders"]):
        headers.pop("x-api-key", None)
        if key:
            headers["x-api-key"] = key if headers is event["headers"] else [key]
    event["queryStringParameters"] = query
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} if query else None
    answer = publish(event)
    return answer["statusCode"], json.loads(answer["body"]) if answer.get("body") else None


def token_for(publish: Handler, recipient: str) -> str:
    status, body = call(publish, "POST", f"/recipients/{recipient}/inbox/token")
    assert status == 201, body
    return str(body["token"])


def send_inapp(publish: Handler, consumers, deployment, recipient: str, body: str, **extra: Any) -> str:
    answer = publish(
        api_event(
            "POST",
            "/api/v1/notifications/publish",
            body={
                "recipientId": recipient,
                "type": "inapp",
                "priority": "critical",
                "messageBody": body,
                **extra,
            },
        )
    )
    assert answer["statusCode"] == 202, answer["body"]
    records = receive_all(deployment, "InappCriticalQueue")
    assert consumers["inapp"]({"Records": records}) == {"batchItemFailures": []}
    return str(json.loads(answer["body"])["notificationId"])


def connect(socket: Handler, token: str | None, connection_id: str) -> dict[str, Any]:
    """The handshake as API Gateway runs it: the authorizer, then $connect with its context."""
    arn = "arn:aws:execute-api:us-east-1:123456789012:localws/v1/$connect"
    policy = socket({"type": "REQUEST", "methodArn": arn, "queryStringParameters": {"token": token}})
    context = {k: str(v) for k, v in policy["context"].items()}
    request = {
        "routeKey": "$connect",
        "connectionId": connection_id,
        "authorizer": {"principalId": policy["principalId"], **context},
    }
    assert socket({"requestContext": request}) == {"statusCode": 200}
    return policy


def send_frame(socket: Handler, connection_id: str, frame: Any) -> None:
    body = frame if isinstance(frame, str) else json.dumps(frame)
    request = {"routeKey": "$default", "connectionId": connection_id, "domainName": "localws", "stage": "v1"}
    assert socket({"requestContext": request, "body": body}) == {"statusCode": 200}


def channel_status(notification_id: str) -> Any:
    found = runtime.status_store().get(notification_id)
    assert found is not None
    return found.channels["inapp"]


# ------------------------------------------------------------------ REST


def test_a_client_with_a_token_reads_its_inbox_and_fetching_makes_the_items_delivered(
    publish, consumers, deployment
):
    sent = send_inapp(
        publish, consumers, deployment, "ana", "Your order shipped", title="Order", data={"o": 1}
    )
    assert channel_status(sent).status == "SENT"  # nobody connected: stored, not yet seen by an app

    status, page = call(publish, "GET", "/recipients/ana/inbox", token=token_for(publish, "ana"))

    assert status == 200
    assert page["unread_count"] == page["unseen_count"] == 1
    assert page["next"] is None
    [item] = page["items"]
    assert (item["id"], item["title"], item["body"], item["data"]) == (
        sent,
        "Order",
        "Your order shipped",
        {"o": 1},
    )
    assert item["read_at"] is item["seen_at"] is item["archived_at"] is None
    assert channel_status(sent).status == "DELIVERED"


def test_a_token_reaches_no_other_recipients_inbox(publish, consumers, deployment):
    send_inapp(publish, consumers, deployment, "ana", "for ana")
    bens = token_for(publish, "ben")

    for method, path in (
        ("GET", "/recipients/ana/inbox"),
        ("POST", "/recipients/ana/inbox/mark-all/read"),
    ):
        status, body = call(publish, method, path, token=bens)
        assert (status, body["error"]) == (403, "forbidden")
    _, page = call(publish, "GET", "/recipients/ana/inbox", token=token_for(publish, "ana"))
    assert page["unread_count"] == 1  # nothing was marked


def test_without_credentials_or_with_a_bad_one_the_inbox_answers_401_naming_the_header(publish, api_key):
    assert call(publish, "GET", "/recipients/ana/inbox")[1]["fields"][0]["field"] == "Authorization"
    status, body = call(publish, "GET", "/recipients/ana/inbox", token="not.a.token")
    assert (status, body["fields"][0]["field"]) == (401, "Authorization")
    status, body = call(publish, "GET", "/recipients/ana/inbox", key="wrong-key-0123456789")
    assert (status, body["fields"][0]["field"]) == (401, "x-api-key")


def test_the_backend_reads_any_inbox_with_a_key_of_the_usage_plan(publish, consumers, deployment, api_key):
    send_inapp(publish, consumers, deployment, "ana", "hello")

    status, page = call(publish, "GET", "/recipients/ana/inbox", key=api_key)

    assert status == 200
    assert [i["body"] for i in page["items"]] == ["hello"]


def test_pages_follow_their_cursor_and_a_cursor_cannot_open_another_inbox(publish, consumers, deployment):
    sent = [send_inapp(publish, consumers, deployment, "ana", f"n{n}") for n in range(5)]
    token = token_for(publish, "ana")

    seen, after = [], None
    while True:
        query = {"limit": "2", **({"after": after} if after else {})}
        status, page = call(publish, "GET", "/recipients/ana/inbox", token=token, query=query)
        assert status == 200
        seen += [i["id"] for i in page["items"]]
        after = page["next"]
        if after is None:
            break
    assert seen == list(reversed(sent))

    _, first = call(publish, "GET", "/recipients/ana/inbox", token=token, query={"limit": "2"})
    status, body = call(
        publish,
        "GET",
        "/recipients/ben/inbox",
        token=token_for(publish, "ben"),
        query={"after": first["next"]},
    )
    assert (status, body["fields"][0]["field"]) == (400, "after")


def test_marks_move_the_counts_record_the_read_and_tell_every_open_connection(
    publish, consumers, deployment, socket
):
    first = send_inapp(publish, consumers, deployment, "ana", "one")
    second = send_inapp(publish, consumers, deployment, "ana", "two")
    token = token_for(publish, "ana")
    connect(socket, token, "tab-1=")

    status, counts = call(publish, "POST", f"/recipients/ana/inbox/{first}/read", token=token)

    assert (status, counts) == (200, {"marked": 1, "unread_count": 1, "unseen_count": 1})
    assert frames("tab-1=")[-1] == {"type": "counts", "unread": 1, "unseen": 1}
    read = channel_status(first)
    assert read.status == "DELIVERED"
    assert read.opened_at is not None
    assert call(publish, "POST", f"/recipients/ana/inbox/{first}/read", token=token)[1]["marked"] == 0

    status, counts = call(publish, "POST", "/recipients/ana/inbox/mark-all/read", token=token)
    assert (status, counts) == (200, {"marked": 1, "unread_count": 0, "unseen_count": 0})
    assert channel_status(second).opened_at is not None

    status, body = call(publish, "POST", "/recipients/ana/inbox/no-such-item/read", token=token)
    assert (status, body["error"]) == (404, "not_found")
    status, body = call(publish, "POST", f"/recipients/ana/inbox/{first}/starred", token=token)
    assert (status, body["fields"][0]["field"]) == (400, "mark")


def test_an_issued_token_expires_after_the_stacks_lifetime(publish):
    status, body = call(publish, "POST", "/recipients/ana/inbox/token")

    assert status == 201
    issued = runtime.inbox_tokens().verify(body["token"])
    assert issued.recipient_id == "ana"
    assert (issued.expires_at - issued.issued_at).total_seconds() == 3600
    assert body["expires_at"].endswith("Z")


# ------------------------------------------------------------------ WebSocket


def test_an_open_connection_is_told_of_a_new_item_and_that_makes_it_delivered(
    publish, consumers, deployment, socket
):
    connect(socket, token_for(publish, "ana"), "ana-1=")
    connect(socket, token_for(publish, "ben"), "ben-1=")

    sent = send_inapp(publish, consumers, deployment, "ana", "hi there", title="Hi")

    notification, counts = frames("ana-1=")
    assert notification["type"] == "notification"
    assert (notification["item"]["id"], notification["item"]["title"]) == (sent, "Hi")
    assert counts == {"type": "counts", "unread": 1, "unseen": 1}
    assert frames("ben-1=") == []
    assert channel_status(sent).status == "DELIVERED"


def test_the_authorizer_lets_in_a_valid_token_as_its_recipient_and_refuses_any_other(publish, socket):
    policy = connect(socket, token_for(publish, "ana"), "c-1=")

    assert policy["principalId"] == "ana"
    [statement] = policy["policyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert runtime.connection_store().recipient_of("c-1=") == "ana"
    forged = token_for(publish, "ana")[:-3] + "abc"
    for token in (forged, "", "x.y.z"):
        with pytest.raises(Exception, match=r"^Unauthorized$"):
            socket(
                {"type": "REQUEST", "methodArn": "arn:x/$connect", "queryStringParameters": {"token": token}}
            )


def test_frames_are_answered_on_their_connection_and_marks_reach_every_tab(
    publish, consumers, deployment, socket
):
    sent = send_inapp(publish, consumers, deployment, "ana", "one")
    token = token_for(publish, "ana")
    connect(socket, token, "tab-1=")
    connect(socket, token, "tab-2=")

    send_frame(socket, "tab-1=", {"action": "ping"})
    send_frame(socket, "tab-1=", {"action": "counts"})
    send_frame(socket, "tab-1=", {"action": "mark", "ids": [sent], "status": "seen"})

    assert frames("tab-1=") == [
        {"type": "pong"},
        {"type": "counts", "unread": 1, "unseen": 1},
        {"type": "counts", "unread": 1, "unseen": 0},
    ]
    assert frames("tab-2=") == [{"type": "counts", "unread": 1, "unseen": 0}]

    send_frame(socket, "tab-2=", {"action": "mark_all", "status": "read"})
    assert frames("tab-1=")[-1] == frames("tab-2=")[-1] == {"type": "counts", "unread": 0, "unseen": 0}


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ("not json", "not JSON"),
        ({"action": "dance"}, "action"),
        ({"action": "mark", "ids": [], "status": "read"}, "ids"),
        ({"action": "mark", "ids": ["x"], "status": "starred"}, "status"),
        ({"action": "mark_all", "status": "unread"}, "status"),
        ({"action": "mark", "ids": ["no-such-item"], "status": "read"}, "no item"),
        ("[" * 5000 + "]" * 5000, "nested too deeply"),  # past Python's parser: a RecursionError before
    ],
)
def test_a_frame_it_cannot_take_is_answered_with_the_reason(publish, socket, frame, reason):
    connect(socket, token_for(publish, "ana"), "c-2=")

    send_frame(socket, "c-2=", frame)

    [answer] = frames("c-2=")
    assert answer["type"] == "error"
    assert reason in answer["reason"]


def test_a_closed_connection_is_forgotten_and_no_longer_told(publish, consumers, deployment, socket):
    connect(socket, token_for(publish, "ana"), "gone-1=")

    assert socket({"requestContext": {"routeKey": "$disconnect", "connectionId": "gone-1="}}) == {
        "statusCode": 200
    }
    sent = send_inapp(publish, consumers, deployment, "ana", "after")

    assert runtime.connection_store().of_recipient("ana") == []
    assert frames("gone-1=") == []
    assert channel_status(sent).status == "SENT"


def test_an_item_stored_while_nobody_is_connected_costs_no_count_queries(
    publish, consumers, deployment, monkeypatch
):
    counted: list[str] = []
    store = runtime.inbox_store()
    read_counts = store.counts
    monkeypatch.setattr(
        store, "counts", lambda recipient_id: counted.append(recipient_id) or read_counts(recipient_id)
    )

    send_inapp(publish, consumers, deployment, "ana", "nobody home")
    assert counted == []
    connect(socket_handler(), token_for(publish, "ana"), "home-1=")
    send_inapp(publish, consumers, deployment, "ana", "now someone is")
    assert counted == ["ana"]
