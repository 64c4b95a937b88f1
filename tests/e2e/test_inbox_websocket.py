"""The in-app channel end to end, as an app uses it: a real WebSocket client (the `websockets` library)
against the local stack, which serves the WebSocket API as API Gateway does (the token authorizer at
the handshake, the routes, and the @connections endpoint the functions post to through boto3)."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from devstack.process import LocalStackProcess
from notifier.inbox.tokens import InboxTokens
from tests import sockets
from tests.e2e.conftest import wait_for

FRAME_TIMEOUT = 15.0


@pytest.fixture(scope="module")
def stack(local: LocalStackProcess) -> LocalStackProcess:
    assert local.ws_url is not None, "the local stack printed no websocket line"
    return local


def token(stack: LocalStackProcess, recipient: str) -> str:
    status, body = stack.request("POST", f"/recipients/{recipient}/inbox/token")
    assert status == 201, body
    return str(body["token"])


def bearer(stack: LocalStackProcess, method: str, path: str, tok: str) -> tuple[int, Any]:
    return stack.request(method, path, key=None, headers={"Authorization": f"Bearer {tok}"})


def publish(stack: LocalStackProcess, recipient: str, text: str, **extra: Any) -> str:
    body = {"recipientId": recipient, "type": "inapp", "priority": "critical", "messageBody": text, **extra}
    status, answer = stack.request("POST", "/api/v1/notifications/publish", body)
    assert status == 202, answer
    return str(answer["notificationId"])


def channel(stack: LocalStackProcess, notification_id: str) -> dict[str, Any]:
    status, event = stack.request("GET", f"/event/{notification_id}")
    assert status == 200, event
    return dict(event["channels"]["inapp"])


def receive(socket: ClientConnection, kind: str, timeout: float = FRAME_TIMEOUT) -> dict[str, Any]:
    return sockets.receive(socket, kind, timeout)


@pytest.fixture
def open_socket(stack: LocalStackProcess) -> Iterator[Any]:
    with ExitStack() as opened:
        yield lambda tok: opened.enter_context(connect(f"{stack.ws_url}?token={tok}", open_timeout=10))


def test_an_open_app_gets_the_notification_live_and_its_counts(stack, open_socket):
    socket = open_socket(token(stack, "e2e-ana"))
    socket.send(json.dumps({"action": "ping"}))
    assert receive(socket, "pong") == {"type": "pong"}

    sent = publish(stack, "e2e-ana", "Ben commented on your post", title="New comment", data={"post": "p1"})

    item = receive(socket, "notification")["item"]
    assert (item["id"], item["title"], item["body"], item["data"]) == (
        sent,
        "New comment",
        "Ben commented on your post",
        {"post": "p1"},
    )
    assert receive(socket, "counts") == {"type": "counts", "unread": 1, "unseen": 1}
    wait_for(lambda: channel(stack, sent)["status"] == "DELIVERED")  # recorded just after the post

    socket.send(json.dumps({"action": "mark", "ids": [sent], "status": "read"}))
    assert receive(socket, "counts") == {"type": "counts", "unread": 0, "unseen": 0}
    assert channel(stack, sent)["opened_at"] is not None


def test_a_mark_through_the_api_reaches_every_open_tab(stack, open_socket):
    tok = token(stack, "e2e-tabs")
    first, second = open_socket(tok), open_socket(tok)
    sent = publish(stack, "e2e-tabs", "hello")
    for socket in (first, second):
        assert receive(socket, "notification")["item"]["id"] == sent
        assert receive(socket, "counts") == {"type": "counts", "unread": 1, "unseen": 1}

    status, counts = bearer(stack, "POST", f"/recipients/e2e-tabs/inbox/{sent}/seen", tok)

    assert (status, counts["unseen_count"]) == (200, 0)
    for socket in (first, second):
        assert receive(socket, "counts") == {"type": "counts", "unread": 1, "unseen": 0}


def _expired_token(stack: LocalStackProcess, recipient: str) -> str:
    """A token signed with the stack's own key, as the stack signs them, that expired an hour ago."""
    secrets = boto3.client("secretsmanager", endpoint_url=stack.endpoint, region_name="us-east-1")
    name = stack.physical_name("InboxTokenSecret")
    [arn] = [s["ARN"] for s in secrets.list_secrets()["SecretList"] if s["Name"] == name]
    key = secrets.get_secret_value(SecretId=arn)["SecretString"].encode()
    kid = hashlib.sha256(key).hexdigest()[:16]
    past = datetime.now(UTC) - timedelta(hours=2)
    signer = InboxTokens({kid: key}, kid, issuer="notifier", lifetime=timedelta(hours=1), clock=lambda: past)
    return signer.issue(recipient).token


def test_a_bad_or_expired_token_is_refused_at_the_handshake(stack):
    good = token(stack, "e2e-ana")
    expired = _expired_token(stack, "e2e-ana")
    assert bearer(stack, "GET", "/recipients/e2e-ana/inbox", expired)[0] == 401  # the API agrees

    for url in [f"{stack.ws_url}?token={t}" for t in ("", "not-a-token", good[:-4] + "AAAA", expired)] + [
        str(stack.ws_url)
    ]:
        with pytest.raises(InvalidStatus) as error, connect(url, open_timeout=10):
            pass
        assert error.value.response.status_code == 401, url


def test_a_closed_connection_is_cleaned_up_on_the_next_post(stack, open_socket):
    tok = token(stack, "e2e-gone")
    staying, leaving = open_socket(tok), open_socket(tok)
    leaving.close()
    # $disconnect is best effort on API Gateway: forget it, as a dropped network would, so that only
    # the 410 of the next post can clean the connection up.
    dynamodb = boto3.client("dynamodb", endpoint_url=stack.endpoint, region_name="us-east-1")
    [table] = [
        t for t in dynamodb.list_tables()["TableNames"] if t == stack.physical_name("ConnectionsTable")
    ]

    def connections() -> list[str]:
        answer = dynamodb.query(
            TableName=table,
            IndexName="recipient",
            KeyConditionExpression="recipient_id = :r",
            ExpressionAttributeValues={":r": {"S": "e2e-gone"}},
        )
        return [i["connection_id"]["S"] for i in answer["Items"]]

    wait_for(lambda: len(connections()) == 1)  # the local stack did send $disconnect
    left = connections()
    # put the closed connection back, as if its $disconnect had been lost
    gone = "R29uZUNvbm5lY3Rpb24="
    dynamodb.put_item(
        TableName=table,
        Item={
            "connection_id": {"S": gone},
            "recipient_id": {"S": "e2e-gone"},
            "expires_at": {"N": str(int(time.time()) + 3600)},
        },
    )
    assert sorted(connections()) == sorted([*left, gone])

    sent = publish(stack, "e2e-gone", "still here?")

    assert receive(staying, "notification")["item"]["id"] == sent
    wait_for(lambda: connections() == left)  # the post to the gone one was answered 410: forgotten
    with pytest.raises(ConnectionClosed):
        leaving.recv(timeout=1)


def test_a_token_cannot_read_or_mark_another_recipients_inbox(stack, open_socket):
    sent = publish(stack, "e2e-owner", "private")
    wait_for(
        lambda: bearer(stack, "GET", "/recipients/e2e-owner/inbox", token(stack, "e2e-owner"))[1]["items"]
    )
    intruder = token(stack, "e2e-intruder")

    assert bearer(stack, "GET", "/recipients/e2e-owner/inbox", intruder)[0] == 403
    assert bearer(stack, "POST", f"/recipients/e2e-owner/inbox/{sent}/read", intruder)[0] == 403
    socket = open_socket(intruder)
    socket.send(json.dumps({"action": "mark", "ids": [sent], "status": "read"}))
    assert "no item" in receive(socket, "error")["reason"]  # its own inbox has no such item

    _, page = bearer(stack, "GET", "/recipients/e2e-owner/inbox", token(stack, "e2e-owner"))
    assert page["unread_count"] == 1


def test_an_offline_recipient_finds_the_items_in_the_inbox_page_by_page(stack):
    sent = [publish(stack, "e2e-offline", f"item {n}") for n in range(5)]
    tok = token(stack, "e2e-offline")
    wait_for(lambda: bearer(stack, "GET", "/recipients/e2e-offline/inbox", tok)[1]["unread_count"] == 5)

    seen: list[str] = []
    after = None
    pages = 0
    while True:
        path = "/recipients/e2e-offline/inbox?limit=2" + (f"&after={after}" if after else "")
        status, page = bearer(stack, "GET", path, tok)
        assert status == 200, page
        seen += [item["id"] for item in page["items"]]
        pages += 1
        after = page["next"]
        if after is None:
            break
    assert pages == 3
    assert sorted(seen) == sorted(sent)
    assert channel(stack, sent[0])["status"] == "DELIVERED"  # fetched
