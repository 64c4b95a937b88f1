"""The deployed stack takes what its clients send, only with its key, and every channel delivers."""

from __future__ import annotations

import pytest

from ops.stack import DeployedStack
from tests.deployed.conftest import Api

CHANNELS = ("email", "sms", "push", "inapp")
PRIORITIES = ("critical", "standard")


def test_the_stack_is_complete_and_names_what_its_clients_need(stack: DeployedStack):
    assert stack.status in {"CREATE_COMPLETE", "UPDATE_COMPLETE"}
    for output in ("ApiUrl", "WebSocketUrl", "ApiKeyId", "TopicArn", "StatusTableName", "InboxTableName"):
        assert stack.outputs.get(output), f"the stack has no {output} Output"
    for channel in CHANNELS:
        for priority in PRIORITIES:
            name = f"{channel.capitalize()}{priority.capitalize()}"
            assert stack.outputs.get(f"{name}QueueUrl")
            assert stack.outputs.get(f"{name}DLQUrl")


def test_the_contract_and_its_page_need_no_key(api: Api):
    contract = api.call("GET", "/openapi.json", key=False)
    assert contract.status_code == 200, contract.text
    assert contract.json()["openapi"].startswith("3.")
    assert "/event" in contract.json()["paths"]
    page = api.call("GET", "/docs", key=False)
    assert page.status_code == 200
    assert "swagger" in page.text.lower()


@pytest.mark.parametrize("key", [False, "not-the-stacks-key"], ids=["no key", "a wrong key"])
def test_a_request_without_the_stacks_key_is_refused_and_publishes_nothing(api: Api, recipient, key):
    recipient_id = recipient()
    body = {"recipientId": recipient_id, "type": "email", "messageBody": "never sent"}
    answer = api.call("POST", "/api/v1/notifications/publish", body=body, key=key)
    assert answer.status_code == 403, answer.text
    assert "notificationId" not in answer.text


def test_a_bad_request_is_a_400_naming_the_field(api: Api, recipient):
    answer = api.call(
        "POST",
        "/api/v1/notifications/publish",
        body={"recipientId": recipient(), "type": "fax", "messageBody": "x"},
    )
    assert answer.status_code == 400, answer.text
    assert [field["field"] for field in answer.json()["fields"]] == ["type"]


def test_the_seed_publish_example_is_sent_by_email(api: Api, recipient):
    recipient_id = recipient()
    answer = api.call(
        "POST",
        "/api/v1/notifications/publish",
        body={"recipientId": recipient_id, "type": "email", "messageBody": "Order shipped"},
    )
    assert answer.status_code == 202, answer.text
    assert answer.json()["message"] == "Notification accepted for processing"
    state = api.wait_for_status(answer.json()["notificationId"], "email", {"SENT", "DELIVERED"})
    assert state["attempts"] == 1
    assert state["provider"] == "sandbox"


def test_the_seed_event_example_goes_to_the_channels_of_its_rule(api: Api, recipient):
    """MENTION: push, e-mail and in-app, critical (routing_rules.json)."""
    recipient_id = recipient()
    answer = api.call(
        "POST",
        "/event",
        body={
            "user_id": recipient_id,
            "event_type": "MENTION",
            "payload": {
                "parent_id": "post_67890",
                "parent_type": "post",
                "timestamp": "2023-10-15T12:34:56Z",
            },
        },
    )
    assert answer.status_code == 202, answer.text
    assert answer.json()["status"] == "SUCCESS"
    event_id = answer.json()["event_id"]
    for channel in ("push", "email", "inapp"):
        api.wait_for_status(event_id, channel, {"SENT", "DELIVERED"})
    status = api.status(event_id)
    assert status["priority"] == "critical"
    assert set(status["channels"]) == {"push", "email", "inapp"}


@pytest.mark.parametrize("priority", PRIORITIES)
@pytest.mark.parametrize("channel", CHANNELS)
def test_every_channel_and_priority_is_routed_to_its_queue_and_sent(api: Api, recipient, channel, priority):
    recipient_id = recipient()
    answer = api.call(
        "POST",
        "/api/v1/notifications/publish",
        body={
            "recipientId": recipient_id,
            "type": channel,
            "messageBody": f"{channel} {priority}",
            "priority": priority,
        },
    )
    assert answer.status_code == 202, answer.text
    notification_id = answer.json()["notificationId"]
    state = api.wait_for_status(notification_id, channel, {"SENT", "DELIVERED"})
    assert state["attempts"] == 1
    assert api.status(notification_id)["priority"] == priority
