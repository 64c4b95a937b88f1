"""The publish function's REST contract, called with API Gateway events."""

from __future__ import annotations

import json

import boto3
import pytest

from devstack.lambda_events import api_event, load_event
from tests.functional.conftest import receive_all

ALL_QUEUES = [
    f"{c}{p}{kind}"
    for c in ("Email", "Sms", "Push")
    for p in ("Critical", "Standard")
    for kind in ("Queue", "DLQ")
]


def queued_anywhere(deployment) -> int:
    return sum(len(receive_all(deployment, queue)) for queue in ALL_QUEUES)


def test_the_seed_notification_is_accepted_as_the_contract_says(deployment, publish):
    answer = publish(load_event("api_publish_notification.json"))

    assert answer["statusCode"] == 202
    body = json.loads(answer["body"])
    assert body["message"] == "Notification accepted for processing"
    assert set(body) == {"message", "notificationId"}
    assert queued_anywhere(deployment) == 1


def test_an_sms_with_an_inline_number_and_critical_priority_is_accepted(deployment, publish):
    answer = publish(load_event("api_publish_notification_sms_critical.json"))

    assert answer["statusCode"] == 202
    [record] = receive_all(deployment, "SmsCriticalQueue")
    envelope = json.loads(record["body"])
    assert envelope["addresses"] == {"sms": "+14155550100"}
    assert envelope["notification_id"] == json.loads(answer["body"])["notificationId"]


def test_the_seed_event_is_accepted_as_the_contract_says(deployment, publish):
    answer = publish(load_event("api_publish_event.json"))

    assert answer["statusCode"] == 202
    body = json.loads(answer["body"])
    assert body["status"] == "SUCCESS"
    assert body["message"] == "Event published successfully"
    assert body["event_id"]


@pytest.mark.parametrize(
    ("sample", "fields"),
    [
        ("api_publish_notification_invalid.json", {"recipientId", "type"}),
        ("api_publish_event_invalid.json", {"event_type", "payload.parent_id"}),
        ("api_publish_event_bad_json.json", {"body"}),
    ],
)
def test_bad_input_gets_a_400_naming_each_field_and_publishes_nothing(deployment, publish, sample, fields):
    answer = publish(load_event(sample))

    assert answer["statusCode"] == 400
    body = json.loads(answer["body"])
    assert {f["field"] for f in body["fields"]} == fields
    assert all(f["reason"] for f in body["fields"])
    assert queued_anywhere(deployment) == 0


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"type": "sms", "to": "0044 1234"}, "to", "E.164"),
        ({"type": "email", "to": "not-an-address"}, "to", "e-mail"),
        ({"type": "sms", "messageBody": "x" * 1601}, "messageBody", "1600"),
        ({"type": "sms", "subject": "Hi"}, "subject", "only e-mail"),
        ({"type": "push", "title": "Hi"}, "title", "only in-app"),
        ({"type": "email", "data": {"order_id": "1"}}, "data", "only in-app"),
        ({"type": "inapp", "to": "user-123"}, "to", "inbox"),
        ({"type": "inapp", "title": "x" * 201}, "title", "200"),
        ({"type": "inapp", "messageBody": "x" * 2001}, "messageBody", "2000"),
        ({"priority": "urgent"}, "priority", "critical"),
        ({"recipientId": "user 123"}, "recipientId", "pattern"),
        ({"messageBody": ""}, "messageBody", "at least 1"),
        ({"colour": "red"}, "colour", "unknown field"),
    ],
)
def test_each_invalid_field_is_named_with_its_reason(deployment, publish, body, field, reason):
    request = {"recipientId": "user-123", "type": "email", "messageBody": "Hello"} | body

    answer = publish(api_event("POST", "/api/v1/notifications/publish", body=request))

    assert answer["statusCode"] == 400
    problems = {f["field"]: f["reason"] for f in json.loads(answer["body"])["fields"]}
    assert list(problems) == [field]
    assert reason in problems[field]
    assert queued_anywhere(deployment) == 0


def test_the_status_of_a_published_event_is_accepted_per_channel(deployment, publish):
    accepted = publish(load_event("api_publish_event.json"))
    event_id = json.loads(accepted["body"])["event_id"]

    answer = publish(
        api_event(
            "GET", f"/event/{event_id}", resource="/event/{event_id}", path_parameters={"event_id": event_id}
        )
    )

    assert answer["statusCode"] == 200
    body = json.loads(answer["body"])
    assert body["event_id"] == event_id
    assert body["recipient_id"] == "user_12345"
    assert body["priority"] == "critical"
    assert {ch: s["status"] for ch, s in body["channels"].items()} == {
        "push": "ACCEPTED",
        "inapp": "ACCEPTED",
    }


def test_the_status_of_an_unknown_event_is_a_404(deployment, publish):
    answer = publish(load_event("api_get_event_status.json"))

    assert answer["statusCode"] == 404
    assert json.loads(answer["body"])["error"] == "not_found"


def test_when_sns_refuses_the_api_answers_503_and_records_nothing(deployment, publish):
    boto3.client("sns").delete_topic(TopicArn=deployment.output("TopicArn"))

    answer = publish(load_event("api_publish_event.json"))

    assert answer["statusCode"] == 503
    assert answer["multiValueHeaders"]["Retry-After"] == ["1"]
    body = json.loads(answer["body"])
    assert (body["error"], body["retryable"]) == ("unavailable", True)
    table = deployment.output("StatusTableName")
    assert boto3.client("dynamodb").scan(TableName=table)["Count"] == 0


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (
            "/event",
            {
                "user_id": "user_12345",
                "event_type": "LIKE",
                "payload": {
                    "parent_id": "post_1",
                    "parent_type": "post",
                    "timestamp": "2026-11-21T10:00:00Z",
                    # each field within the payload's bounds, together over SNS's 256 KiB
                    **{f"note{i}": ["x" * 300] * 32 for i in range(28)},
                },
            },
            "payload",
        ),
        # 100,000 characters are allowed, but these take 4 bytes each in the message
        (
            "/api/v1/notifications/publish",
            {"recipientId": "user-123", "type": "email", "messageBody": "📦" * 100_000},
            "messageBody",
        ),
    ],
)
def test_a_request_too_large_for_sns_is_a_400_naming_the_field_not_a_503_to_retry(
    deployment, publish, path, body, field
):
    # UTF-8 as clients send it, within the API's MaxRequestBytes (1 MiB) but not SNS's 256 KiB
    answer = publish(api_event("POST", path, body=json.dumps(body, ensure_ascii=False)))

    assert answer["statusCode"] == 400
    problem = json.loads(answer["body"])
    assert problem["retryable"] is False
    [named] = problem["fields"]
    assert named["field"] == field
    assert "262144" in named["reason"]
    assert queued_anywhere(deployment) == 0
