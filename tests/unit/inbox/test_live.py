"""Posting to a recipient's connections through the @connections API (botocore's Stubber speaks it):
each connection gets every frame in order, a 410 Gone forgets the connection, any other failure is
counted as not reached and never raised."""

from __future__ import annotations

import json

import botocore.session
import pytest
from botocore.stub import Stubber

from notifier.inbox.live import LiveConnections, counts_frame


class Connections:
    def __init__(self, ids: list[str]) -> None:
        self.ids = ids
        self.removed: list[str] = []

    def of_recipient(self, recipient_id: str) -> list[str]:
        return [i for i in self.ids if i not in self.removed]

    def remove(self, connection_id: str) -> None:
        self.removed.append(connection_id)


@pytest.fixture
def client():
    made = botocore.session.get_session().create_client(
        "apigatewaymanagementapi",
        endpoint_url="https://abc.execute-api.us-east-1.amazonaws.com/v1",
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    with Stubber(made) as stubber:
        yield made, stubber


def posted(stubber: Stubber, connection_id: str, frame: dict) -> None:
    data = json.dumps(frame, separators=(",", ":")).encode()
    stubber.add_response("post_to_connection", {}, {"ConnectionId": connection_id, "Data": data})


def test_every_frame_reaches_the_connection_in_order(client):
    made, stubber = client
    frames = [{"type": "notification", "item": {"id": "n1"}}, counts_frame(1, 1)]
    for frame in frames:
        posted(stubber, "abc=", frame)

    reached = LiveConnections(Connections(["abc="]), lambda: made).tell("ana", frames)  # type: ignore[arg-type]

    assert reached == 1
    stubber.assert_no_pending_responses()


def test_a_connection_answered_410_is_forgotten_and_not_counted(client):
    made, stubber = client
    stubber.add_client_error("post_to_connection", "GoneException", http_status_code=410)
    connections = Connections(["gone="])

    assert LiveConnections(connections, lambda: made).tell("ana", [counts_frame(0, 0)]) == 0  # type: ignore[arg-type]
    assert connections.removed == ["gone="]


@pytest.mark.parametrize(("code", "status"), [("ForbiddenException", 403), ("LimitExceededException", 429)])
def test_any_other_failure_is_not_reached_and_keeps_the_connection(client, code, status):
    made, stubber = client
    stubber.add_client_error("post_to_connection", code, http_status_code=status)
    connections = Connections(["abc="])

    assert LiveConnections(connections, lambda: made).tell("ana", [counts_frame(0, 0)]) == 0  # type: ignore[arg-type]
    assert connections.removed == []


def test_nobody_connected_costs_no_post(client):
    made, stubber = client

    assert LiveConnections(Connections([]), lambda: made).tell("ana", [counts_frame(0, 0)]) == 0  # type: ignore[arg-type]
    stubber.assert_no_pending_responses()
