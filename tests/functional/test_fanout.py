"""Each notification lands in exactly the queues its channels and priority select.

The expected queues come from the subscriptions' filter policies in template.yaml, never from a list
in this file, so a change to the template's routing is tested as it is deployed.
"""

from __future__ import annotations

import json

import pytest

from devstack.lambda_events import api_event, load_event
from devstack.provision import Deployment
from notifier.api.routing import routing_rules
from notifier.models.channels import Channel, Priority
from tests.functional.conftest import receive_all

PAIRS = [(channel, priority) for channel in Channel for priority in Priority]
ADDRESSES = {
    Channel.EMAIL: "alice@example.com",
    Channel.SMS: "+14155550100",
    Channel.PUSH: "fcm-token-alice-0123",
}


def subscribed_queues(deployment: Deployment) -> dict[str, dict[str, list[str]]]:
    """Queue logical id -> that queue's subscription filter policy, read from the template."""
    return {
        sub["Properties"]["Endpoint"]["Fn::GetAtt"][0]: sub["Properties"]["FilterPolicy"]
        for sub in deployment.stack.resources_of_type("AWS::SNS::Subscription").values()
        # the notification topic's: not the alarm e-mail, nor the fallback providers' receipts
        if sub["Properties"]["TopicArn"] == {"Ref": "NotificationTopic"}
    }


def selected_queues(deployment: Deployment, channels: list[str], priority: str) -> set[str]:
    return {
        queue
        for queue, policy in subscribed_queues(deployment).items()
        if priority in policy["priority"] and set(channels) & set(policy["channel"])
    }


def notification_ids_per_queue(deployment: Deployment) -> dict[str, list[str]]:
    return {
        queue: [json.loads(r["body"])["notification_id"] for r in receive_all(deployment, queue)]
        for queue in subscribed_queues(deployment)
    }


def test_the_template_subscribes_one_queue_to_each_channel_and_priority(deployment):
    policies = subscribed_queues(deployment).values()
    covered = sorted((p["channel"][0], p["priority"][0]) for p in policies)
    assert covered == sorted((c.value, p.value) for c, p in PAIRS)


@pytest.mark.parametrize(("channel", "priority"), PAIRS, ids=[f"{c}-{p}" for c, p in PAIRS])
def test_a_notification_reaches_only_the_queue_of_its_channel_and_priority(
    deployment, publish, channel, priority
):
    answer = publish(
        api_event(
            "POST",
            "/api/v1/notifications/publish",
            body={
                "recipientId": "user-123",
                "type": channel,
                "messageBody": "Order shipped",
                "priority": priority,
                **({"to": ADDRESSES[channel]} if channel in ADDRESSES else {}),  # in-app: the inbox
            },
        )
    )

    assert answer["statusCode"] == 202
    notification_id = json.loads(answer["body"])["notificationId"]
    expected = selected_queues(deployment, [channel], priority)
    assert len(expected) == 1
    landed = notification_ids_per_queue(deployment)
    assert {q: ids for q, ids in landed.items() if ids} == {next(iter(expected)): [notification_id]}


@pytest.mark.parametrize("event_type", ["MESSAGE", "COMMENT"])
def test_a_multi_channel_event_reaches_one_queue_per_channel(deployment, publish, event_type):
    rule = routing_rules()[event_type]
    assert len(rule.channels) > 1

    answer = publish(
        api_event(
            "POST",
            "/event",
            body={
                "user_id": "user-123",
                "event_type": event_type,
                "payload": {
                    "parent_id": "post_1",
                    "parent_type": "post",
                    "timestamp": "2026-11-21T10:00:00Z",
                },
            },
        )
    )

    assert answer["statusCode"] == 202
    event_id = json.loads(answer["body"])["event_id"]
    expected = selected_queues(deployment, [c.value for c in rule.channels], rule.priority.value)
    assert len(expected) == len(rule.channels)
    landed = notification_ids_per_queue(deployment)
    assert {q: ids for q, ids in landed.items() if ids} == {q: [event_id] for q in expected}


def test_the_payload_priority_overrides_the_event_types_default(deployment, publish):
    # LIKE is a standard event by default; the seed document's payload asks for critical.
    answer = publish(
        api_event("POST", "/event", body=json.loads(load_event("api_publish_event.json")["body"]))
    )

    event_id = json.loads(answer["body"])["event_id"]
    landed = notification_ids_per_queue(deployment)
    assert {q: ids for q, ids in landed.items() if ids} == {
        q: [event_id] for q in selected_queues(deployment, ["push", "inapp"], "critical")
    }
