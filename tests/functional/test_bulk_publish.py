"""`POST /events/bulk`: up to 100 events in one request, published with SNS PublishBatch."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from devstack.lambda_events import api_event, load_event
from notifier.platform.clients import sns_client
from tests.functional.conftest import receive_all

QUEUES = [f"{c}{p}Queue" for c in ("Email", "Sms", "Push") for p in ("Critical", "Standard")]
REFUSED = "user-refused"
THROTTLED = "user-throttled"


class UnreliableSns:
    """moto's SNS behind the publish function's client, failing PublishBatch as SNS can.

    An entry for a recipient in `refused` (REFUSED) is answered Failed (InternalError, not the
    sender's fault) and never reaches the topic; its neighbours do. A call with an entry for a
    recipient in `throttled` (THROTTLED) fails as a whole (Throttled) and publishes nothing. Every
    other call goes to moto unchanged. `calls` holds each call's entry count.
    """

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.refused = {REFUSED}
        self.throttled = {THROTTLED}
        events = sns_client().meta.events
        events.register("provide-client-params.sns.PublishBatch", self._choose)
        events.register("before-call.sns.PublishBatch", self._answer_without_sns)
        events.register("after-call.sns.PublishBatch", self._add_refused)

    def _choose(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> dict[str, Any] | None:
        entries = params["PublishBatchRequestEntries"]
        self.calls.append(len(entries))
        recipients = [json.loads(entry["Message"])["recipient_id"] for entry in entries]
        if self.throttled.intersection(recipients):
            context["sns_answer"] = ({"Code": "Throttled", "Message": "Rate exceeded"}, 400)
            return None
        refused = [e for e, recipient in zip(entries, recipients, strict=True) if recipient in self.refused]
        context["refused"] = [
            {"Id": e["Id"], "Code": "InternalError", "Message": "try again", "SenderFault": False}
            for e in refused
        ]
        kept = [e for e in entries if e not in refused]
        if not kept:
            context["sns_answer"] = ({"Successful": [], "Failed": context.pop("refused")}, 200)
            return None
        return {**params, "PublishBatchRequestEntries": kept}

    @staticmethod
    def _answer_without_sns(context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if "sns_answer" not in context:
            return None
        answer, status = context["sns_answer"]
        parsed = {"Error": answer} if status >= 300 else answer
        return AWSResponse(None, status, {}, None), {**parsed, "ResponseMetadata": {"HTTPStatusCode": status}}

    @staticmethod
    def _add_refused(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if context.get("refused"):
            parsed.setdefault("Failed", []).extend(context["refused"])


@pytest.fixture
def sns(deployment) -> UnreliableSns:
    return UnreliableSns()


def event(n: int, user_id: str = "user_12345", **payload: Any) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "event_type": "SHARE",
        "payload": {"parent_id": f"post_{n}", "parent_type": "post", "timestamp": "2026-11-21T10:00:00Z"}
        | payload,
    }


def padding(chars: int) -> dict[str, Any]:
    """Payload fields of about `chars` characters in all, each within a payload value's bounds."""
    return {f"note{i}": ["x" * 1000] * 32 for i in range(chars // 32_000)} | {"rest": "x" * (chars % 1000)}


def bulk(events: list[dict[str, Any]], *, key: str | None = None) -> dict[str, Any]:
    headers = {"Idempotency-Key": key} if key else None
    return api_event("POST", "/events/bulk", body={"events": events}, headers=headers)


def body_of(answer: dict) -> dict:
    return json.loads(answer["body"])


def header(answer: dict, name: str) -> str | None:
    values = (answer.get("multiValueHeaders") or {}).get(name) or []
    return values[0] if values else (answer.get("headers") or {}).get(name)


def queued(deployment) -> list[dict[str, Any]]:
    """Every message now on a queue, as Lambda records."""
    return [record for queue in QUEUES for record in receive_all(deployment, queue)]


def queued_ids(deployment) -> set[str]:
    return {json.loads(record["body"])["notification_id"] for record in queued(deployment)}


def accepted_ids(deployment) -> set[str]:
    """Notification ids whose status is ACCEPTED."""
    items = boto3.client("dynamodb").scan(TableName=deployment.output("StatusTableName"))["Items"]
    return {item["notification_id"]["S"] for item in items if item["status"]["S"] == "ACCEPTED"}


def status_rows(deployment) -> int:
    return boto3.client("dynamodb").scan(TableName=deployment.output("StatusTableName"))["Count"]


def test_the_sample_bulk_is_accepted_with_one_result_per_event(deployment, publish):
    answer = publish(load_event("api_publish_events_bulk.json"))

    assert answer["statusCode"] == 202
    body = body_of(answer)
    assert (body["accepted"], body["failed"]) == (3, 0)
    assert [(r["index"], r["status"]) for r in body["results"]] == [
        (0, "SUCCESS"),
        (1, "SUCCESS"),
        (2, "SUCCESS"),
    ]
    assert all(set(r) == {"index", "event_id", "status"} for r in body["results"])


def test_a_hundred_events_take_ten_publish_batch_calls(deployment, publish, sns):
    answer = publish(bulk([event(n) for n in range(100)]))

    assert answer["statusCode"] == 202
    assert sns.calls == [10] * 10


def test_each_event_of_a_bulk_is_answered_in_request_order(deployment, publish, sns):
    answer = publish(bulk([event(n) for n in range(100)]))

    body = body_of(answer)
    assert (body["accepted"], body["failed"]) == (100, 0)
    assert [r["index"] for r in body["results"]] == list(range(100))
    assert {r["status"] for r in body["results"]} == {"SUCCESS"}
    assert len({r["event_id"] for r in body["results"]}) == 100


def test_every_event_of_a_bulk_is_queued_once_and_accepted(deployment, publish):
    answer = publish(bulk([event(n) for n in range(100)]))

    event_ids = {r["event_id"] for r in body_of(answer)["results"]}
    records = queued(deployment)
    assert len(records) == 100
    assert {json.loads(r["body"])["notification_id"] for r in records} == event_ids
    assert accepted_ids(deployment) == event_ids


def test_a_bulk_event_is_the_message_a_single_publish_sends(deployment, publish):
    single = body_of(publish(load_event("api_publish_event.json")))["event_id"]
    [in_bulk] = [
        r["event_id"]
        for r in body_of(publish(bulk([json.loads(load_event("api_publish_event.json")["body"])])))["results"]
    ]

    records = {
        json.loads(r["body"])["notification_id"]: r for r in receive_all(deployment, "PushCriticalQueue")
    }

    def comparable(record: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        envelope = json.loads(record["body"])
        attributes = {name: a["stringValue"] for name, a in record["messageAttributes"].items()}
        for varying in ("notification_id", "correlation_id", "created_at"):
            envelope.pop(varying)
        attributes.pop("correlation_id")
        return envelope, attributes

    assert set(records) == {single, in_bulk}
    assert comparable(records[in_bulk]) == comparable(records[single])
    assert set(records[in_bulk]["messageAttributes"]) == set(records[single]["messageAttributes"])


def test_entries_sns_refuses_fail_and_are_not_accepted_while_the_others_are(deployment, publish, sns):
    events = [event(n, REFUSED if n in (1, 4) else "user_12345") for n in range(6)]

    answer = publish(bulk(events))

    assert answer["statusCode"] == 207
    body = body_of(answer)
    assert (body["accepted"], body["failed"]) == (4, 2)
    failed = [r for r in body["results"] if r["status"] == "FAILED"]
    assert [(r["index"], r["retryable"]) for r in failed] == [(1, True), (4, True)]
    assert all("InternalError" in r["error"] and "event_id" not in r for r in failed)
    succeeded = {r["event_id"] for r in body["results"] if r["status"] == "SUCCESS"}
    assert accepted_ids(deployment) == succeeded
    assert queued_ids(deployment) == succeeded


def test_a_failing_publish_batch_call_fails_only_its_own_events(deployment, publish, sns):
    # Given 25 events, in calls of 10, 10 and 5, and SNS throttling the call carrying event 12
    events = [event(n, THROTTLED if n == 12 else "user_12345") for n in range(25)]

    answer = publish(bulk(events))

    # Then the ten events of that call failed, retryable, and the fifteen others were published
    assert answer["statusCode"] == 207
    body = body_of(answer)
    assert (body["accepted"], body["failed"]) == (15, 10)
    failed = [r for r in body["results"] if r["status"] == "FAILED"]
    assert [r["index"] for r in failed] == list(range(10, 20))
    assert all(r["retryable"] and "Throttled" in r["error"] for r in failed)
    assert len(accepted_ids(deployment)) == len(queued_ids(deployment)) == 15


def test_when_no_event_is_queued_the_answer_is_503_with_retry_after_and_nothing_is_accepted(
    deployment, publish, sns
):
    answer = publish(bulk([event(n, THROTTLED) for n in range(12)]))

    assert answer["statusCode"] == 503
    assert header(answer, "Retry-After") == "1"
    body = body_of(answer)
    assert (body["error"], body["retryable"], body["accepted"], body["failed"]) == (
        "unavailable",
        True,
        0,
        12,
    )
    assert [r["status"] for r in body["results"]] == ["FAILED"] * 12
    assert status_rows(deployment) == 0
    assert queued(deployment) == []


def test_a_bulk_answered_503_is_not_remembered(deployment, publish, sns):
    # Given a bulk answered 503: SNS refused every event
    request = bulk([event(1, REFUSED), event(2, REFUSED)], key="bulk-1")
    failed = publish(request)

    # When SNS is back and the client retries with the same key
    sns.refused.clear()
    retry = publish(request)

    # Then the retry is published
    assert failed["statusCode"] == 503
    assert retry["statusCode"] == 202
    assert header(retry, "Idempotent-Replayed") is None
    assert queued_ids(deployment) == {r["event_id"] for r in body_of(retry)["results"]}


def test_a_replay_of_a_partly_failed_bulk_gets_its_207_again_and_publishes_nothing(deployment, publish, sns):
    request = bulk([event(0), event(1, REFUSED), event(2)], key="bulk-3")
    first = publish(request)
    replay_request = copy.deepcopy(request)
    replay_request["requestContext"]["requestId"] = str(uuid.uuid4())

    replay = publish(replay_request)

    assert first["statusCode"] == replay["statusCode"] == 207
    assert replay["body"] == first["body"]
    assert header(replay, "Idempotent-Replayed") == "true"
    assert sns.calls == [3]
    assert len(queued_ids(deployment)) == 2


@pytest.mark.parametrize(("count", "reason"), [(101, "at most 100"), (0, "at least 1")])
def test_a_bulk_of_more_than_100_or_no_event_is_a_400_naming_events(deployment, publish, sns, count, reason):
    answer = publish(bulk([event(n) for n in range(count)]))

    assert answer["statusCode"] == 400
    [problem] = body_of(answer)["fields"]
    assert problem["field"] == "events"
    assert reason in problem["reason"]
    assert sns.calls == []


def test_an_invalid_event_is_a_400_naming_its_index_and_field_and_nothing_is_published(
    deployment, publish, sns
):
    events = [event(n) for n in range(5)]
    events[3]["event_type"] = "POKE"
    del events[4]["payload"]["parent_id"]

    answer = publish(bulk(events))

    assert answer["statusCode"] == 400
    fields = {f["field"]: f["reason"] for f in body_of(answer)["fields"]}
    assert set(fields) == {"events.3.event_type", "events.4.payload.parent_id"}
    assert "LIKE" in fields["events.3.event_type"]
    assert sns.calls == []
    assert status_rows(deployment) == 0


def test_an_unknown_field_beside_events_is_a_400(deployment, publish, sns):
    answer = publish(api_event("POST", "/events/bulk", body={"events": [event(1)], "dry_run": True}))

    assert answer["statusCode"] == 400
    assert body_of(answer)["fields"] == [{"field": "dry_run", "reason": "unknown field"}]


def test_events_too_large_for_one_call_together_are_split_by_size(deployment, publish, sns):
    events = [event(n, **padding(32_000)) for n in range(10)]  # ten 32 KB messages: over 256 KiB

    answer = publish(bulk(events))

    assert answer["statusCode"] == 202
    assert len(sns.calls) == 2
    assert sum(sns.calls) == 10


def test_an_event_too_large_for_sns_is_a_400_naming_it_and_nothing_is_published(deployment, publish, sns):
    events = [event(0), event(1, **padding(300_000))]

    answer = publish(bulk(events))

    assert answer["statusCode"] == 400
    [problem] = body_of(answer)["fields"]
    assert problem["field"] == "events.1.payload"
    assert "262144" in problem["reason"]
    assert sns.calls == []
