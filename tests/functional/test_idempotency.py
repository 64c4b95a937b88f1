"""The Idempotency-Key header of the API's POSTs, through the publish handler against moto."""

from __future__ import annotations

import copy
import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from devstack.lambda_events import LambdaContext, api_event, load_event
from functions.publish import app
from notifier.platform.clients import sns_client
from tests.functional.conftest import receive_all

QUEUES = [f"{c}{p}Queue" for c in ("Email", "Sms", "Push") for p in ("Critical", "Standard")]
EVENT = {
    "user_id": "user_12345",
    "event_type": "SHARE",
    "payload": {"parent_id": "post_67890", "parent_type": "post", "timestamp": "2023-10-15T12:34:56Z"},
}
NOTIFICATION = {"recipientId": "user-123", "type": "email", "messageBody": "Order shipped"}


def with_key(key: str, *, path: str = "/event", body: Any = None, api_key_id: str | None = None) -> dict:
    """A POST carrying an Idempotency-Key, as a new request (its own request id)."""
    event = api_event("POST", path, body=EVENT if body is None else body, headers={"Idempotency-Key": key})
    if api_key_id is not None:
        event["requestContext"]["identity"]["apiKeyId"] = api_key_id
    return event


def again(event: dict) -> dict:
    """The same HTTP request sent again: API Gateway gives it a new request id."""
    retry = copy.deepcopy(event)
    retry["requestContext"]["requestId"] = str(uuid.uuid4())
    return retry


def notifications_queued(deployment) -> list[str]:
    """The notification id of every message now on a queue (a multi-channel one once per queue)."""
    return [
        json.loads(record["body"])["notification_id"]
        for queue in QUEUES
        for record in receive_all(deployment, queue)
    ]


def body_of(answer: dict) -> dict:
    return json.loads(answer["body"])


def header(answer: dict, name: str) -> str | None:
    """A header of the answer (a REST proxy answer carries them in multiValueHeaders)."""
    values = (answer.get("multiValueHeaders") or {}).get(name) or []
    return values[0] if values else (answer.get("headers") or {}).get(name)


def test_a_replay_gets_the_first_answer_marked_replayed_and_publishes_nothing(deployment, publish):
    request = load_event("api_publish_event_idempotent.json")
    first = publish(request)

    replay = publish(again(request))

    assert first["statusCode"] == replay["statusCode"] == 202
    assert replay["body"] == first["body"]
    assert header(replay, "Idempotent-Replayed") == "true"
    assert header(first, "Idempotent-Replayed") is None
    assert notifications_queued(deployment) == [body_of(first)["event_id"]]


def test_a_replay_of_a_notification_gets_the_same_notification_id(deployment, publish):
    first = publish(with_key("order-4711", path="/api/v1/notifications/publish", body=NOTIFICATION))

    replay = publish(with_key("order-4711", path="/api/v1/notifications/publish", body=NOTIFICATION))

    assert replay["statusCode"] == 202
    assert body_of(replay) == body_of(first)
    assert notifications_queued(deployment) == [body_of(first)["notificationId"]]


def test_the_same_body_formatted_differently_is_the_same_request(deployment, publish):
    first = publish(with_key("k-1", body=EVENT))
    reordered = json.dumps(dict(reversed(list(EVENT.items()))), indent=4)
    explicit_default = {**EVENT, "payload": {**EVENT["payload"], "priority": None}}

    replays = [publish(with_key("k-1", body=reordered)), publish(with_key("k-1", body=explicit_default))]

    assert [r["statusCode"] for r in replays] == [202, 202]
    assert all(r["body"] == first["body"] for r in replays)
    assert len(notifications_queued(deployment)) == 1


def test_the_same_key_with_a_different_body_is_a_422_and_publishes_nothing_more(deployment, publish):
    first = publish(with_key("k-2", body=EVENT))
    other = {**EVENT, "event_type": "POST"}

    answer = publish(with_key("k-2", body=other))

    assert answer["statusCode"] == 422
    body = body_of(answer)
    assert body["error"] == "idempotency_key_reused"
    assert "different request body" in body["message"]
    assert body["retryable"] is False
    assert notifications_queued(deployment) == [body_of(first)["event_id"]]


def test_a_key_is_scoped_by_route(deployment, publish):
    event = publish(with_key("shared-key", path="/event", body=EVENT))
    notification = publish(with_key("shared-key", path="/api/v1/notifications/publish", body=NOTIFICATION))

    assert event["statusCode"] == notification["statusCode"] == 202
    assert header(notification, "Idempotent-Replayed") is None
    assert len(notifications_queued(deployment)) == 2


def test_a_key_is_scoped_by_caller(deployment, publish):
    mine = publish(with_key("shared-key", api_key_id="key-of-team-a"))

    theirs = publish(with_key("shared-key", api_key_id="key-of-team-b"))

    assert theirs["statusCode"] == 202
    assert body_of(theirs)["event_id"] != body_of(mine)["event_id"]
    assert len(notifications_queued(deployment)) == 2


def test_requests_without_a_key_are_each_published(deployment, publish):
    first = publish(api_event("POST", "/event", body=EVENT))

    second = publish(api_event("POST", "/event", body=EVENT))

    assert body_of(first)["event_id"] != body_of(second)["event_id"]
    assert header(second, "Idempotent-Replayed") is None
    assert len(notifications_queued(deployment)) == 2


@pytest.mark.parametrize(
    "key",
    ["", "k" * 256, "clé-1", "line\nbreak", "tab\tkey", " leading-space", "trailing-space "],
    ids=["empty", "256 characters", "not ASCII", "newline", "tab", "leading space", "trailing space"],
)
def test_an_invalid_key_is_a_400_naming_the_header_and_publishes_nothing(deployment, publish, key):
    answer = publish(with_key(key))

    assert answer["statusCode"] == 400
    [problem] = body_of(answer)["fields"]
    assert problem["field"] == "Idempotency-Key"
    assert "printable ASCII" in problem["reason"]
    assert notifications_queued(deployment) == []


def test_the_longest_key_and_inner_spaces_are_accepted(deployment, publish):
    answers = [publish(with_key("k" * 255)), publish(with_key("order 4711 / try 1"))]

    assert [a["statusCode"] for a in answers] == [202, 202]


def test_two_keys_in_one_request_is_a_400(deployment, publish):
    request = with_key("first")
    request["multiValueHeaders"]["Idempotency-Key"] = ["first", "second"]

    answer = publish(request)

    assert answer["statusCode"] == 400
    assert body_of(answer)["fields"] == [
        {"field": "Idempotency-Key", "reason": "sent more than once; send it once"}
    ]


def test_a_bad_key_and_a_bad_body_are_named_together(deployment, publish):
    answer = publish(with_key("", body={**EVENT, "event_type": "POKE"}))

    assert answer["statusCode"] == 400
    assert {f["field"] for f in body_of(answer)["fields"]} == {"Idempotency-Key", "event_type"}


def test_the_same_key_while_the_first_request_is_in_flight_is_a_409_with_retry_after(deployment, publish):
    # Given a first request held inside its SNS call
    inside, release = threading.Event(), threading.Event()

    def hold_the_first_publish(**_: Any) -> None:
        if not inside.is_set():
            inside.set()
            release.wait(10)

    sns_client().meta.events.register("before-call.sns.Publish", hold_the_first_publish)
    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(publish, with_key("k-3"))
        assert inside.wait(10)

        # When the same request arrives
        try:
            second = publish(with_key("k-3"))
        finally:
            release.set()

        # Then it is told to come back, and the first one completes
        assert second["statusCode"] == 409
        assert header(second, "Retry-After") == "1"
        body = body_of(second)
        assert body["error"] == "idempotency_key_in_use"
        assert body["retryable"] is True
        assert first.result(10)["statusCode"] == 202
    assert len(notifications_queued(deployment)) == 1


def test_a_request_that_failed_with_503_is_not_remembered(deployment, publish):
    # Given SNS failing once
    with Stubber(sns_client()) as sns:
        sns.add_client_error("publish", service_error_code="InternalError", http_status_code=500)
        failed = publish(with_key("k-5"))

    # When the client retries with the same key
    retry = publish(with_key("k-5"))

    # Then the retry is published, not answered the 503 again
    assert failed["statusCode"] == 503
    assert body_of(failed)["retryable"] is True
    assert retry["statusCode"] == 202
    assert header(retry, "Idempotent-Replayed") is None
    assert notifications_queued(deployment) == [body_of(retry)["event_id"]]


def test_a_crashed_request_frees_its_key_when_its_invocation_would_have_timed_out(deployment):
    # Given a request whose invocation stopped inside its SNS call, 0.1 s before its timeout
    def stop_the_runtime(**_: Any) -> None:
        raise SystemExit("Lambda stopped the invocation")

    sns_client().meta.events.register("before-call.sns.Publish", stop_the_runtime)
    with pytest.raises(SystemExit):
        app.lambda_handler(with_key("k-6"), LambdaContext(function_name="publish", remaining_ms=100))
    sns_client().meta.events.unregister("before-call.sns.Publish", stop_the_runtime)

    # When the client retries once that invocation's time is up
    time.sleep(0.2)
    retry = app.lambda_handler(with_key("k-6"), LambdaContext(function_name="publish"))

    # Then the retry runs
    assert retry["statusCode"] == 202
    assert notifications_queued(deployment) == [body_of(retry)["event_id"]]


def test_an_unavailable_idempotency_table_is_a_503_and_publishes_nothing(deployment, publish):
    boto3.client("dynamodb").delete_table(TableName=deployment.output("IdempotencyTableName"))

    answer = publish(with_key("k-7"))

    assert answer["statusCode"] == 503
    assert header(answer, "Retry-After") == "1"
    body = body_of(answer)
    assert (body["error"], body["retryable"]) == ("unavailable", True)
    assert notifications_queued(deployment) == []


def test_a_request_without_a_key_does_not_need_the_idempotency_table(deployment, publish):
    boto3.client("dynamodb").delete_table(TableName=deployment.output("IdempotencyTableName"))

    answer = publish(load_event("api_publish_event.json"))

    assert answer["statusCode"] == 202


def test_a_key_is_remembered_for_the_idempotency_window(deployment, publish):
    publish(with_key("k-8"))

    [record] = boto3.client("dynamodb").scan(TableName=deployment.output("IdempotencyTableName"))["Items"]

    window = 24 * 3600  # IDEMPOTENCY_WINDOW_HOURS' default in the template
    assert abs(int(record["expiration"]["N"]) - (time.time() + window)) < 60
    assert record["status"]["S"] == "COMPLETED"
    assert "k-8" not in record["id"]["S"]  # stored as a hash of caller, route and key


def test_a_key_older_than_the_window_is_a_new_request(deployment, publish):
    # Given a key whose window has passed
    first = publish(with_key("k-9"))
    table = deployment.output("IdempotencyTableName")
    dynamodb = boto3.client("dynamodb")
    [record] = dynamodb.scan(TableName=table)["Items"]
    dynamodb.update_item(
        TableName=table,
        Key={"id": record["id"]},
        UpdateExpression="SET expiration = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )

    # When it is sent again
    again_later = publish(with_key("k-9"))

    # Then it is published again
    assert again_later["statusCode"] == 202
    assert body_of(again_later)["event_id"] != body_of(first)["event_id"]
    assert len(notifications_queued(deployment)) == 2
