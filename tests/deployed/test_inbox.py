"""The in-app channel as an app uses it: the inbox over REST, with the API key (the app's backend) or an
inbox token (the app's client), and live over the WebSocket with a real client (`websockets`).

docs/inbox.md is what is checked. Every recipient here is this run's own (the `recipient` fixture), so
the counts are exactly those of the items published in the test.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from notifier.inbox.tokens import InboxTokens
from ops.stack import DeployedStack
from tests import sockets
from tests.deployed.conftest import Api, wait_until

ITEM_TIMEOUT = 60.0
"""An in-app notification in the inbox: the emulator's queue polling and the inapp function's cold start."""
FRAME_TIMEOUT = 60.0
"""A frame the service posts to an open socket (a publish goes through SNS, SQS and the inapp function)."""
ANSWER_TIMEOUT = 15.0
"""The socket function's answer to a frame of the app's: one Lambda invocation."""
OPEN_TIMEOUT = 30.0
"""The handshake: the authorizer's and $connect's cold starts."""


def issue_token(api: Api, recipient_id: str) -> str:
    answer = api.call("POST", f"/recipients/{recipient_id}/inbox/token")
    assert answer.status_code == 201, answer.text
    assert answer.json()["expires_at"]
    return str(answer.json()["token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def inbox(api: Api, recipient_id: str, *, token: str | None = None, query: str = "") -> dict[str, Any]:
    """The recipient's inbox page, read with the API key or, given one, with a token alone."""
    if token is None:
        answer = api.call("GET", f"/recipients/{recipient_id}/inbox{query}")
    else:
        answer = api.call("GET", f"/recipients/{recipient_id}/inbox{query}", key=False, headers=bearer(token))
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def channel(api: Api, notification_id: str) -> dict[str, Any]:
    return dict(api.status(notification_id)["channels"]["inapp"])


def forged(token: str, *, issuer: str) -> str:
    """A token for the same recipient, with the real one's key id, signed with a key of our own."""
    head, claims_part, _ = token.split(".")
    header = json.loads(base64.urlsafe_b64decode(head + "=="))
    claims = json.loads(base64.urlsafe_b64decode(claims_part + "=="))
    kid = header["kid"]
    ours = InboxTokens(
        {kid: b"not the stack's key, but long enough: 32+ bytes"},
        kid,
        issuer=issuer,
        lifetime=timedelta(hours=1),
    )
    return ours.issue(claims["sub"]).token


def tampered(token: str, recipient_id: str) -> str:
    """The real token with its subject replaced by another recipient, its signature kept."""
    head, claims, signature = token.split(".")
    decoded = json.loads(base64.urlsafe_b64decode(claims + "=="))
    decoded["sub"] = recipient_id
    changed = (
        base64.urlsafe_b64encode(json.dumps(decoded, separators=(",", ":")).encode()).decode().rstrip("=")
    )
    return f"{head}.{changed}.{signature}"


# ---------------------------------------------------------------------------------------- over REST


def test_an_inapp_notification_is_in_the_inbox_with_its_counts_and_marks_change_them(api: Api, recipient):
    recipient_id = recipient()
    first = api.publish(
        recipient_id, "inapp", "Your order o-17 is on its way.", title="Order shipped", data={"order": "o-17"}
    )
    second = api.publish(recipient_id, "inapp", "Ben commented on your post", title="New comment")
    # Stored (SENT) and not fetched yet: no app is connected, so nothing has delivered it.
    for notification_id in (first, second):
        api.wait_for_status(notification_id, "inapp", {"SENT"}, timeout=ITEM_TIMEOUT)

    page = inbox(api, recipient_id)

    assert (page["unread_count"], page["unseen_count"], page["next"]) == (2, 2, None)
    items = {item["id"]: item for item in page["items"]}
    assert set(items) == {first, second}
    assert [item["id"] for item in page["items"]] == sorted(
        items, key=lambda i: items[i]["created_at"], reverse=True
    ), "newest first"
    shipped = items[first]
    assert (shipped["title"], shipped["body"], shipped["data"], shipped["event_type"]) == (
        "Order shipped",
        "Your order o-17 is on its way.",
        {"order": "o-17"},
        "NOTIFICATION",
    )
    assert (shipped["seen_at"], shipped["read_at"], shipped["archived_at"]) == (None, None, None)
    # Fetched by the app: DELIVERED, not opened yet.
    for notification_id in (first, second):
        state = api.wait_for_status(notification_id, "inapp", {"DELIVERED"}, timeout=30)
        assert state["delivered_at"]
        assert state["opened_at"] is None

    marked = api.call("POST", f"/recipients/{recipient_id}/inbox/{first}/read")

    assert marked.status_code == 200, marked.text
    assert marked.json() == {"marked": 1, "unread_count": 1, "unseen_count": 1}  # read is seen as well
    after = {item["id"]: item for item in inbox(api, recipient_id)["items"]}
    assert after[first]["read_at"]
    assert after[first]["seen_at"]
    assert after[second]["read_at"] is None
    assert [i["id"] for i in inbox(api, recipient_id, query="?status=unread")["items"]] == [second]
    assert channel(api, first)["opened_at"], "reading an item records its notification as opened"

    again = api.call("POST", f"/recipients/{recipient_id}/inbox/{first}/read")
    assert again.json() == {"marked": 0, "unread_count": 1, "unseen_count": 1}, "already read"
    seen = api.call("POST", f"/recipients/{recipient_id}/inbox/mark-all/seen")
    assert seen.status_code == 200, seen.text
    assert (seen.json()["unread_count"], seen.json()["unseen_count"]) == (1, 0)
    unread = api.call("POST", f"/recipients/{recipient_id}/inbox/{first}/unread")
    assert unread.json() == {"marked": 1, "unread_count": 2, "unseen_count": 0}  # unread, still seen
    archived = api.call("POST", f"/recipients/{recipient_id}/inbox/{second}/archived")
    assert archived.json() == {"marked": 1, "unread_count": 1, "unseen_count": 0}  # counts leave it out
    assert [i["id"] for i in inbox(api, recipient_id)["items"]] == [first]
    assert [i["id"] for i in inbox(api, recipient_id, query="?archived=only")["items"]] == [second]

    missing = api.call("POST", f"/recipients/{recipient_id}/inbox/no-such-item/read")
    assert missing.status_code == 404, missing.text


def test_an_inbox_token_reads_and_marks_its_own_inbox_without_the_key_and_no_other(
    api: Api, recipient, stack: DeployedStack
):
    owner, other = recipient(), recipient()
    mine = api.publish(owner, "inapp", "for the owner", title="Mine")
    theirs = api.publish(other, "inapp", "for someone else")
    for notification_id in (mine, theirs):
        api.wait_for_status(notification_id, "inapp", {"SENT", "DELIVERED"}, timeout=ITEM_TIMEOUT)

    refused = api.call("POST", f"/recipients/{owner}/inbox/token", key=False)
    assert refused.status_code == 403, "a token is the backend's to issue, with the API key"
    token = issue_token(api, owner)

    page = inbox(api, owner, token=token)
    assert [item["id"] for item in page["items"]] == [mine]
    assert page["unread_count"] == 1
    marked = api.call("POST", f"/recipients/{owner}/inbox/{mine}/read", key=False, headers=bearer(token))
    assert marked.status_code == 200, marked.text
    assert marked.json()["unread_count"] == 0

    # Another recipient's inbox: a 403, whatever the route, and nothing of it is read or changed.
    for method, path in [
        ("GET", f"/recipients/{other}/inbox"),
        ("POST", f"/recipients/{other}/inbox/{theirs}/read"),
        ("POST", f"/recipients/{other}/inbox/mark-all/read"),
    ]:
        answer = api.call(method, path, key=False, headers=bearer(token))
        assert answer.status_code == 403, f"{method} {path}: {answer.status_code} {answer.text}"
        assert answer.json()["error"] == "forbidden"
        assert theirs not in answer.text
    assert inbox(api, other)["unread_count"] == 1

    # No credential, a forged token, a token altered to name the other recipient: 401.
    for headers in [
        {},
        bearer(forged(token, issuer=stack.name)),
        bearer(tampered(token, other)),
        bearer("not-a-token"),
        {"Authorization": token},  # not a Bearer token
    ]:
        for recipient_id in (owner, other):
            answer = api.call("GET", f"/recipients/{recipient_id}/inbox", key=False, headers=headers)
            assert answer.status_code == 401, f"{headers}: {answer.status_code} {answer.text}"
            assert "items" not in answer.json()
    wrong_key = api.call("GET", f"/recipients/{owner}/inbox", key="not-the-stacks-key")
    assert wrong_key.status_code == 401, wrong_key.text


# ---------------------------------------------------------------------------------------- live


@pytest.fixture
def open_socket(stack: DeployedStack) -> Iterator[Callable[[str], ClientConnection]]:
    """Opens inbox sockets with a token, as an app does (`?token=`); each closed at the end."""
    with ExitStack() as opened:

        def open_with(token: str) -> ClientConnection:
            url = f"{stack.websocket_url}?token={quote(token, safe='')}"
            return opened.enter_context(connect(url, open_timeout=OPEN_TIMEOUT, close_timeout=5))

        yield open_with


def receive(socket: ClientConnection, kind: str, timeout: float = FRAME_TIMEOUT) -> dict[str, Any]:
    return sockets.receive(socket, kind, timeout)


def receive_each(socket: ClientConnection, wanted: list[dict[str, Any]], timeout: float) -> None:
    """Every frame of `wanted`, in whatever order they come; other frames skipped."""
    deadline = time.monotonic() + timeout
    missing = list(wanted)
    while missing:
        frame = json.loads(socket.recv(timeout=max(0.01, deadline - time.monotonic())))
        if frame in missing:
            missing.remove(frame)


def test_an_open_app_is_told_of_a_notification_at_once_and_of_the_counts(api: Api, recipient, open_socket):
    recipient_id = recipient()
    token = issue_token(api, recipient_id)
    socket = open_socket(token)

    sent = api.publish(
        recipient_id, "inapp", "Ben commented on your post", title="New comment", data={"post": "p1"}
    )

    item = receive(socket, "notification")["item"]
    assert (item["id"], item["title"], item["body"], item["data"]) == (
        sent,
        "New comment",
        "Ben commented on your post",
        {"post": "p1"},
    )
    assert (item["seen_at"], item["read_at"]) == (None, None)
    assert receive(socket, "counts") == {"type": "counts", "unread": 1, "unseen": 1}
    # Told to an open app: DELIVERED without the app fetching anything.
    api.wait_for_status(sent, "inapp", {"DELIVERED"}, timeout=30)

    # A mark through the REST routes (another tab, the backend) reaches the open socket.
    marked = api.call(
        "POST", f"/recipients/{recipient_id}/inbox/{sent}/read", key=False, headers=bearer(token)
    )
    assert marked.status_code == 200, marked.text
    assert receive(socket, "counts") == {"type": "counts", "unread": 0, "unseen": 0}


def test_the_socket_answers_the_apps_own_frames(api: Api, recipient, open_socket, stack: DeployedStack):
    """docs/inbox.md: `ping` is answered `pong`; a `mark` frame marks the items and every connection of
    the recipient is sent the new counts."""
    recipient_id = recipient()
    token = issue_token(api, recipient_id)
    socket = open_socket(token)
    sent = api.publish(recipient_id, "inapp", "mark me from the app")
    assert receive(socket, "notification")["item"]["id"] == sent

    socket.send(json.dumps({"action": "mark", "ids": [sent], "status": "read"}))
    # The frame reaches the socket function, which marks the item: the REST routes see it.
    wait_until(
        lambda: inbox(api, recipient_id, token=token)["unread_count"] == 0,
        ANSWER_TIMEOUT + 15,
        what="the item marked read by the app's mark frame",
    )
    socket.send(json.dumps({"action": "ping"}))
    # The counts the mark frame changed (sent to every connection), and the ping's pong.
    receive_each(socket, [{"type": "counts", "unread": 0, "unseen": 0}, {"type": "pong"}], ANSWER_TIMEOUT)


def refusal(url: str) -> int:
    """The HTTP status the handshake at `url` is refused with; fails if the socket opens."""
    with pytest.raises(InvalidStatus) as refused, connect(url, open_timeout=OPEN_TIMEOUT):
        pass
    return refused.value.response.status_code


@pytest.mark.parametrize("which", ["missing", "forged", "tampered", "garbage"])
def test_a_socket_without_a_valid_token_is_refused_at_the_handshake(
    api: Api, recipient, stack: DeployedStack, which
):
    owner, other = recipient(), recipient()
    good = issue_token(api, owner)
    token = {
        "missing": None,
        "forged": forged(good, issuer=stack.name),
        "tampered": tampered(good, other),
        "garbage": "not-a-token",
    }[which]
    url = stack.websocket_url if token is None else f"{stack.websocket_url}?token={quote(token, safe='')}"

    assert refusal(url) >= 400


def test_a_forged_token_is_refused_with_a_401(api: Api, recipient, stack: DeployedStack):
    """docs/inbox.md: "A missing, forged or expired token is refused at the handshake (HTTP 401)"."""
    token = forged(issue_token(api, recipient()), issuer=stack.name)

    status = refusal(f"{stack.websocket_url}?token={quote(token, safe='')}")

    if status == 500 and stack.endpoint:
        pytest.xfail(
            "refused, but with 500 where API Gateway answers 401: MiniStack answers a $connect REQUEST "
            "authorizer that raises 'Unauthorized' with 500 (_authorize_ws_connect: the failed "
            "invocation gives no policy, hence (500, ''))"
        )
    assert status == 401
