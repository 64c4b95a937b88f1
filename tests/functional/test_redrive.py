"""`python -m ops.redrive`: a DLQ's messages back to their source queue, against the template's queues.

moto does not implement SQS's message move task, so the move by hand runs against it as it does
against the local stack's emulator; the move task itself is checked with a botocore Stubber.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from devstack.provision import Deployment
from ops.redrive import RedriveError, Target, find_target, main, move_by_hand, redrive

SOURCE = "EmailCriticalQueue"
DLQ = "EmailCriticalDLQ"


@pytest.fixture
def sqs(deployment) -> Any:
    return boto3.client("sqs")


def message(number: int) -> dict[str, Any]:
    """A message as the topic delivers it to a queue (raw delivery): the envelope and its attributes."""
    return {
        "MessageBody": json.dumps({"notification_id": f"n-{number}", "channels": ["email"]}),
        "MessageAttributes": {
            "channel": {"DataType": "String.Array", "StringValue": '["email"]'},
            "priority": {"DataType": "String", "StringValue": "critical"},
            "attempt": {"DataType": "Number", "StringValue": str(number)},
            "signature": {"DataType": "Binary", "BinaryValue": bytes([0, number, 255])},
        },
    }


def dead_letter(deployment: Deployment, sqs: Any, messages: list[dict[str, Any]]) -> None:
    """Each message sent to the source queue and received until its RedrivePolicy moves it to the DLQ."""
    source = deployment.queue_url(SOURCE)
    for entry in messages:
        sqs.send_message(QueueUrl=source, **entry)
    for _ in range(int(deployment.stack.parameters["MaxReceiveCount"]) + 1):
        while sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10, VisibilityTimeout=0).get(
            "Messages"
        ):
            pass
    assert count(sqs, deployment.queue_url(DLQ)) == len(messages)


def count(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Every visible message of a queue, as sent: body and message attributes."""
    found: list[dict[str, Any]] = []
    while batch := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=60
    ).get("Messages", []):
        found += [{"MessageBody": m["Body"], "MessageAttributes": attributes(m)} for m in batch]
    return sorted(found, key=lambda m: m["MessageBody"])


def attributes(received: dict[str, Any]) -> dict[str, Any]:
    return {
        name: {key: value[key] for key in ("DataType", "StringValue", "BinaryValue") if key in value}
        for name, value in received.get("MessageAttributes", {}).items()
    }


def target_of(deployment: Deployment, sqs: Any) -> Target:
    return find_target(sqs, deployment.queue_url(DLQ), deployment.stack.name)


# ---------------------------------------------------------------------------------------- by hand


def test_given_dead_lettered_messages_when_redriven_then_each_is_back_on_its_source_queue_intact(
    deployment, sqs
):
    sent = [message(n) for n in range(13)]
    dead_letter(deployment, sqs, sent)

    status = main(["email-critical"])

    assert status == 0
    assert drain(sqs, deployment.queue_url(SOURCE)) == sorted(sent, key=lambda m: m["MessageBody"])


def test_given_dead_lettered_messages_when_redriven_then_the_dlq_is_empty_and_the_count_printed(
    deployment, sqs, capsys
):
    dead_letter(deployment, sqs, [message(n) for n in range(13)])

    main(["email-critical"])

    assert count(sqs, deployment.queue_url(DLQ)) == 0
    printed = capsys.readouterr().out.splitlines()
    assert "not implemented" in printed[1]
    assert printed[-1].startswith(
        "moved 13 message(s) from notifier-EmailCriticalDLQ to notifier-EmailCriticalQueue"
    )


def test_given_one_send_fails_when_redriven_by_hand_then_that_message_stays_in_the_dlq(
    deployment, sqs, monkeypatch
):
    sent = [message(n) for n in range(5)]
    dead_letter(deployment, sqs, sent)
    poisoned = sent[2]["MessageBody"]
    monkeypatch.setattr(sqs, "send_message_batch", failing_for(sqs.send_message_batch, poisoned))

    outcome = move_by_hand(sqs, target_of(deployment, sqs), out=print, visibility_timeout=0, wait_seconds=0)

    assert (outcome.moved, len(outcome.unsent), outcome.left) == (4, 1, 1)
    assert [m["MessageBody"] for m in drain(sqs, deployment.queue_url(DLQ))] == [poisoned]
    assert poisoned not in [m["MessageBody"] for m in drain(sqs, deployment.queue_url(SOURCE))]


def test_given_one_send_fails_when_redriven_then_the_command_fails_in_one_line(
    deployment, sqs, monkeypatch, capsys
):
    sent = [message(n) for n in range(3)]
    dead_letter(deployment, sqs, sent)
    failing = failing_for(sqs.send_message_batch, sent[0]["MessageBody"])
    monkeypatch.setattr(sqs, "send_message_batch", failing)

    status = main(["email-critical"], client=sqs)

    assert status == 1
    assert capsys.readouterr().err.splitlines() == [
        "redrive: failed: 1 could not be sent and stay in the DLQ (InternalError: injected)"
    ]


def failing_for(send: Callable[..., Any], body: str) -> Callable[..., Any]:
    """SendMessageBatch as SQS answers when one entry fails: the others sent, that one in `Failed`."""

    def send_message_batch(*, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        failed = [e for e in Entries if e["MessageBody"] == body]
        others = [e for e in Entries if e["MessageBody"] != body]
        answer = send(QueueUrl=QueueUrl, Entries=others) if others else {"Successful": []}
        return {
            "Successful": answer["Successful"],
            "Failed": [
                {"Id": e["Id"], "SenderFault": False, "Code": "InternalError", "Message": "injected"}
                for e in failed
            ],
        }

    return send_message_batch


# ---------------------------------------------------------------------------------------- finding the DLQ


@pytest.mark.parametrize(
    "name",
    [
        lambda d: "email-critical",
        lambda d: "EmailCriticalDLQ",
        lambda d: d.queue_url(DLQ),
        lambda d: d.stack.attrs[(DLQ, "Arn")],
    ],
    ids=["friendly", "logical-id", "url", "arn"],
)
def test_given_any_form_of_a_dlq_name_when_found_then_it_is_the_templates_dlq_and_its_source(
    deployment, sqs, name
):
    target = find_target(sqs, name(deployment), "notifier")

    assert target.dlq.arn == deployment.stack.attrs[(DLQ, "Arn")]
    assert [queue.arn for queue in target.sources] == [deployment.stack.attrs[(SOURCE, "Arn")]]


def test_given_an_endpoint_without_list_dead_letter_source_queues_when_found_then_the_redrive_policies_say(
    deployment, sqs, monkeypatch
):
    """MiniStack has no ListDeadLetterSourceQueues: the stack's queues' RedrivePolicy name the sources."""

    def unimplemented(*args: Any, **kwargs: Any) -> Any:
        error = {"Error": {"Code": "InvalidAction", "Message": "not valid for this endpoint"}}
        raise ClientError(error, "ListDeadLetterSourceQueues")

    monkeypatch.setattr(sqs, "list_dead_letter_source_queues", unimplemented)
    monkeypatch.setattr(
        sqs, "get_paginator", _paginator_without_source_queues(sqs.get_paginator, unimplemented)
    )
    target = find_target(sqs, "email-critical", "notifier")

    assert target.dlq.arn == deployment.stack.attrs[(DLQ, "Arn")]
    assert [queue.arn for queue in target.sources] == [deployment.stack.attrs[(SOURCE, "Arn")]]


def _paginator_without_source_queues(get_paginator: Callable[..., Any], failing: Callable[..., Any]) -> Any:
    def paginator(name: str) -> Any:
        if name == "list_dead_letter_source_queues":
            return type("Paginator", (), {"paginate": staticmethod(failing)})()
        return get_paginator(name)

    return paginator


def test_given_an_unknown_name_when_redriven_then_it_is_refused_naming_the_templates_dlqs(deployment, capsys):
    status = main(["email-urgent"])

    assert status == 2
    [error] = capsys.readouterr().err.splitlines()
    assert error.startswith(
        "redrive: error: no queue named notifier-EmailUrgentDLQ or notifier-EmailUrgentDLQ-* "
    )
    assert "email-critical, email-standard, fallback-receipts, inapp-critical, inapp-standard" in error


def test_given_two_queues_with_the_name_when_redriven_then_it_is_refused_as_ambiguous(
    deployment, sqs, capsys
):
    sqs.create_queue(QueueName="notifier-EmailCriticalDLQ-1A2B3C4D5E6F")

    status = main(["email-critical"])

    assert status == 2
    assert capsys.readouterr().err.splitlines() == [
        "redrive: error: 'email-critical' matches 2 queues (notifier-EmailCriticalDLQ, "
        "notifier-EmailCriticalDLQ-1A2B3C4D5E6F); give the queue's URL or ARN"
    ]


def test_given_a_queue_that_is_no_dlq_when_redriven_then_it_is_refused(deployment, capsys):
    status = main(["EmailCriticalQueue"])

    assert status == 2
    [error] = capsys.readouterr().err.splitlines()
    assert error.startswith("redrive: error: notifier-EmailCriticalQueue is not a dead-letter queue")


def test_given_a_dlq_of_another_stack_when_redriven_then_it_is_refused(deployment, capsys):
    status = main(["email-critical", "--stack", "other"])

    assert status == 2
    assert "no queue named other-EmailCriticalDLQ" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------- the move task


@pytest.fixture
def move_task(deployment, sqs) -> tuple[Any, Stubber, Target]:
    """An SQS client whose calls are stubbed (no emulator here implements the move task), and the
    template's DLQ found in moto."""
    target = target_of(deployment, sqs)
    client = boto3.client("sqs")
    stubber = Stubber(client)
    stubber.add_response(
        "get_queue_attributes",
        {"Attributes": {"ApproximateNumberOfMessages": "3"}},
        {"QueueUrl": target.dlq.url, "AttributeNames": ["ApproximateNumberOfMessages"]},
    )
    return client, stubber, target


def task(arn: str, status: str, moved: int, **extra: Any) -> dict[str, Any]:
    return {
        "Results": [
            {
                "SourceArn": arn,
                "Status": status,
                "ApproximateNumberOfMessagesMoved": moved,
                "ApproximateNumberOfMessagesToMove": 3,
                "StartedTimestamp": 1_700_000_000_000,
                **extra,
            }
        ]
    }


def test_given_the_move_task_when_redriven_then_it_is_started_and_waited_for_until_complete(move_task):
    client, stubber, target = move_task
    arn = target.dlq.arn
    stubber.add_response("start_message_move_task", {"TaskHandle": "task-1"}, {"SourceArn": arn})
    listed = {"SourceArn": arn, "MaxResults": 1}
    stubber.add_response("list_message_move_tasks", task(arn, "RUNNING", 1, TaskHandle="task-1"), listed)
    stubber.add_response("list_message_move_tasks", task(arn, "COMPLETED", 3), listed)
    printed: list[str] = []

    with stubber:
        redrive(client, target, out=printed.append, sleep=lambda _: None)

    stubber.assert_no_pending_responses()
    assert printed[-2:] == [
        "  running: about 1 of about 3 moved",
        "moved about 3 message(s) from notifier-EmailCriticalDLQ back to their source queue",
    ]


def test_given_a_rate_when_redriven_by_the_move_task_then_the_task_is_given_that_rate(move_task):
    client, stubber, target = move_task
    stubber.add_response(
        "start_message_move_task",
        {"TaskHandle": "task-1"},
        {"SourceArn": target.dlq.arn, "MaxNumberOfMessagesPerSecond": 20},
    )

    with stubber:
        redrive(client, target, out=print, rate=20, wait=False)

    stubber.assert_no_pending_responses()


def test_given_no_wait_when_redriven_by_the_move_task_then_it_is_started_and_not_polled(move_task, capsys):
    client, stubber, target = move_task
    stubber.add_response("start_message_move_task", {"TaskHandle": "task-1"}, {"SourceArn": target.dlq.arn})

    with stubber:
        redrive(client, target, out=print, wait=False)

    stubber.assert_no_pending_responses()
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"not waiting; follow it with: aws sqs list-message-move-tasks --source-arn {target.dlq.arn}"
    )


def test_given_the_move_task_fails_when_waited_for_then_the_redrive_fails_with_its_reason(move_task):
    client, stubber, target = move_task
    arn = target.dlq.arn
    stubber.add_response("start_message_move_task", {"TaskHandle": "task-1"}, {"SourceArn": arn})
    stubber.add_response(
        "list_message_move_tasks",
        task(arn, "FAILED", 2, FailureReason="AWS.SimpleQueueService.NonExistentQueue"),
        {"SourceArn": arn, "MaxResults": 1},
    )

    with stubber, pytest.raises(RedriveError, match=r"ended FAILED after moving about 2: AWS\.Simple"):
        redrive(client, target, out=print, sleep=lambda _: None)


def test_given_a_deletion_fails_when_the_message_shows_up_again_then_it_is_deleted_not_sent_twice(
    deployment, sqs, monkeypatch
):
    sent = [message(n) for n in range(5)]
    dead_letter(deployment, sqs, sent)
    monkeypatch.setattr(sqs, "delete_message_batch", failing_twice_for_one(sqs.delete_message_batch))

    outcome = move_by_hand(sqs, target_of(deployment, sqs), out=print, visibility_timeout=0, wait_seconds=0)

    assert (outcome.moved, outcome.undeleted, outcome.left) == (5, {}, 0)
    assert drain(sqs, deployment.queue_url(SOURCE)) == sorted(sent, key=lambda m: m["MessageBody"])


def failing_twice_for_one(delete: Callable[..., Any]) -> Callable[..., Any]:
    """DeleteMessageBatch as SQS answers when one entry fails: here the first entry, on the first two
    calls (the immediate retry included); later calls reach the emulator."""
    calls = 0

    def delete_message_batch(*, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        nonlocal calls
        calls += 1
        if calls > 2:
            return delete(QueueUrl=QueueUrl, Entries=Entries)
        first, *others = Entries
        answer = delete(QueueUrl=QueueUrl, Entries=others) if others else {"Successful": []}
        failure = {"Id": first["Id"], "SenderFault": False, "Code": "InternalError", "Message": "injected"}
        return {"Successful": answer["Successful"], "Failed": [failure]}

    return delete_message_batch
