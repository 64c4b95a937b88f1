"""Every line a consumer logs names the correlation id of what it is about, as the Logger writes it."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from devstack.lambda_events import record_of, sqs_event
from notifier import vendors
from notifier.models.channels import Channel
from notifier.platform.logs import logger
from notifier.providers import Delivery, Outbox, SandboxProvider
from notifier.stores.recipients import RecipientStore
from tests.factories import email_envelope

Lines = Callable[[], list[dict[str, Any]]]
BOOM = "boom@example.com"


@pytest.fixture
def lines() -> Iterator[Lines]:
    """The JSON lines the Logger writes from now on, as it writes them (its own handler and formatter)."""
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    handler.setStream(previous)


@pytest.fixture
def queue_arn(deployment) -> str:
    return str(deployment.stack.attrs[("EmailStandardQueue", "Arn")])


def body(correlation_id: str, address: str, notification_id: str | None = None) -> tuple[str, str]:
    """An envelope for the e-mail channel, and its notification id."""
    envelope = email_envelope(address, correlation_id=correlation_id, notification_id=notification_id)
    return envelope.model_dump_json(), envelope.notification_id


def with_correlation_attribute(record: dict[str, Any], correlation_id: str) -> dict[str, Any]:
    """The record with the message attribute the publisher sets (SNS raw delivery passes it on)."""
    record["messageAttributes"]["correlation_id"] = {
        "stringValue": correlation_id,
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    return record


def assert_every_line_names_its_correlation(
    written: list[dict[str, Any]], correlation_of: dict[str, str], batch: list[str]
) -> None:
    assert written
    for line in written:
        assert "correlation_id" in line or "correlation_ids" in line, line
        if "notification_id" in line:
            assert line.get("correlation_id") == correlation_of[line["notification_id"]], line
            assert "correlation_ids" not in line, line
        elif "correlation_ids" in line:
            assert line["correlation_ids"] == sorted(batch), line


def test_every_line_of_a_batch_names_the_correlation_id_of_what_it_is_about(
    deployment, consumers, queue_arn, lines
):
    first, second, malformed, not_json = (f"corr-{name}-{uuid.uuid4()}" for name in "abcd")
    throttled, throttled_id = body(first, "throttle@simulator.sandbox")
    delivered, delivered_id = body(second, "someone@example.com")
    malformed_id = str(uuid.uuid4())
    records = [
        record_of(throttled, queue_arn=queue_arn),
        record_of(delivered, queue_arn=queue_arn),
        # JSON, with its ids, but not an envelope
        record_of(
            json.dumps({"schema_version": 1, "notification_id": malformed_id, "correlation_id": malformed}),
            queue_arn=queue_arn,
        ),
        # not even JSON: its correlation id comes from its message attributes
        with_correlation_attribute(record_of("not json", queue_arn=queue_arn), not_json),
    ]
    logger.set_correlation_id("an-api-request")  # a global id, as the publish function sets
    try:
        answer = consumers["email"](sqs_event(records))
    finally:
        logger.remove_keys(["correlation_id"])

    assert len(answer["batchItemFailures"]) == 3
    written = lines()
    correlation_of = {throttled_id: first, delivered_id: second, malformed_id: malformed}
    assert_every_line_names_its_correlation(written, correlation_of, [first, second, malformed, not_json])
    assert all(line.get("correlation_id") != "an-api-request" for line in written)
    failures = {
        line["sqs_message_id"]: line.get("correlation_id")
        for line in written
        if line["message"].startswith("Record processing exception")
    }
    assert failures == {
        records[0]["messageId"]: first,
        records[2]["messageId"]: malformed,
        records[3]["messageId"]: not_json,
    }
    # the lines about the records' backoff (moto refuses the sample receipt handles) are the batch's
    backoff = [line for line in written if "backoff" in line["message"]]
    assert backoff
    assert all(line["correlation_ids"] == sorted([first, second, malformed, not_json]) for line in backoff)
    sent = [line for line in written if line["message"] == "notification sent"]
    assert [(line["notification_id"], line["correlation_id"]) for line in sent] == [(delivered_id, second)]


def test_a_batch_of_one_correlation_id_names_it_on_its_own_lines_too(deployment, consumers, queue_arn, lines):
    correlation = f"corr-{uuid.uuid4()}"
    # two notifications of one request, both failing for now
    records = [
        record_of(body(correlation, "throttle@simulator.sandbox")[0], queue_arn=queue_arn) for _ in range(2)
    ]

    consumers["email"](sqs_event(records))

    written = lines()
    assert written
    assert all(line["correlation_id"] == correlation for line in written)
    batch_lines = [line for line in written if "notification_id" not in line and "sqs_message_id" not in line]
    assert batch_lines
    assert all(line["correlation_ids"] == [correlation] for line in batch_lines)


class Exploding(SandboxProvider):
    """The sandbox, but an SDK error nobody classified for BOOM."""

    def send(self, delivery: Delivery) -> str:
        if delivery.address == BOOM:
            raise RuntimeError("the SDK fell over")
        return super().send(delivery)


def test_the_providers_lines_name_the_message_they_are_about(deployment, consumers, queue_arn, lines):
    vendors.use_provider(Channel.EMAIL, Exploding(Channel.EMAIL, Outbox()))
    exploding, exploding_id = body("corr-exploding", BOOM)
    fine, fine_id = body("corr-fine", "someone@example.com")

    consumers["email"](
        sqs_event([record_of(exploding, queue_arn=queue_arn), record_of(fine, queue_arn=queue_arn)])
    )

    written = lines()
    assert_every_line_names_its_correlation(
        written, {exploding_id: "corr-exploding", fine_id: "corr-fine"}, ["corr-exploding", "corr-fine"]
    )
    [unexpected] = [
        line for line in written if line["message"].startswith("unexpected error from the provider")
    ]
    assert (unexpected["notification_id"], unexpected["correlation_id"]) == (exploding_id, "corr-exploding")


def test_a_failure_of_the_whole_batch_names_every_correlation_id_of_it(
    deployment, consumers, queue_arn, lines, monkeypatch
):
    def unavailable(self: RecipientStore, recipient_ids: Any) -> Any:
        raise RuntimeError("DynamoDB is unwell")

    monkeypatch.setattr(RecipientStore, "get_many", unavailable)
    one, one_id = body("corr-one", "someone@example.com")
    two, two_id = body("corr-two", "someone@example.com")

    answer = consumers["email"](
        sqs_event([record_of(one, queue_arn=queue_arn), record_of(two, queue_arn=queue_arn)])
    )

    assert len(answer["batchItemFailures"]) == 2
    written = lines()
    assert_every_line_names_its_correlation(
        written, {one_id: "corr-one", two_id: "corr-two"}, ["corr-one", "corr-two"]
    )
    [unread] = [
        line for line in written if line["message"].startswith("could not read the batch's recipients")
    ]
    assert unread["correlation_ids"] == ["corr-one", "corr-two"]
    assert "correlation_id" not in unread


def test_no_key_is_left_for_the_next_invocation(deployment, consumers, queue_arn, lines):
    consumers["email"](
        sqs_event(
            [
                record_of(body("corr-before-1", "throttle@simulator.sandbox")[0], queue_arn=queue_arn),
                record_of(body("corr-before-2", "someone@example.com")[0], queue_arn=queue_arn),
            ]
        )
    )
    assert logger.thread_safe_get_current_keys() == {}
    before = len(lines())

    after, after_id = body("corr-after", "someone@example.com")
    records = [record_of(after, queue_arn=queue_arn), record_of(after, queue_arn=queue_arn)]  # two copies
    consumers["email"](sqs_event(records))

    written = lines()[before:]
    assert written
    assert not any("corr-before" in json.dumps(line) for line in written)
    assert all(line.get("correlation_id") == "corr-after" for line in written)
    assert {line.get("notification_id") for line in written} <= {after_id, None}
    assert logger.thread_safe_get_current_keys() == {}
