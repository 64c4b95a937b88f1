"""The local stack's SQS event source acts on a function's answer as Lambda does (moto queues)."""

from __future__ import annotations

import time

import boto3
import pytest

from devstack.event_sources import LOOK_STEP_SECONDS, SqsPoller
from devstack.lambda_runtime import InvocationError
from devstack.provision import SqsEventSource


class ScriptedFunction:
    """Answers each invocation with `answer(records)`."""

    def __init__(self, answer):
        self.answer = answer
        self.batches: list[list[dict]] = []

    def invoke(self, event):
        self.batches.append(event["Records"])
        return self.answer(event["Records"])


@pytest.fixture
def queue(deployment):
    return next(s for s in deployment.sqs_sources if s.queue_logical_id == "EmailStandardQueue")


def run_once(source: SqsEventSource, function, bodies: list[str], *, batch_size=10, window=0):
    sqs = boto3.client("sqs")
    for body in bodies:
        sqs.send_message(QueueUrl=source.queue_url, MessageBody=body)
    source = SqsEventSource(
        **{**source.__dict__, "batch_size": batch_size, "batching_window_seconds": window}
    )
    poller = SqsPoller(source, function, sqs, region="us-east-1", long_poll_seconds=1)  # a prompt stop()
    poller.start()
    deadline = time.monotonic() + 10
    while poller.stats.records < len(bodies) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)
    poller.stop()
    left = sqs.get_queue_attributes(
        QueueUrl=source.queue_url,
        AttributeNames=["ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessages"],
    )["Attributes"]
    return poller, int(left["ApproximateNumberOfMessagesNotVisible"]) + int(
        left["ApproximateNumberOfMessages"]
    )


def test_listed_failures_stay_and_the_rest_are_deleted(queue):
    function = ScriptedFunction(
        lambda records: {"batchItemFailures": [{"itemIdentifier": records[0]["messageId"]}]}
    )

    poller, left = run_once(queue, function, ["a", "b", "c"])

    assert [len(b) for b in function.batches] == [3]
    assert (poller.stats.deleted, left) == (2, 1)


def test_an_answer_naming_an_unknown_message_fails_the_whole_batch(queue):
    function = ScriptedFunction(
        lambda records: {"batchItemFailures": [{"itemIdentifier": "not-in-this-batch"}]}
    )

    poller, left = run_once(queue, function, ["a", "b"])

    assert (poller.stats.deleted, poller.stats.failed_batches, left) == (0, 1, 2)


def test_a_raised_error_fails_the_whole_batch(queue):
    def crash(records):
        raise InvocationError("crashed")

    poller, left = run_once(queue, ScriptedFunction(crash), ["a", "b"])

    assert (poller.stats.deleted, left) == (0, 2)


def test_more_than_ten_records_are_gathered_into_one_batch_within_the_window(queue):
    function = ScriptedFunction(lambda records: {"batchItemFailures": []})

    poller, left = run_once(queue, function, [str(i) for i in range(25)], batch_size=25, window=1)

    assert [len(b) for b in function.batches] == [25]
    assert (poller.stats.deleted, left) == (25, 0)
    record = function.batches[0][0]
    assert {
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfBody",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    } <= set(record)
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert "SentTimestamp" in record["attributes"]


def test_a_stop_leaves_a_waiting_receive_and_what_it_gets_goes_back_to_the_queue_at_once(queue):
    """As the local stack stops: its pollers' 20 s receives are not waited for, and a message one of
    them receives after the stop is neither handed to the function nor held for its visibility timeout."""
    sqs = boto3.client("sqs")
    function = ScriptedFunction(lambda records: None)
    poller = SqsPoller(queue, function, sqs, region="us-east-1")
    poller.start()
    time.sleep(0.3)  # each poller in its receive, waiting up to 20 s

    started = time.monotonic()
    poller.stop(wait_for_receives=False)
    stopped_in = time.monotonic() - started
    sqs.send_message(QueueUrl=queue.queue_url, MessageBody="sent after the stop")
    deadline = time.monotonic() + 10
    while poller.receiving and time.monotonic() < deadline:
        time.sleep(0.05)

    assert stopped_in < 1
    assert not poller.receiving
    assert function.batches == []
    [message] = sqs.receive_message(
        QueueUrl=queue.queue_url, MessageSystemAttributeNames=["ApproximateReceiveCount"]
    )["Messages"]
    assert message["Body"] == "sent after the stop"
    assert message["Attributes"]["ApproximateReceiveCount"] == "2"  # the late receive, then this one


class RecordingQueue:
    """An SQS client whose queue stays empty: each long poll answers at once with nothing, after
    recording when it came."""

    def __init__(self) -> None:
        self.polls: list[float] = []

    def receive_message(self, **_: object) -> dict:
        self.polls.append(time.time())
        time.sleep(0.01)
        return {}


def test_the_pollers_of_a_queue_look_at_it_in_turn_through_each_step(queue):
    sqs = RecordingQueue()
    source = SqsEventSource(**{**queue.__dict__, "batching_window_seconds": 0})
    poller = SqsPoller(source, ScriptedFunction(lambda records: None), sqs, region="us-east-1", pollers=2)
    poller.start()
    time.sleep(1.0)
    poller.stop()

    step = LOOK_STEP_SECONDS
    offsets = sorted((at % step) / step for at in sqs.polls)  # where in its step each poll began
    assert len(sqs.polls) >= 15  # both pollers, each about once a step
    early = [o for o in offsets if o < 0.3 or o > 0.9]
    half = [o for o in offsets if 0.4 < o < 0.8]
    # At the step's start or half a step in (a thread woken late on a busy machine aside); spread
    # evenly, a fifth of the polls would fall outside both.
    assert len(early) + len(half) >= 0.9 * len(offsets)
    assert min(len(early), len(half)) >= 5
